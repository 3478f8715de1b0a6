//! The audit trail: one CloudTrail-shaped event per KMS, IAM and STS
//! request (allowed or denied, authenticated or not), hash-chained and
//! closed at intervals by signed digests.
//!
//! * [`AuditEvent`]: the typed facts of one event; [`AuditEvent::to_json`]
//!   renders CloudTrail's record (when the trail is read).
//! * [`block`]: the stored form, compact records in blocks.
//! * [`chain_hash`]: `SHA-256(prev_hash ‖ seq as u64 BE ‖ stored record)`;
//!   the first event's `prev_hash` is 32 zero bytes.
//! * [`AuditDigest`]: closes the chain through an event: Ed25519 over
//!   [`AuditDigest::message`] (digest number, the range, the last hash, the
//!   time), so a rewritten chain (hashes recomputed) no longer matches.
//! * [`AuditLog`]: the in-memory queue and its writer task (group commit:
//!   one store transaction per batch, with a digest when due).
//! * [`Verifier`]: pure verification of a stored trail, event by event.

use crate::model::{Identity, PrincipalKind, now_millis};
use crate::store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use trent_crypto::SigningKey;

pub mod block;
pub mod lookup;
mod queue;
pub mod read;
pub mod sink;
pub mod usage;

pub use crate::store::trail::{AuditDigest, AuditTail};
pub use usage::Id;

/// The KMS key ARNs of an event: inline up to two (ReEncrypt's), so an
/// event on one key needs no heap `Vec`; each interned when it came from a
/// hot-path request ([`intern`]).
pub type KeyArns = smallvec::SmallVec<[Cow<'static, str>; 2]>;

/// Longer strings are not interned.
const INTERNED_LEN_MAX: usize = 256;

/// A bounded set of strings kept for the process's life, handed out as
/// `&'static str`. Each thread remembers the last few it handed out: a
/// request then finds its region, agent or key ARN by comparing bytes,
/// without hashing them or entering the shared set.
struct Interner {
    seen: std::sync::LazyLock<papaya::HashSet<&'static str>>,
    count: std::sync::atomic::AtomicUsize,
    max: usize,
    recent: &'static std::thread::LocalKey<Recent>,
}

/// A thread's most recently interned strings, newest first.
type Recent = std::cell::Cell<[&'static str; 4]>;

impl Interner {
    const fn new(max: usize, recent: &'static std::thread::LocalKey<Recent>) -> Self {
        Self {
            seen: std::sync::LazyLock::new(papaya::HashSet::new),
            count: std::sync::atomic::AtomicUsize::new(0),
            max,
            recent,
        }
    }

    fn get(&self, text: &str) -> Cow<'static, str> {
        let recent = self.recent.with(Recent::get);
        if let Some(found) = recent.iter().find(|s| **s == text) {
            return Cow::Borrowed(found);
        }
        let found = self.shared(text);
        if let Cow::Borrowed(kept) = found {
            let mut next = [kept; 4];
            next[1..].copy_from_slice(&recent[..3]);
            self.recent.with(|r| r.set(next));
        }
        found
    }

    fn shared(&self, text: &str) -> Cow<'static, str> {
        let seen = self.seen.pin();
        if let Some(found) = seen.get(text) {
            return Cow::Borrowed(found);
        }
        if text.len() > INTERNED_LEN_MAX
            || self
                .count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                >= self.max
        {
            return Cow::Owned(text.to_owned());
        }
        let kept: &'static str = Box::leak(text.into());
        // A racing insert of the same text may leave this copy unused: a
        // few bytes, counted against the bound.
        seen.insert(kept);
        Cow::Borrowed(kept)
    }
}

thread_local! {
    static RECENT_REQUEST_STRINGS: Recent = const { std::cell::Cell::new([""; 4]) };
    static RECENT_KEY_ARNS: Recent = const { std::cell::Cell::new([""; 4]) };
    static RECENT_PARAMETERS: Recent = const { std::cell::Cell::new([""; 4]) };
}

/// Regions and user agents: few distinct ones in practice.
static REQUEST_STRINGS: Interner = Interner::new(1024, &RECENT_REQUEST_STRINGS);
/// Key ARNs of hot-path events: the first 4,096 keys used.
static KEY_ARNS: Interner = Interner::new(4096, &RECENT_KEY_ARNS);
/// Request parameters of hot-path events: the first 4,096 distinct ones.
static PARAMETERS: Interner = Interner::new(4096, &RECENT_PARAMETERS);

/// A string that repeats from request to request (a region, a user agent)
/// as a `&'static str`: events then carry no heap string of it, which the
/// writer would free on another thread (a cache miss for the next
/// allocation there). The first 1,024 distinct ones (of at most 256 bytes)
/// are kept for the process's life; later ones stay owned.
pub fn intern(text: &str) -> Cow<'static, str> {
    REQUEST_STRINGS.get(text)
}

/// [`intern`] for key ARNs, with a bound of its own (4,096, ~400 KiB):
/// a server with more keys than that interns the first ones used, and the
/// others' events carry an owned ARN, as without interning.
pub fn intern_key_arn(arn: &str) -> Cow<'static, str> {
    KEY_ARNS.get(arn)
}

