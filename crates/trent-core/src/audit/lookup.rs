//! CloudTrail `LookupEvents` over the stored trail: the query a store
//! answers (one account's events, newest first, at most one lookup
//! attribute, a time range, a position to resume after).

use super::AuditRecord;
use serde_json::Value;

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
    /// At most this many events are decoded for one lookup; a lookup that
    /// has not found `limit` events by then ends its page early, with a
    /// place to resume ([`AuditLookupPage::resume_before`]). What one call
    /// costs is bounded, whatever the trail holds.
    pub budget: usize,
}

/// Events decoded for one `LookupEvents` call, at most.
pub const LOOKUP_BUDGET: usize = 20_000;

/// What a store answers to an [`AuditLookup`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditLookupPage {
    pub records: Vec<AuditRecord>,
    /// Set when the budget ran out first: the lookup resumes with events
    /// older than this seq (everything from it on was searched).
    pub resume_before: Option<i64>,
}

impl AuditLookup {
    /// Whether a stored event (`record`, and its JSON parsed as `event`) is
    /// on this lookup's page: its account, position, time range and
    /// attribute. Pure, so every store answers lookups alike.
    pub fn matches(&self, record: &AuditRecord, event: &Value) -> bool {
        let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
        if text("/recipientAccountId") != Some(self.account.as_str())
            || self.before_seq.is_some_and(|before| record.seq >= before)
            || self.start_ms.is_some_and(|t| record.event_time_ms < t)
            || self.end_ms.is_some_and(|t| record.event_time_ms > t)
        {
            return false;
        }
        let Some((attribute, value)) = &self.attribute else {
            return true;
        };
        let value = value.as_str();
        let resources = || {
            event
                .get("resources")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        match attribute {
            LookupAttribute::EventId => record.event_id == value,
            LookupAttribute::EventName => record.event_name == value,
            LookupAttribute::ReadOnly => {
                event.get("readOnly").and_then(Value::as_bool) == Some(value == "true")
            }
            LookupAttribute::EventSource => text("/eventSource") == Some(value),
            LookupAttribute::AccessKeyId => text("/userIdentity/accessKeyId") == Some(value),
            LookupAttribute::Username => {
                text("/userIdentity/userName") == Some(value)
                    || (text("/userIdentity/type") == Some("Root") && value == "root")
                    || (text("/userIdentity/type") == Some("AssumedRole")
                        && text("/userIdentity/arn").is_some_and(|arn| {
                            arn.strip_suffix(value)
                                .is_some_and(|rest| rest.ends_with('/'))
                        }))
            }
            LookupAttribute::ResourceType => resources()
                .iter()
                .any(|r| r.get("type").and_then(Value::as_str) == Some(value)),
            LookupAttribute::ResourceName => resources()
                .iter()
                .any(|r| r.get("ARN").and_then(Value::as_str) == Some(value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(event: &Value) -> AuditRecord {
        AuditRecord::from_stored(7, event.to_string(), vec![0; 32], vec![1; 32])
    }

    fn lookup(attribute: Option<(LookupAttribute, &str)>) -> AuditLookup {
        AuditLookup {
            account: "111122223333".into(),
            attribute: attribute.map(|(a, v)| (a, v.to_owned())),
            start_ms: None,
            end_ms: None,
            before_seq: None,
            limit: 50,
            budget: LOOKUP_BUDGET,
        }
    }

    #[test]
    fn attributes_account_time_and_position_select_events() {
        let event = json!({
            "eventID": "e-1", "eventName": "Encrypt", "eventSource": "kms.amazonaws.com",
            "eventTime": "2026-11-23T10:00:00Z", "readOnly": true,
            "recipientAccountId": "111122223333",
            "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k",
                           "accountId": "111122223333", "type": "AWS::KMS::Key"}],
            "userIdentity": {"type": "AssumedRole", "accessKeyId": "ASIA1",
                             "arn": "arn:aws:sts::111122223333:assumed-role/admin/alice"}
        });
        let record = stored(&event);
        assert_eq!(record.event_id, "e-1");
        assert_eq!(
            record.key_arn.as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/k")
        );
        let yes = [
            None,
            Some((LookupAttribute::EventId, "e-1")),
            Some((LookupAttribute::EventName, "Encrypt")),
            Some((LookupAttribute::ReadOnly, "true")),
            Some((LookupAttribute::EventSource, "kms.amazonaws.com")),
            Some((LookupAttribute::AccessKeyId, "ASIA1")),
            Some((LookupAttribute::Username, "alice")),
            Some((LookupAttribute::ResourceType, "AWS::KMS::Key")),
            Some((
                LookupAttribute::ResourceName,
                "arn:aws:kms:us-east-1:111122223333:key/k",
            )),
        ];
        for attribute in yes {
            assert!(lookup(attribute).matches(&record, &event), "{attribute:?}");
        }
        let no = [
            Some((LookupAttribute::EventName, "Decrypt")),
            Some((LookupAttribute::ReadOnly, "false")),
            Some((LookupAttribute::Username, "lice")),
            Some((LookupAttribute::Username, "root")),
            Some((LookupAttribute::ResourceName, "arn:other")),
        ];
        for attribute in no {
            assert!(!lookup(attribute).matches(&record, &event), "{attribute:?}");
        }
        let mut other_account = lookup(None);
        other_account.account = "999999999999".into();
        assert!(!other_account.matches(&record, &event));
        let mut later = lookup(None);
        later.start_ms = Some(record.event_time_ms + 1);
        assert!(!later.matches(&record, &event));
        let mut older = lookup(None);
        older.before_seq = Some(7);
        assert!(!older.matches(&record, &event));
    }
}
