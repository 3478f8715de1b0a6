//! What the store keeps of the audit trail, as rows: blocks of encoded
//! events, the signed digests that close the chain, and each key's last
//! usage. The audit module makes and reads them (encoding, chain hashes,
//! lookups); the store only keeps them, so it depends on nothing of the
//! audit module.

use trent_crypto::SigningKey;
use uuid::Uuid;

/// The operations tracked: the model's `KeyLastUsageTrackingOperation`.
const TRACKED: &[&str] = trent_wire::KeyLastUsageTrackingOperation::VALUES;

pub(crate) fn tracked(name: &str) -> Option<u8> {
    TRACKED.iter().position(|t| *t == name).map(|i| i as u8)
}

/// An event or request id: a UUID (every id Trent makes) in 16 bytes, or
/// any other text as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    Uuid(Uuid),
    Text(Box<str>),
}

impl Id {
    pub fn parse(text: &str) -> Self {
        let mut canonical = [0u8; uuid::fmt::Hyphenated::LENGTH];
        match Uuid::try_parse(text) {
            // Only the canonical form: the text must come back unchanged.
            Ok(uuid) if uuid.hyphenated().encode_lower(&mut canonical) == text => Id::Uuid(uuid),
            _ => Id::Text(text.into()),
        }
    }

    /// The text, written into `buf` when it is a UUID.
    pub fn as_text<'a>(&'a self, buf: &'a mut [u8; uuid::fmt::Hyphenated::LENGTH]) -> &'a str {
        match self {
            Id::Uuid(uuid) => uuid.hyphenated().encode_lower(buf),
            Id::Text(text) => text,
        }
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Uuid(uuid) => uuid.hyphenated().fmt(f),
            Id::Text(text) => f.write_str(text),
        }
    }
}

/// A key's last successful cryptographic operation (64 bytes; no heap for
/// Trent's own ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub(crate) operation: u8,
    pub time_ms: i64,
    /// The CloudTrail `eventID` of the event that recorded it.
    pub event_id: Id,
    /// The `x-amzn-RequestId` of the call.
    pub request_id: Option<Id>,
}

impl Usage {
    /// `None` if `operation` is not tracked.
    pub fn new(
        operation: &str,
        time_ms: i64,
        event_id: Id,
        request_id: Option<Id>,
    ) -> Option<Self> {
        Some(Self {
            operation: tracked(operation)?,
            time_ms,
            event_id,
            request_id,
        })
    }

    /// `Encrypt`, `Decrypt`, … (the model's `KeyLastUsageTrackingOperation`).
    pub fn operation(&self) -> &'static str {
        TRACKED[self.operation as usize]
    }
}

/// A row of the stored table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub key_id: Uuid,
    pub last: Usage,
}

/// One stored block: consecutive events `first_seq..=last_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBlock {
    pub first_seq: i64,
    pub last_seq: i64,
    pub first_time_ms: i64,
    pub last_time_ms: i64,
    /// One of the audit block codec's `ENCODING_*` values.
    pub encoding: i64,
    pub events: Vec<u8>,
    /// The events' chain hashes, in order: 32 bytes each, or (in an
    /// `ENCODING_DELTA` block) `HASH_PREFIX` bytes each but the last.
    pub hashes: Vec<u8>,
    /// The accounts its events are filed into (each once), so that a
    /// lookup skips the blocks with none of an account's events. Empty
    /// for a block read back (the store keeps the list apart).
    pub accounts: Vec<String>,
}

/// A signed close of the chain: events `first_event_seq..=last_event_seq`
/// end in `last_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDigest {
    /// 1, 2, 3, … in order.
    pub seq: i64,
    pub first_event_seq: i64,
    pub last_event_seq: i64,
    pub last_hash: Vec<u8>,
    pub created_ms: i64,
    pub signature: Vec<u8>,
}

impl AuditDigest {
    /// What is signed.
    pub fn message(
        seq: i64,
        first_event_seq: i64,
        last_event_seq: i64,
        last_hash: &[u8],
        created_ms: i64,
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(96);
        m.extend_from_slice(b"trent-audit-digest-v1\0");
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&first_event_seq.to_be_bytes());
        m.extend_from_slice(&last_event_seq.to_be_bytes());
        m.extend_from_slice(last_hash);
        m.extend_from_slice(&created_ms.to_be_bytes());
        m
    }

    pub fn sign(
        key: &SigningKey,
        seq: i64,
        first_event_seq: i64,
        last_event_seq: i64,
        last_hash: &[u8],
        created_ms: i64,
    ) -> Self {
        let signature = key.sign(&Self::message(
            seq,
            first_event_seq,
            last_event_seq,
            last_hash,
            created_ms,
        ));
        Self {
            seq,
            first_event_seq,
            last_event_seq,
            last_hash: last_hash.to_vec(),
            created_ms,
            signature,
        }
    }

    pub fn verify(&self, public_key: &[u8]) -> bool {
        let message = Self::message(
            self.seq,
            self.first_event_seq,
            self.last_event_seq,
            &self.last_hash,
            self.created_ms,
        );
        trent_crypto::ed25519_verify(public_key, &message, &self.signature)
    }
}

/// Where the stored trail ends.
#[derive(Debug, Clone, Default)]
pub struct AuditTail {
    /// The last event's (seq, hash).
    pub last_event: Option<(i64, Vec<u8>)>,
    /// The last digest.
    pub last_digest: Option<AuditDigest>,
    /// The seq through which the stored key usage covers the events (0:
    /// none).
    pub usage_through: i64,
}