/// [`intern`] for the request parameters of hot-path events (a key id,
/// an algorithm, an encryption context: the same from call to call for a
/// client of one key), with a bound of its own (4,096, at most 1 MiB):
/// such an event then carries no heap string for the writer to free on
/// another thread.
pub fn intern_request_parameters(json: &str) -> Cow<'static, str> {
    PARAMETERS.get(json)
}

/// Name of the sealed Ed25519 signing key in the store's `meta` table.
pub const SIGNING_KEY_META: &str = "audit-signing-key";
/// AAD of the sealed signing key.
pub const SIGNING_KEY_AAD: &[u8] = b"audit-signing-key";

/// Which AWS service an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    Kms,
    Iam,
    Sts,
    CloudTrail,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Kms => "kms.amazonaws.com",
            EventSource::Iam => "iam.amazonaws.com",
            EventSource::Sts => "sts.amazonaws.com",
            EventSource::CloudTrail => "cloudtrail.amazonaws.com",
        }
    }
}

/// Who made the request.
#[derive(Debug, Clone)]
pub enum Actor {
    /// An authenticated caller.
    Caller(Arc<Identity>),
    /// Authentication failed or never happened; what the request claimed.
    Unknown { access_key_id: Option<String> },
    /// Trent itself (scheduled rotation, deletion) for an account.
    Service { account: String },
}

/// The facts of one event. Built after the response is ready; stored as a
/// compact record by the writer task ([`block`]) and rendered to JSON only
/// when read.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub time_ms: i64,
    pub source: EventSource,
    /// The operation (`Encrypt`, `CreateUser`, …): static for known ones.
    pub name: std::borrow::Cow<'static, str>,
    /// Interned ([`intern`]) when it came with a request.
    pub region: Cow<'static, str>,
    pub source_ip: Option<IpAddr>,
    /// Interned ([`intern`]) when it came with a request.
    pub user_agent: Option<Cow<'static, str>>,
    pub actor: Actor,
    /// Allow-listed request fields (never plaintext, key material,
    /// secrets), as a JSON object's text; interned
    /// ([`intern_request_parameters`]) on the hot path.
    pub request_parameters: Option<Cow<'static, str>>,
    /// Allow-listed response fields, as a JSON object's text.
    pub response_elements: Option<String>,
    /// `(errorCode, errorMessage)` of a failed request.
    pub error: Option<(String, String)>,
    pub request_id: Option<Id>,
    pub read_only: bool,
    /// `AwsServiceEvent` (Trent acting on its own) instead of `AwsApiCall`.
    pub service_event: bool,
    /// ARNs of the KMS keys involved.
    pub key_arns: KeyArns,
    /// The account the event is delivered to when not the caller's: the
    /// key owner's copy of a call on its key from another account.
    pub recipient: Option<String>,
}

impl AuditEvent {
    /// The account the event is recorded for.
    /// An unauthenticated request is filed into no account's trail (only
    /// the operator sees it, with `trent audit export`): nothing it claims
    /// can put it into another's.
    pub(crate) fn account(&self) -> Option<&str> {
        if let Some(recipient) = &self.recipient {
            return Some(recipient);
        }
        match &self.actor {
            Actor::Caller(identity) => Some(&identity.account),
            Actor::Service { account } => Some(account),
            Actor::Unknown { .. } => None,
        }
    }

    /// The principal ARN (of an authenticated caller).
    pub fn principal_arn(&self) -> Option<&str> {
        match &self.actor {
            Actor::Caller(identity) => Some(&identity.principal_arn),
            _ => None,
        }
    }

    fn user_identity(&self) -> UserIdentity<'_> {
        match &self.actor {
            Actor::Caller(identity) => UserIdentity {
                kind: Some(match &identity.kind {
                    PrincipalKind::Root => "Root",
                    PrincipalKind::User => "IAMUser",
                    PrincipalKind::AssumedRole { .. } => "AssumedRole",
                }),
                principal_id: Some(&identity.user_id),
                arn: Some(&identity.principal_arn),
                account_id: Some(&identity.account),
                access_key_id: Some(&identity.access_key_id),
                user_name: identity.username.as_deref(),
                session_context: match &identity.kind {
                    PrincipalKind::AssumedRole { role_arn } => Some(SessionContext {
                        session_issuer: SessionIssuer {
                            account_id: &identity.account,
                            arn: role_arn,
                            kind: "Role",
                        },
                    }),
                    _ => None,
                },
                invoked_by: None,
            },
            Actor::Unknown { access_key_id } => UserIdentity {
                kind: Some("Unknown"),
                access_key_id: access_key_id.as_deref(),
                ..UserIdentity::default()
            },
            Actor::Service { account } => UserIdentity {
                account_id: Some(account),
                invoked_by: Some("kms.amazonaws.com"),
                ..UserIdentity::default()
            },
        }
    }

    /// The CloudTrail record, keys sorted, compact.
    pub fn to_json(&self, event_id: &str) -> String {
        // Text the writer stored is JSON; anything else renders as null.
        fn raw(text: Option<&str>) -> Option<&serde_json::value::RawValue> {
            serde_json::from_str(text?).ok()
        }
        let ip = match (self.service_event, self.source_ip) {
            (true, _) => IpField::Service,
            (false, Some(ip)) => IpField::Ip(ip),
            (false, None) => IpField::None,
        };
        let record = Record {
            aws_region: &self.region,
            error_code: self.error.as_ref().map(|(code, _)| code.as_str()),
            error_message: self.error.as_ref().map(|(_, message)| message.as_str()),
            // As CloudTrail records KMS: every KMS event (crypto operations
            // included) is a management event.
            event_category: "Management",
            event_id,
            event_name: &self.name,
            event_source: self.source.as_str(),
            event_time: Iso8601(self.time_ms),
            event_type: if self.service_event {
                "AwsServiceEvent"
            } else {
                "AwsApiCall"
            },
            event_version: "1.08",
            management_event: true,
            read_only: self.read_only,
            recipient_account_id: self.account(),
            request_id: self.request_id.as_ref().map(Id::to_string),
            request_parameters: raw(self.request_parameters.as_deref()),
            resources: (!self.key_arns.is_empty()).then_some(Resources(&self.key_arns)),
            response_elements: raw(self.response_elements.as_deref()),
            source_ip_address: ip,
            user_agent: self.user_agent.as_deref(),
            user_identity: self.user_identity(),
        };
        let mut out = Vec::with_capacity(1024);
        serde_json::to_writer(&mut out, &record).expect("serializing to a Vec cannot fail");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }
}

