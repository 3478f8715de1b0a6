//! The last successful cryptographic operation per key, for
//! `GetKeyLastUsage`: derived by the audit writer from the events it
//! commits (it sees every event and assigns the event ids). The request
//! path does no extra work for it.
//!
//! [`Tracker`] holds the usage of committed events in memory until the
//! writer stores it, every 5 s at most (`USAGE_EVERY`), in the
//! transaction of a batch of events, with the seq it covers through
//! (`key_usage_through`). Reads look in memory first, so an answer is as
//! fresh as the trail. Storing less often matters on many keys: traffic
//! spread over 100,000 keys changes most of the table's pages at every
//! write. A crash loses the unstored part, and the writer's next start
//! [`replays`](usage_of_record) it from the events after
//! `key_usage_through` before any read is answered.

use super::{AuditEvent, EventSource};
use crate::store::trail::tracked;
pub use crate::store::trail::{Id, KeyUsage, Usage};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// Name (in the store's `meta` table) of the time usage tracking began:
/// Unix milliseconds as decimal text, set once at the first start.
pub const TRACKING_START_META: &str = "key-usage-tracking-start";

type Map = HashMap<Uuid, Usage, foldhash::fast::FixedState>;

/// Usage not yet stored, shared by the writer and `GetKeyLastUsage`. Its
/// lock is taken once per committed batch and once per GetKeyLastUsage,
/// never by a request on the hot path.
#[derive(Default)]
pub struct Tracker {
    maps: Mutex<Maps>,
    /// Set once the writer has replayed what a crash left unstored.
    ready: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
struct Maps {
    /// Committed events' usage since the last store write began.
    recent: Map,
    /// Usage being written now (kept readable until it is stored).
    writing: Map,
}

impl Tracker {
    /// The unstored usage of `key_id`, once replay is done; `None`: ask the
    /// store.
    pub async fn get(&self, key_id: Uuid) -> Option<Usage> {
        let mut ready = self.ready.subscribe();
        // Only fails if the tracker is gone, and `self` is it.
        let _ = ready.wait_for(|r| *r).await;
        let maps = self.maps.lock().expect("usage lock");
        maps.recent
            .get(&key_id)
            .or_else(|| maps.writing.get(&key_id))
            .cloned()
    }

    pub(super) fn set_ready(&self) {
        self.ready.send_replace(true);
    }

    /// Adds the usage of committed events (newer than what is held).
    pub(super) fn add(&self, usage: Batch) {
        let mut maps = self.maps.lock().expect("usage lock");
        if maps.recent.is_empty() {
            maps.recent = usage.0;
        } else {
            maps.recent.extend(usage.0);
        }
    }

    /// Adds replayed usage, in event order.
    pub(super) fn add_replayed(&self, usage: impl Iterator<Item = KeyUsage>) {
        let mut maps = self.maps.lock().expect("usage lock");
        maps.recent.extend(usage.map(|u| (u.key_id, u.last)));
    }

    /// Drops a deleted key's usage (its stored row went with the key).
    pub fn forget(&self, key_id: Uuid) {
        let mut maps = self.maps.lock().expect("usage lock");
        maps.recent.remove(&key_id);
        maps.writing.remove(&key_id);
    }

    /// Moves the held usage aside for a store write and returns the rows to
    /// write: it and `batch` (the events committed with it), sorted by key.
    /// Reads still see the held usage until [`Self::written`].
    pub(super) fn take_for_write(&self, batch: &Batch) -> Vec<KeyUsage> {
        let mut maps = self.maps.lock().expect("usage lock");
        let maps = &mut *maps;
        std::mem::swap(&mut maps.recent, &mut maps.writing);
        sorted_rows(
            maps.writing
                .iter()
                .filter(|(key_id, _)| !batch.0.contains_key(key_id))
                .chain(&batch.0),
        )
    }

