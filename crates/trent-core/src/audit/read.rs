//! Reading the trail back from any store: the store hands over blocks, and
//! the events are decoded and matched here, once for every backend.

use super::AuditRecord;
use super::block::BlockDecoder;
use super::lookup::{AuditLookup, AuditLookupPage};
use crate::store::{AuditStore, StoreError};

/// Blocks asked of the store at a time.
const BLOCKS_PER_READ: usize = 16;

/// Events with `seq > after_seq`, in seq order, at most `limit`, each with
/// the hash before it (so verification can check the chain from there).
pub async fn events(
    store: &(impl AuditStore + ?Sized),
    after_seq: i64,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    // From the block holding `after_seq` (for the hash before the first
    // event returned), a few blocks at a time, decoded in order.
    let mut out = Vec::with_capacity(limit.min(4096));
    let mut prev_hash = vec![0; 32];
    let mut decoder = BlockDecoder::default();
    let mut from = after_seq;
    loop {
        let blocks = store.audit_blocks(from, BLOCKS_PER_READ).await?;
        let Some(last) = blocks.last() else {
            return Ok(out);
        };
        let next_from = last.last_seq + 1;
        for block in &blocks {
            for record in decoder.block(block, &prev_hash) {
                prev_hash.clone_from(&record.hash);
                if record.seq > after_seq {
                    if out.len() == limit {
                        return Ok(out);
                    }
                    out.push(record);
                }
            }
        }
        from = from.max(next_from);
    }
}

/// `LookupEvents`: one page of an account's events, newest first. Only
/// blocks that may hold the account's events and overlap the time range
/// are decoded, at most `query.budget` events.
pub async fn lookup(
    store: &(impl AuditStore + ?Sized),
    query: &AuditLookup,
) -> Result<AuditLookupPage, StoreError> {
    let mut page = AuditLookupPage::default();
    let mut before = query.before_seq.unwrap_or(i64::MAX);
    let mut decoded = 0;
    loop {
        let blocks = store
            .audit_blocks_of_account(
                &query.account,
                before,
                query.start_ms.unwrap_or(i64::MIN),
                query.end_ms.unwrap_or(i64::MAX),
                BLOCKS_PER_READ,
            )
            .await?;
        let Some(last) = blocks.last() else {
            return Ok(page);
        };
        let next_before = last.first_seq;
        for block in &blocks {
            if decoded >= query.budget {
                // This block is not searched yet: resume with it.
                page.resume_before = Some(block.last_seq + 1);
                return Ok(page);
            }
            // A block begins a segment: it decodes on its own.
            let records = BlockDecoder::default().block(block, &[]);
            decoded += records.len();
            for record in records.into_iter().rev() {
                let parsed: Option<serde_json::Value> =
                    serde_json::from_str(&record.event_json).ok();
                if let Some(event) = &parsed
                    && query.matches(&record, event)
                {
                    page.records.push(record);
                    if page.records.len() == query.limit {
                        return Ok(page);
                    }
                }
            }
        }
        before = next_before;
    }
}