/// CloudTrail's record. Fields in byte order of their JSON names, so the
/// output has sorted keys like a `serde_json::Map`: the canonical form.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    aws_region: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    event_category: &'static str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    event_name: &'a str,
    event_source: &'static str,
    event_time: Iso8601,
    event_type: &'static str,
    event_version: &'static str,
    management_event: bool,
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_account_id: Option<&'a str>,
    #[serde(rename = "requestID", skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    request_parameters: Option<&'a serde_json::value::RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Resources<'a>>,
    response_elements: Option<&'a serde_json::value::RawValue>,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: IpField,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    user_identity: UserIdentity<'a>,
}

/// `userIdentity`, keys sorted.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<SessionContext<'a>>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    session_issuer: SessionIssuer<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer<'a> {
    account_id: &'a str,
    arn: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `resources`: one entry per KMS key ARN.
struct Resources<'a>(&'a [Cow<'static, str>]);

impl Serialize for Resources<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Resource<'a> {
            #[serde(rename = "ARN")]
            arn: &'a str,
            #[serde(rename = "accountId")]
            account_id: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
        }
        s.collect_seq(self.0.iter().map(|arn| Resource {
            arn,
            account_id: arn_account(arn).unwrap_or(""),
            kind: "AWS::KMS::Key",
        }))
    }
}

/// `sourceIPAddress`: the peer, or the service itself for its own events.
enum IpField {
    Service,
    Ip(IpAddr),
    None,
}

impl Serialize for IpField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IpField::Service => s.serialize_str("kms.amazonaws.com"),
            IpField::Ip(ip) => s.collect_str(ip),
            IpField::None => s.serialize_str(""),
        }
    }
}

/// Unix milliseconds serialized as [`iso8601`] without an intermediate
/// `String`.
struct Iso8601(i64);

impl Serialize for Iso8601 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&IsoTime(self.0))
    }
}

/// The account of an ARN (`arn:aws:kms:REGION:ACCOUNT:...`).
pub fn arn_account(arn: &str) -> Option<&str> {
    // Byte positions of the colons: `split(':').nth(4)` cost ~800
    // instructions per successful call's event (a searcher per field).
    let mut colons = arn
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b == b':')
        .map(|(i, _)| i);
    let start = colons.nth(3)? + 1;
    let end = colons.next().unwrap_or(arn.len());
    Some(&arn[start..end]).filter(|a| !a.is_empty())
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub event_id: String,
    pub event_time_ms: i64,
    pub key_arn: Option<String>,
    pub principal_arn: Option<String>,
    pub event_name: String,
    /// The CloudTrail record.
    pub event_json: String,
    /// The bytes the chain hashes: the compact record, or (for blocks of
    /// the first encoding) the JSON text.
    pub stored: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditRecord {
    /// A stored event read back: the index fields come from its JSON (an
    /// event that is not valid JSON keeps them empty, and verification
    /// reports it).
    pub fn from_stored(seq: i64, event_json: String, prev_hash: Vec<u8>, hash: Vec<u8>) -> Self {
        let parsed: Option<Value> = serde_json::from_str(&event_json).ok();
        Self::from_parsed(seq, event_json, parsed.as_ref(), prev_hash, hash)
    }

    /// [`Self::from_stored`] with the JSON already parsed.
    pub fn from_parsed(
        seq: i64,
        event_json: String,
        parsed: Option<&Value>,
        prev_hash: Vec<u8>,
        hash: Vec<u8>,
    ) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let v = parsed.unwrap_or(&Value::Null);
        AuditRecord {
            seq,
            event_id: text(v.get("eventID")).unwrap_or_default(),
            event_time_ms: v
                .get("eventTime")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339_ms)
                .unwrap_or(0),
            key_arn: text(v.pointer("/resources/0/ARN")),
            principal_arn: text(v.pointer("/userIdentity/arn")),
            event_name: text(v.get("eventName")).unwrap_or_default(),
            stored: event_json.as_bytes().to_vec(),
            event_json,
            prev_hash,
            hash,
        }
    }
}