    /// The write that [`Self::take_for_write`] began ended: stored, or
    /// failed (its usage waits for the next write, under what came since).
    pub(super) fn written(&self, stored: bool) {
        let mut maps = self.maps.lock().expect("usage lock");
        let maps = &mut *maps;
        if !stored {
            for (key_id, usage) in maps.writing.drain() {
                maps.recent.entry(key_id).or_insert(usage);
            }
        }
        // Freed, not cleared: on many keys it is megabytes, idle until the
        // next write.
        maps.writing = Map::default();
    }
}

/// The usage of a batch of events, per key the last.
#[derive(Default)]
pub struct Batch(Map);

/// The usage of events (in seq order, the first at `first_seq`; event ids
/// are `id_prefix` and the seq): per key, the last successful tracked
/// operation (ReEncrypt counts for both keys).
pub fn of_batch<'a>(
    events: impl Iterator<Item = &'a AuditEvent>,
    first_seq: i64,
    id_prefix: [u8; 8],
) -> Batch {
    let mut last = Map::default();
    // Runs of events on one key (the common case under load) parse its ARN
    // once.
    let mut parsed: Option<(&str, Option<Uuid>)> = None;
    for (event, seq) in events.zip(first_seq..) {
        if event.source != EventSource::Kms || event.error.is_some() || event.service_event {
            continue;
        }
        let Some(operation) = tracked(&event.name) else {
            continue;
        };
        for arn in &event.key_arns {
            let key_id = match parsed {
                Some((text, id)) if text == arn => id,
                _ => {
                    let id = key_id_of(arn);
                    parsed = Some((arn, id));
                    id
                }
            };
            if let Some(key_id) = key_id {
                let usage = Usage {
                    operation,
                    time_ms: event.time_ms,
                    event_id: Id::Uuid(super::event_uuid(id_prefix, seq)),
                    request_id: event.request_id.clone(),
                };
                last.insert(key_id, usage);
            }
        }
    }
    Batch(last)
}

impl Batch {
    /// The rows, sorted by key (tests).
    #[cfg(test)]
    pub fn rows(&self) -> Vec<KeyUsage> {
        sorted_rows(self.0.iter())
    }
}

/// Rows of `entries`, sorted by key.
fn sorted_rows<'a>(entries: impl Iterator<Item = (&'a Uuid, &'a Usage)>) -> Vec<KeyUsage> {
    let mut rows: Vec<KeyUsage> = entries
        .map(|(key_id, last)| KeyUsage {
            key_id: *key_id,
            last: last.clone(),
        })
        .collect();
    rows.sort_unstable_by_key(|u| u.key_id);
    rows
}

/// The key id at the end of a KMS key ARN.
fn key_id_of(arn: &str) -> Option<Uuid> {
    arn.rsplit_once(":key/")
        .and_then(|(_, id)| Uuid::try_parse(id).ok())
}

/// The usage a stored event shows (replay after a crash): what
/// [`of_batch`] takes from the live event. `time_ms` is the event's
/// time as stored (its JSON has whole seconds).
pub fn usage_of_record(time_ms: i64, record: &Value) -> Vec<KeyUsage> {
    let text = |pointer: &str| record.pointer(pointer).and_then(Value::as_str);
    let recorded = text("/eventSource") == Some(EventSource::Kms.as_str())
        && record.get("errorCode").is_none()
        && text("/eventType") != Some("AwsServiceEvent");
    let (true, Some(name), Some(event_id)) = (recorded, text("/eventName"), text("/eventID"))
    else {
        return Vec::new();
    };
    let resources = record.get("resources").and_then(Value::as_array);
    resources
        .into_iter()
        .flatten()
        .filter_map(|r| key_id_of(r.get("ARN")?.as_str()?))
        .filter_map(|key_id| {
            Some(KeyUsage {
                key_id,
                last: Usage::new(
                    name,
                    time_ms,
                    Id::parse(event_id),
                    text("/requestID").map(Id::parse),
                )?,
            })
        })
        .collect()
}

/// Parses the stored tracking start.
pub fn parse_tracking_start(stored: &[u8]) -> Option<i64> {
    std::str::from_utf8(stored).ok()?.parse().ok()
}
