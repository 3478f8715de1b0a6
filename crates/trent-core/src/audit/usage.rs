//! The last successful cryptographic operation per key, for
//! `GetKeyLastUsage`: derived by the audit writer from the events it
//! commits (it sees every event and assigns the event ids), and written in
//! the same store transaction as those events. The request path does no
//! extra work for it.

use super::{AuditEvent, EventSource};
use std::collections::HashMap;
use uuid::Uuid;

/// Name (in the store's `meta` table) of the time usage tracking began:
/// Unix milliseconds as decimal text, set once at the first start.
pub const TRACKING_START_META: &str = "key-usage-tracking-start";

/// A key's last successful cryptographic operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub key_id: Uuid,
    /// `Encrypt`, `Decrypt`, … (the model's `KeyLastUsageTrackingOperation`).
    pub operation: String,
    pub time_ms: i64,
    /// The CloudTrail `eventID` of the event that recorded it.
    pub event_id: String,
    /// The `x-amzn-RequestId` of the call.
    pub request_id: Option<String>,
}

/// Whether GetKeyLastUsage tracks an operation (the model's
/// `KeyLastUsageTrackingOperation`).
pub fn is_tracked(name: &str) -> bool {
    !trent_wire::KeyLastUsageTrackingOperation::from(name).is_unknown()
}

/// The key usages of a batch of events, with their seqs (event ids are
/// `id_prefix` and the seq): per key, the latest successful tracked
/// operation (ReEncrypt counts for both keys).
pub fn last_usage<'a>(
    events: impl Iterator<Item = (&'a AuditEvent, i64)>,
    id_prefix: [u8; 8],
) -> Vec<KeyUsage> {
    // Per key, its last event: found first, built once.
    let mut last: HashMap<Uuid, (&AuditEvent, i64), foldhash::fast::FixedState> =
        HashMap::default();
    // Runs of events on one key (the common case under load) parse its ARN
    // once.
    let mut parsed: Option<(&str, Option<Uuid>)> = None;
    for (event, seq) in events {
        if event.source != EventSource::Kms
            || event.error.is_some()
            || event.service_event
            || !is_tracked(&event.name)
        {
            continue;
        }
        for arn in &event.key_arns {
            let key_id = match parsed {
                Some((text, id)) if text == arn => id,
                _ => {
                    let id = arn
                        .rsplit_once(":key/")
                        .and_then(|(_, id)| Uuid::try_parse(id).ok());
                    parsed = Some((arn, id));
                    id
                }
            };
            if let Some(key_id) = key_id {
                last.insert(key_id, (event, seq));
            }
        }
    }
    let mut out: Vec<KeyUsage> = last
        .into_iter()
        .map(|(key_id, (event, seq))| KeyUsage {
            key_id,
            operation: event.name.to_string(),
            time_ms: event.time_ms,
            event_id: super::event_id(id_prefix, seq),
            request_id: event.request_id.clone(),
        })
        .collect();
    out.sort_by_key(|u| u.key_id);
    out
}

/// Parses the stored tracking start.
pub fn parse_tracking_start(stored: &[u8]) -> Option<i64> {
    std::str::from_utf8(stored).ok()?.parse().ok()
}