/// The chain hash of an event, over its stored bytes.
pub fn chain_hash(prev_hash: &[u8], seq: i64, stored: &[u8]) -> [u8; 32] {
    // A record of usual size is hashed as one contiguous input: the
    // one-shot digest needs no digest context (an allocation) per event.
    let mut input = [0u8; 512];
    let len = prev_hash.len() + 8 + stored.len();
    if len > input.len() {
        return trent_crypto::sha256_parts(&[prev_hash, &seq.to_be_bytes(), stored]);
    }
    let (head, rest) = input.split_at_mut(prev_hash.len());
    head.copy_from_slice(prev_hash);
    rest[..8].copy_from_slice(&seq.to_be_bytes());
    rest[8..8 + stored.len()].copy_from_slice(stored);
    trent_crypto::sha256(&input[..len])
}

/// An event id in UUID (version 4) form: the writer's random 8-byte
/// prefix, then the event's seq. Unique within a trail (seqs never repeat)
/// and, by the prefix, across trails and restarts; no random draw per
/// event.
pub(crate) fn event_id(prefix: [u8; 8], seq: i64) -> String {
    uuid_string(prefix, seq as u64)
}

/// A UUID (version 4 form) of a random 8-byte prefix and a counter below
/// 2^62, as text: request and event ids without a random draw each.
pub fn uuid_string(prefix: [u8; 8], n: u64) -> String {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    counter_uuid(prefix, n)
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// The UUID that [`uuid_string`] writes.
pub fn counter_uuid(prefix: [u8; 8], n: u64) -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&prefix);
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    // The variant bits replace the top two bits of the counter, which are
    // zero below 2^62.
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The UUID of the event id [`event_id`] writes.
pub(crate) fn event_uuid(prefix: [u8; 8], seq: i64) -> uuid::Uuid {
    counter_uuid(prefix, seq as u64)
}

/// When the writer closes the chain with a digest.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// A digest after this many unsigned events…
    pub digest_every_events: i64,
    /// …or when the oldest unsigned event is this old.
    pub digest_every: Duration,
    /// Most events in one transaction.
    pub max_batch: usize,
    /// How long events that nobody waits for (crypto operations, reads,
    /// denials) may sit in memory before they are committed. Their writes
    /// are grouped into one transaction per window instead of one per wake;
    /// a crash loses at most this window's events (plus one commit). Events
    /// of mutations are committed at once.
    pub flush_interval: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            digest_every_events: 1000,
            digest_every: Duration::from_secs(5),
            max_batch: 1000,
            flush_interval: Duration::from_millis(10),
        }
    }
}

/// The audit sink failed: the event was not stored.
#[derive(Debug, thiserror::Error)]
#[error("audit trail unavailable: {0}")]
pub struct AuditError(pub String);

type Done = oneshot::Sender<Result<(), String>>;

/// Events queued at most, in memory, before callers wait for the writer.
pub const QUEUE_CAPACITY: usize = 20_000;

/// The queue in front of the audit writer. Cheap to clone; when the last
/// clone is dropped the writer writes what is queued and stops.
#[derive(Clone)]
pub struct AuditLog {
    queue: Arc<queue::Queue>,
    _last: Arc<CloseOnDrop>,
    stats: Arc<sink::AuditStats>,
    usage: Arc<usage::Tracker>,
}

/// Closes the queue when the last [`AuditLog`] clone goes.
struct CloseOnDrop(Arc<queue::Queue>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close(None);
    }
}

impl AuditLog {
    /// Starts the writer task, continuing the stored chain.
    pub async fn start(
        store: Arc<dyn Store>,
        signer: SigningKey,
        config: AuditConfig,
    ) -> Result<Self, StoreError> {
        Self::start_with_stream(store, signer, config, None).await
    }

