//! CloudTrail `LookupEvents` over the stored trail: the query a store
//! answers (one account's events, newest first, at most one lookup
//! attribute, a time range, a position to resume after).

/// CloudTrail's lookup attribute keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupAttribute {
    EventId,
    EventName,
    /// `true` or `false`.
    ReadOnly,
    /// `userIdentity.userName`; `root` for the account root; the session
    /// name for an assumed role.
    Username,
    /// `resources[].type` (`AWS::KMS::Key`).
    ResourceType,
    /// `resources[].ARN`.
    ResourceName,
    EventSource,
    AccessKeyId,
}

impl LookupAttribute {
    pub const ALL: [LookupAttribute; 8] = [
        LookupAttribute::EventId,
        LookupAttribute::EventName,
        LookupAttribute::ReadOnly,
        LookupAttribute::Username,
        LookupAttribute::ResourceType,
        LookupAttribute::ResourceName,
        LookupAttribute::EventSource,
        LookupAttribute::AccessKeyId,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LookupAttribute::EventId => "EventId",
            LookupAttribute::EventName => "EventName",
            LookupAttribute::ReadOnly => "ReadOnly",
            LookupAttribute::Username => "Username",
            LookupAttribute::ResourceType => "ResourceType",
            LookupAttribute::ResourceName => "ResourceName",
            LookupAttribute::EventSource => "EventSource",
            LookupAttribute::AccessKeyId => "AccessKeyId",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// One page of an account's events, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLookup {
    /// Only events recorded for this account (`recipientAccountId`).
    pub account: String,
    pub attribute: Option<(LookupAttribute, String)>,
    /// Events at or after this time (Unix ms)…
    pub start_ms: Option<i64>,
    /// …and at or before this one.
    pub end_ms: Option<i64>,
    /// Only events older than this seq (the previous page's last).
    pub before_seq: Option<i64>,
    pub limit: usize,
}