    /// [`Self::start`], also writing each committed event to `stream`.
    pub async fn start_with_stream(
        store: Arc<dyn Store>,
        signer: SigningKey,
        config: AuditConfig,
        stream: Option<sink::JsonLinesSink>,
    ) -> Result<Self, StoreError> {
        let stats = Arc::new(sink::AuditStats::default());
        let tail = store.audit_tail().await?;
        let now = now_millis().to_string();
        store
            .meta_secret(usage::TRACKING_START_META, now.as_bytes())
            .await?;
        let queue = Arc::new(queue::Queue::new(QUEUE_CAPACITY));
        let mut id_prefix = [0u8; 8];
        trent_crypto::random_bytes(&mut id_prefix).expect("the DRBG does not fail");
        let mut writer = Writer {
            queue: queue.clone(),
            id_prefix,
            store,
            signer,
            config,
            next_seq: 1,
            prev_hash: vec![0; 32],
            next_digest: 1,
            signed_through: 0,
            oldest_unsigned: None,
            last_sync: std::time::Instant::now(),
            usage: Arc::new(usage::Tracker::default()),
            usage_written: tokio::time::Instant::now(),
            usage_through: tail.usage_through,
            stream,
            stats: stats.clone(),
        };
        if let Some((seq, hash)) = tail.last_event {
            writer.next_seq = seq + 1;
            writer.prev_hash = hash;
        }
        if let Some(d) = tail.last_digest {
            writer.next_digest = d.seq + 1;
            writer.signed_through = d.last_event_seq;
        }
        if writer.signed_through < writer.next_seq - 1 {
            // Events of a crash's last interval: sign them at the first
            // opportunity.
            writer.oldest_unsigned = Some(tokio::time::Instant::now());
        }
        let usage = writer.usage.clone();
        let last_event = writer.next_seq - 1;
        // The writer has a thread of its own, with a runtime of its own:
        // its wakeups (a batch's window, the store's answers) and its
        // encoding then never take a request worker (nor wake a parked
        // one), and a batch needs no hand-off to a blocking thread. It
        // runs below the workers' priority (see `lower_priority`).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        std::thread::Builder::new()
            .name("trent-audit".into())
            .spawn(move || {
                lower_priority();
                runtime.block_on(async move {
                    writer.replay_usage(last_event).await;
                    writer.run().await
                })
            })
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Self {
            _last: Arc::new(CloseOnDrop(queue.clone())),
            queue,
            stats,
            usage,
        })
    }

    /// Key usage not yet stored (`GetKeyLastUsage` looks here first).
    pub fn usage(&self) -> Arc<usage::Tracker> {
        self.usage.clone()
    }

    /// The writer's counters and health.
    pub fn stats(&self) -> &sink::AuditStats {
        &self.stats
    }

    /// Events queued and not yet taken by the writer.
    pub fn queue_depth(&self) -> usize {
        self.queue.len()
    }

    /// Queues an event. Waits only while the queue is full (the writer
    /// behind the store by [`QUEUE_CAPACITY`] events): backpressure instead
    /// of unbounded memory or dropped events.
    ///
    /// Queued when called (this thread's shard has room, as it nearly
    /// always has): the future then holds no event, and is a few bytes for
    /// the request's future to carry. It waits only for room.
    pub fn record(&self, event: AuditEvent) -> impl Future<Output = ()> + Send + '_ {
        let pushed = self.queue.try_push(event, None);
        async move {
            let closed = match pushed {
                queue::Pushed::Queued => false,
                queue::Pushed::Closed => true,
                queue::Pushed::Full(pending) => {
                    Box::pin(self.queue.push(pending.0, None)).await.is_err()
                }
            };
            if closed {
                tracing::error!("audit writer is gone: event dropped");
            }
        }
    }

    /// Queues an event and waits until its batch is committed.
    pub async fn record_durable(&self, event: AuditEvent) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .push(event, Some(done))
            .await
            .map_err(|_| AuditError("the audit writer is gone".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AuditError(e)),
            Err(_) => Err(AuditError("the audit writer is gone".into())),
        }
    }

    /// Writes what is queued, closes the chain with a final digest and
    /// stops the writer.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        self.queue.close(Some(done));
        let _ = wait.await;
    }
}

struct Writer {
    queue: Arc<queue::Queue>,
    /// The random first half of this writer's event ids.
    id_prefix: [u8; 8],
    store: Arc<dyn Store>,
    signer: SigningKey,
    config: AuditConfig,
    next_seq: i64,
    prev_hash: Vec<u8>,
    next_digest: i64,
    signed_through: i64,
    oldest_unsigned: Option<tokio::time::Instant>,
    /// The last commit that was synced to disk.
    last_sync: std::time::Instant,
    /// Key usage of committed events, not yet stored.
    usage: Arc<usage::Tracker>,
    /// When key usage was last stored.
    usage_written: tokio::time::Instant,
    /// The seq through which the stored key usage covers the events.
    usage_through: i64,
    stream: Option<sink::JsonLinesSink>,
    stats: Arc<sink::AuditStats>,
}

/// The longest a committed batch waits for a sync to disk (power loss).
const SYNC_AT_LEAST_EVERY: Duration = Duration::from_secs(1);

/// How often key usage (GetKeyLastUsage) is stored, at most. Reads see
/// usage in memory before it is stored; a crash costs a replay of this
/// long's events at the next start.
const USAGE_EVERY: Duration = Duration::from_secs(5);
/// Stored events read per page when replaying key usage.
const REPLAY_PAGE: usize = 5000;

impl Writer {
    /// Whether committed events are not yet covered by the stored usage.
    fn usage_behind(&self) -> bool {
        self.usage_through < self.next_seq - 1
    }

    /// Rebuilds the usage a crash left unstored: that of the stored events
    /// after `usage_through` (through `last_event`), before any read of
    /// usage is answered and before this writer commits anything.
    async fn replay_usage(&mut self, last_event: i64) {
        // Ready however this ends (a panic included): readers must not
        // wait forever, and what was replayed is as good as it gets.
        struct Ready(Arc<usage::Tracker>);
        impl Drop for Ready {
            fn drop(&mut self) {
                self.0.set_ready();
            }
        }
        let _ready = Ready(self.usage.clone());
        let mut after = self.usage_through;
        while after < last_event {
            let records = match read::events(self.store.as_ref(), after, REPLAY_PAGE).await {
                Ok(records) if !records.is_empty() => records,
                Ok(_) => break,
                Err(e) => {
                    // Reads fall back to the stored usage, which is older.
                    tracing::error!(error = %e, "replaying key usage failed");
                    break;
                }
            };
            self.usage.add_replayed(records.iter().flat_map(|r| {
                serde_json::from_str::<Value>(&r.event_json)
                    .map(|json| usage::usage_of_record(r.event_time_ms, &json))
                    .unwrap_or_default()
            }));
            after = records.last().map_or(last_event, |r| r.seq);
        }
    }

    async fn run(mut self) {
        // The last batch was full: more is queued, so no window to wait.
        let mut backlog = false;
        // Reused from batch to batch.
        let mut batch = Vec::with_capacity(self.config.max_batch);
        loop {
            if !backlog && !self.queue.is_closed() {
                // A digest due, or key usage waiting to be stored.
                let usage_deadline = self
                    .usage_behind()
                    .then_some(self.usage_written + USAGE_EVERY);
                let deadline = self
                    .oldest_unsigned
                    .map(|t| t + self.config.digest_every)
                    .into_iter()
                    .chain(usage_deadline)
                    .min();
                tokio::select! {
                    _ = self.queue.work.notified() => {}
                    _ = sleep_until(deadline) => {
                        self.write(&mut batch, true).await;
                        continue;
                    }
                    // The store failed the last write and nothing is
                    // queued: find out when it answers again (requests are
                    // refused meanwhile, and a load balancer may send none).
                    _ = tokio::time::sleep(PROBE_EVERY), if self.stats.store_failing() => {
                        self.probe().await;
                        continue;
                    }
                }
                // Let more gather (without waking this task per event)
                // until the window ends, someone waits for a commit, or
                // the queue closes.
                tokio::select! {
                    _ = tokio::time::sleep(self.config.flush_interval) => {}
                    _ = self.queue.urgent.notified() => {}
                }
            }
            if self.queue.is_closed() {
                // Everything queued is written before the last digest.
                loop {
                    self.queue.drain(&mut batch, self.config.max_batch);
                    if batch.is_empty() {
                        break;
                    }
                    self.write(&mut batch, false).await;
                }
                self.write(&mut batch, true).await;
                // Pushes that raced the close: their callers must not wait.
                self.queue.drain(&mut batch, usize::MAX);
                for done in batch.into_iter().filter_map(|i| i.done) {
                    let _ = done.send(Err("the audit trail is closed".into()));
                }
                if let Some(done) = self.queue.take_closing() {
                    let _ = done.send(());
                }
                return;
            }
            // Group commit: everything queued goes in one transaction.
            self.queue.drain(&mut batch, self.config.max_batch);
            backlog = batch.len() >= self.config.max_batch && !self.queue.is_empty();
            if batch.is_empty() {
                continue;
            }
            let unsigned = self.next_seq - 1 - self.signed_through + batch.len() as i64;
            let due = unsigned >= self.config.digest_every_events
                || self
                    .oldest_unsigned
                    .is_some_and(|t| t + self.config.digest_every <= tokio::time::Instant::now());
            self.write(&mut batch, due).await;
        }
    }

    /// One transaction: the batch, and a digest through its end if
    /// `want_digest` (and anything is unsigned). Leaves `batch` empty.
    async fn write(&mut self, batch: &mut Vec<queue::Item>, want_digest: bool) {
        // Several Trent processes may append to one store: a block or
        // digest whose seq another took is refused whole (`Conflict`), and
        // the batch is chained again after the stored tail.
        let mut conflicts = 0;
        let attempt = loop {
            let Some(attempt) = self.append(batch, want_digest).await else {
                self.oldest_unsigned = None;
                return;
            };
            let Err(StoreError::Conflict(e)) = &attempt.result else {
                break attempt;
            };
            if conflicts == MAX_APPEND_CONFLICTS {
                break attempt;
            }
            conflicts += 1;
            tracing::debug!(error = %e, first = attempt.first, "another process appended to the trail; chaining after it");
            if attempt.usage_due {
                self.usage.written(false);
            }
            if let Err(e) = self.follow_tail().await {
                break Attempt {
                    result: Err(e),
                    ..attempt
                };
            }
        };
        let Attempt {
            first,
            last,
            prev,
            digest,
            usage_due,
            batch_usage,
            durable,
            result,
        } = attempt;
        self.stats.store_result(batch.len(), result.is_ok());
        if result.is_ok() && self.stream.is_some() {
            // The stream gets CloudTrail JSON: rendered only for it.
            let lines: Vec<String> = batch
                .iter()
                .zip(first..)
                .map(|(i, seq)| i.event.to_json(&event_id(self.id_prefix, seq)))
                .collect();
            sink::after_commit(&mut self.stream, &lines, &self.stats);
        }
        let outcome = match result {
            Ok(()) => {
                if durable {
                    self.last_sync = std::time::Instant::now();
                }
                if usage_due {
                    self.usage.written(true);
                    self.usage_written = tokio::time::Instant::now();
                    self.usage_through = last;
                } else {
                    self.usage.add(batch_usage);
                }
                self.next_seq = last + 1;
                self.prev_hash = prev.to_vec();
                if let Some(d) = &digest {
                    self.next_digest = d.seq + 1;
                    self.signed_through = d.last_event_seq;
                    self.oldest_unsigned = None;
                } else if !batch.is_empty() && self.oldest_unsigned.is_none() {
                    self.oldest_unsigned = Some(tokio::time::Instant::now());
                }
                Ok(())
            }
            Err(e) => {
                if usage_due {
                    // Kept for the next try, USAGE_EVERY from now, not at
                    // once.
                    self.usage.written(false);
                    self.usage_written = tokio::time::Instant::now();
                }
                tracing::error!(error = %e, events = batch.len(), "audit write failed; events lost");
                Err(e.to_string())
            }
        };
        for item in batch.drain(..) {
            if let Some(done) = item.done {
                let _ = done.send(outcome.clone());
            }
        }
    }
}

/// How often a writer whose store failed asks it again while idle.
const PROBE_EVERY: Duration = Duration::from_millis(250);

/// Times a batch is chained again after another process's appends before
/// the write fails.
const MAX_APPEND_CONFLICTS: u32 = 64;

/// One try at appending a batch at the writer's place in the chain.
struct Attempt {
    first: i64,
    last: i64,
    /// The hash of the batch's last event.
    prev: [u8; 32],
    digest: Option<AuditDigest>,
    usage_due: bool,
    batch_usage: usage::Batch,
    durable: bool,
    result: Result<(), StoreError>,
}

impl Writer {
    /// After a failed write: reads the stored tail; once it answers, the
    /// writer continues from it (other nodes may have appended meanwhile)
    /// and the trail accepts requests again.
    async fn probe(&mut self) {
        if self.follow_tail().await.is_ok() {
            self.stats.store_reachable();
            tracing::info!("the audit trail's store answers again");
        }
    }

    /// Encodes the batch after `next_seq` and appends it, with a digest if
    /// `want_digest` and stored key usage when due; `None` when there is
    /// nothing to write.
    async fn append(&mut self, batch: &mut Vec<queue::Item>, want_digest: bool) -> Option<Attempt> {
        let first = self.next_seq;
        let mut prev = [0u8; 32];
        prev.copy_from_slice(&self.prev_hash);
        // Encoding and hashing a window's events takes a while (~1 µs an
        // event), on the writer's own thread: no request waits for it.
        let events = std::mem::take(batch);
        let (events, block, prev) = encode(events, self.id_prefix, first, prev);
        *batch = events;
        let last = first + batch.len() as i64 - 1;
        let digest = (want_digest && last > self.signed_through).then(|| {
            AuditDigest::sign(
                &self.signer,
                self.next_digest,
                self.signed_through + 1,
                last,
                &prev,
                now_millis(),
            )
        });
        let usage_due = (self.queue.is_closed() || self.usage_written.elapsed() >= USAGE_EVERY)
            && (self.usage_behind() || !batch.is_empty());
        if batch.is_empty() && digest.is_none() && !usage_due {
            return None;
        }
        // Key usage is stored every USAGE_EVERY at most (see `usage`), with
        // this batch's, and the seq it covers through.
        let batch_usage = usage::of_batch(batch.iter().map(|i| &i.event), first, self.id_prefix);
        let usage = if usage_due {
            self.usage.take_for_write(&batch_usage)
        } else {
            Vec::new()
        };
        let usage_through = usage_due.then_some(last);
        let started = std::time::Instant::now();
        // A mutation's event, the last write, or a second since the last
        // sync: on disk before anyone is told. Other batches are in the
        // WAL (they survive the process being killed) and reach the disk
        // with the next sync: power loss costs at most ~1 s of them.
        let durable = self.queue.is_closed()
            || batch.iter().any(|i| i.done.is_some())
            || self.last_sync.elapsed() >= SYNC_AT_LEAST_EVERY;
        let result = self
            .store
            .append_audit(block, digest.as_ref(), &usage, usage_through, durable)
            .await;
        self.stats.write_seconds.observe(started.elapsed());
        Some(Attempt {
            first,
            last,
            prev,
            digest,
            usage_due,
            batch_usage,
            durable,
            result,
        })
    }

    /// Continues the chain from the stored tail (another process appended
    /// since this writer's last write).
    async fn follow_tail(&mut self) -> Result<(), StoreError> {
        let tail = self.store.audit_tail().await?;
        if let Some((seq, hash)) = tail.last_event {
            self.next_seq = seq + 1;
            self.prev_hash = hash;
        }
        if let Some(d) = tail.last_digest {
            self.next_digest = d.seq + 1;
            self.signed_through = d.last_event_seq;
        }
        Ok(())
    }
}

/// A batch as a block (none if empty), and the hash of its last event.
fn encode(
    batch: Vec<queue::Item>,
    id_prefix: [u8; 8],
    first: i64,
    mut prev: [u8; 32],
) -> (Vec<queue::Item>, Option<block::AuditBlock>, [u8; 32]) {
    let mut encoder = block::BlockEncoder::with_capacity(id_prefix, batch.len());
    for (item, seq) in batch.iter().zip(first..) {
        prev = encoder.push(&item.event, seq, &prev);
    }
    let block = encoder.into_block(first);
    (batch, block, prev)
}

/// The audit writer's nice value (the workers': 0).
const WRITER_NICE: i32 = 10;

/// Puts the calling thread (the writer) below the request workers: on a
/// busy machine a worker that becomes runnable goes first, so a batch's
/// encoding and write (~0.5 ms of CPU every flush window under load) fill
/// idle time instead of holding answers back; with a weight of about a
/// tenth of a worker's, the writer still gets far more CPU than it needs
/// (~4% of a core at 55,000 events/s). `trent bench --audit-off`
/// (Encrypt, Decrypt, GenerateDataKey at 16 and 64 connections) measured
/// audited/unaudited req/s at 0.92–0.97 before, 0.93–1.03 after (one run
/// each; this machine's noise is of that order).
fn lower_priority() {
    let thread = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(thread), WRITER_NICE) {
        tracing::warn!(error = %e, "could not lower the audit writer's priority");
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The outcome of verifying a trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub digests: u64,
    /// Events through this seq are covered by a valid digest.
    pub signed_through: i64,
    /// Events after the last digest (not yet signed).
    pub unsigned: u64,
}

/// Checks a trail event by event (in stored order), against its digests
/// (all of them, in order). Pure: the CLI feeds it pages from the store.
pub struct Verifier {
    /// `None`: digests are checked against the chain, their signatures not.
    public_key: Option<Vec<u8>>,
    digests: std::collections::VecDeque<AuditDigest>,
    next_seq: i64,
    prev_hash: Vec<u8>,
    next_digest: i64,
    report: VerifyReport,
}

impl Verifier {
    pub fn new(public_key: &[u8], digests: Vec<AuditDigest>) -> Self {
        Self::checking(Some(public_key), digests)
    }

    /// Checks the digests' signatures only with a `public_key` (a backup
    /// is checked without the root key that opens the signing key).
    pub fn checking(public_key: Option<&[u8]>, digests: Vec<AuditDigest>) -> Self {
        Self {
            public_key: public_key.map(<[u8]>::to_vec),
            digests: digests.into(),
            next_seq: 1,
            prev_hash: vec![0; 32],
            next_digest: 1,
            report: VerifyReport::default(),
        }
    }

    /// The next stored event. `Err` names the first problem.
    pub fn event(&mut self, e: &AuditRecord) -> Result<(), String> {
        if e.seq > self.next_seq {
            return Err(format!(
                "event seq {} was removed: the trail jumps from seq {} to seq {} (eventID {})",
                self.next_seq,
                self.next_seq - 1,
                e.seq,
                e.event_id
            ));
        }
        if e.seq < self.next_seq {
            return Err(format!(
                "event seq {} (eventID {}) is out of order after seq {}",
                e.seq,
                e.event_id,
                self.next_seq - 1
            ));
        }
        let hash = chain_hash(&self.prev_hash, e.seq, &e.stored);
        // Stored hashes may be prefixes (see `block::HASH_PREFIX`).
        let matches = |stored: &[u8], whole: &[u8]| {
            stored.len() >= block::HASH_PREFIX && whole.starts_with(stored)
        };
        if !matches(&e.hash, &hash) || !matches(&e.prev_hash, &self.prev_hash) {
            return Err(format!(
                "event seq {} (eventID {}) was changed, inserted or reordered: its hash does not follow from the chain",
                e.seq, e.event_id
            ));
        }
        self.prev_hash = hash.to_vec();
        self.next_seq += 1;
        self.report.events += 1;
        while let Some(d) = self.digests.front() {
            if d.last_event_seq > e.seq {
                break;
            }
            let d = self.digests.pop_front().expect("front exists");
            self.digest(&d, e.seq)?;
        }
        Ok(())
    }

    fn digest(&mut self, d: &AuditDigest, at_seq: i64) -> Result<(), String> {
        if let Some(key) = &self.public_key
            && !d.verify(key)
        {
            return Err(format!("digest {} has an invalid signature", d.seq));
        }
        if d.seq != self.next_digest {
            return Err(format!(
                "digest {} follows digest {}: a digest was removed or inserted",
                d.seq,
                self.next_digest - 1
            ));
        }
        if d.first_event_seq != self.report.signed_through + 1 || d.last_event_seq != at_seq {
            return Err(format!(
                "digest {} covers events {}..={}, but the previous digest ended at {}",
                d.seq, d.first_event_seq, d.last_event_seq, self.report.signed_through
            ));
        }
        if d.last_hash != self.prev_hash {
            return Err(format!(
                "digest {} does not match events {}..={}: an event in this range was changed, inserted, removed or reordered (and the chain recomputed)",
                d.seq, d.first_event_seq, d.last_event_seq
            ));
        }
        self.next_digest += 1;
        self.report.digests += 1;
        self.report.signed_through = d.last_event_seq;
        Ok(())
    }

    /// After the last event: a digest beyond it means the tail was cut.
    pub fn finish(self) -> Result<VerifyReport, String> {
        if let Some(d) = self.digests.front() {
            return Err(format!(
                "the trail was truncated: digest {} covers events through seq {}, but the trail ends at seq {}",
                d.seq,
                d.last_event_seq,
                self.next_seq - 1
            ));
        }
        let mut report = self.report;
        report.unsigned = (self.next_seq - 1 - report.signed_through).max(0) as u64;
        Ok(report)
    }
}

/// Unix milliseconds as `2026-11-23T11:30:00Z`.
pub fn iso8601(ms: i64) -> String {
    IsoTime(ms).to_string()
}

/// Displays Unix milliseconds as `2026-11-23T11:30:00Z`.
struct IsoTime(i64);

impl std::fmt::Display for IsoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.0.div_euclid(1000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        if !(0..=9999).contains(&y) {
            return write!(
                f,
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            );
        }
        // Digits by hand: `write!` with widths costs more than the rest of
        // the event's serialization of a field.
        let mut out = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut n: i64| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, rem / 3600);
        put(14, 2, rem % 3600 / 60);
        put(17, 2, rem % 60);
        f.write_str(std::str::from_utf8(&out).expect("ASCII digits"))
    }
}

/// Parses RFC 3339 (`2026-01-02T03:04:05Z`, fractions and `±HH:MM`
/// offsets allowed) or a bare date into Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if b.len() == 10 {
        return Some(days * 86_400_000);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut i = 19;
    let mut ms = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut scale = 100;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            ms += i64::from(c - b'0') * scale;
            scale /= 10;
            i += 1;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let minutes = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset * 60) * 1000 + ms)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests;
