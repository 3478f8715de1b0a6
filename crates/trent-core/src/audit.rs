//! The audit trail: one CloudTrail-shaped event per KMS, IAM and STS
//! request (allowed or denied, authenticated or not), hash-chained and
//! closed at intervals by signed digests.
//!
//! * [`AuditEvent`]: the typed facts of one event; [`AuditEvent::to_json`]
//!   renders CloudTrail's record (keys sorted: the canonical form that is
//!   hashed and stored).
//! * [`chain_hash`]: `SHA-256(prev_hash ‖ seq as u64 BE ‖ event JSON)`; the
//!   first event's `prev_hash` is 32 zero bytes.
//! * [`AuditDigest`]: closes the chain through an event: Ed25519 over
//!   [`AuditDigest::message`] (digest number, the range, the last hash, the
//!   time), so a rewritten chain (hashes recomputed) no longer matches.
//! * [`AuditLog`]: the in-memory queue and its writer task (group commit:
//!   one store transaction per batch, with a digest when due).
//! * [`Verifier`]: pure verification of a stored trail, event by event.

use crate::model::{Identity, PrincipalKind, now_millis};
use crate::store::{Store, StoreError};
use serde_json::{Map, Value, json};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use trent_crypto::SigningKey;

pub mod lookup;
pub mod sink;
pub mod usage;

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

/// The facts of one event. Built after the response is ready; rendered to
/// JSON by the writer task, off the request path.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub time_ms: i64,
    pub source: EventSource,
    pub name: String,
    pub region: String,
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub actor: Actor,
    /// Allow-listed request fields (never plaintext, key material, secrets).
    pub request_parameters: Option<Value>,
    pub response_elements: Option<Value>,
    /// `(errorCode, errorMessage)` of a failed request.
    pub error: Option<(String, String)>,
    pub request_id: Option<String>,
    pub read_only: bool,
    /// `AwsServiceEvent` (Trent acting on its own) instead of `AwsApiCall`.
    pub service_event: bool,
    /// ARNs of the KMS keys involved.
    pub key_arns: Vec<String>,
}

impl AuditEvent {
    /// The account the event is recorded for.
    fn account(&self) -> Option<&str> {
        match &self.actor {
            Actor::Caller(identity) => Some(&identity.account),
            Actor::Service { account } => Some(account),
            Actor::Unknown { .. } => self.key_arns.first().and_then(|arn| arn_account(arn)),
        }
    }

    /// The principal ARN, for the index column.
    pub fn principal_arn(&self) -> Option<&str> {
        match &self.actor {
            Actor::Caller(identity) => Some(&identity.principal_arn),
            _ => None,
        }
    }

    fn user_identity(&self) -> Value {
        match &self.actor {
            Actor::Caller(identity) => {
                let mut m = Map::new();
                let kind = match &identity.kind {
                    PrincipalKind::Root => "Root",
                    PrincipalKind::User => "IAMUser",
                    PrincipalKind::AssumedRole { .. } => "AssumedRole",
                };
                m.insert("type".into(), kind.into());
                m.insert("principalId".into(), identity.user_id.clone().into());
                m.insert("arn".into(), identity.principal_arn.clone().into());
                m.insert("accountId".into(), identity.account.clone().into());
                m.insert("accessKeyId".into(), identity.access_key_id.clone().into());
                if let Some(name) = &identity.username {
                    m.insert("userName".into(), name.clone().into());
                }
                if let PrincipalKind::AssumedRole { role_arn } = &identity.kind {
                    m.insert(
                        "sessionContext".into(),
                        json!({"sessionIssuer": {"type": "Role", "arn": role_arn,
                               "accountId": identity.account}}),
                    );
                }
                Value::Object(m)
            }
            Actor::Unknown { access_key_id } => match access_key_id {
                Some(id) => json!({"type": "Unknown", "accessKeyId": id}),
                None => json!({"type": "Unknown"}),
            },
            Actor::Service { account } => {
                json!({"accountId": account, "invokedBy": "kms.amazonaws.com"})
            }
        }
    }

    /// The CloudTrail record, keys sorted (canonical), compact.
    pub fn to_json(&self, event_id: &str) -> String {
        let mut m = Map::new();
        m.insert("eventVersion".into(), "1.08".into());
        m.insert("userIdentity".into(), self.user_identity());
        m.insert("eventTime".into(), iso8601(self.time_ms).into());
        m.insert("eventSource".into(), self.source.as_str().into());
        m.insert("eventName".into(), self.name.clone().into());
        m.insert("awsRegion".into(), self.region.clone().into());
        let ip = match (self.service_event, self.source_ip) {
            (true, _) => "kms.amazonaws.com".to_owned(),
            (false, Some(ip)) => ip.to_string(),
            (false, None) => String::new(),
        };
        m.insert("sourceIPAddress".into(), ip.into());
        if let Some(agent) = &self.user_agent {
            m.insert("userAgent".into(), agent.clone().into());
        }
        m.insert(
            "requestParameters".into(),
            self.request_parameters.clone().unwrap_or(Value::Null),
        );
        m.insert(
            "responseElements".into(),
            self.response_elements.clone().unwrap_or(Value::Null),
        );
        if let Some((code, message)) = &self.error {
            m.insert("errorCode".into(), code.clone().into());
            m.insert("errorMessage".into(), message.clone().into());
        }
        if let Some(id) = &self.request_id {
            m.insert("requestID".into(), id.clone().into());
        }
        m.insert("eventID".into(), event_id.into());
        m.insert("readOnly".into(), self.read_only.into());
        if !self.key_arns.is_empty() {
            let resources: Vec<Value> = self
                .key_arns
                .iter()
                .map(|arn| {
                    json!({"accountId": arn_account(arn).unwrap_or(""),
                           "type": "AWS::KMS::Key", "ARN": arn})
                })
                .collect();
            m.insert("resources".into(), Value::Array(resources));
        }
        m.insert(
            "eventType".into(),
            if self.service_event {
                "AwsServiceEvent"
            } else {
                "AwsApiCall"
            }
            .into(),
        );
        // As CloudTrail records KMS: every KMS event (crypto operations
        // included) is a management event.
        m.insert("managementEvent".into(), true.into());
        if let Some(account) = self.account() {
            m.insert("recipientAccountId".into(), account.into());
        }
        m.insert("eventCategory".into(), "Management".into());
        Value::Object(m).to_string()
    }
}

/// The account of an ARN (`arn:aws:kms:REGION:ACCOUNT:...`).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
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
    pub event_json: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
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
}

/// The chain hash of an event.
pub fn chain_hash(prev_hash: &[u8], seq: i64, event_json: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(prev_hash.len() + 8 + event_json.len());
    data.extend_from_slice(prev_hash);
    data.extend_from_slice(&seq.to_be_bytes());
    data.extend_from_slice(event_json.as_bytes());
    trent_crypto::sha256(&data).to_vec()
}

/// Builds the stored record of `event` at `seq` after `prev_hash`.
pub fn record(event: &AuditEvent, event_id: String, seq: i64, prev_hash: &[u8]) -> AuditRecord {
    let event_json = event.to_json(&event_id);
    let hash = chain_hash(prev_hash, seq, &event_json);
    AuditRecord {
        seq,
        event_id,
        event_time_ms: event.time_ms,
        key_arn: event.key_arns.first().cloned(),
        principal_arn: event.principal_arn().map(str::to_owned),
        event_name: event.name.clone(),
        event_json,
        prev_hash: prev_hash.to_vec(),
        hash,
    }
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
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            digest_every_events: 1000,
            digest_every: Duration::from_secs(5),
            max_batch: 1000,
        }
    }
}

/// The audit sink failed: the event was not stored.
#[derive(Debug, thiserror::Error)]
#[error("audit trail unavailable: {0}")]
pub struct AuditError(pub String);

type Done = oneshot::Sender<Result<(), String>>;

enum Msg {
    Event(Box<AuditEvent>, Option<Done>),
    Close(oneshot::Sender<()>),
}

/// Events queued at most, in memory, before callers wait for the writer.
pub const QUEUE_CAPACITY: usize = 20_000;

/// The queue in front of the audit writer. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    stats: Arc<sink::AuditStats>,
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
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let mut writer = Writer {
            store,
            signer,
            config,
            next_seq: 1,
            prev_hash: vec![0; 32],
            next_digest: 1,
            signed_through: 0,
            oldest_unsigned: None,
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
        tokio::spawn(writer.run(rx));
        Ok(Self { tx, stats })
    }

    /// The writer's counters and health.
    pub fn stats(&self) -> &sink::AuditStats {
        &self.stats
    }

    /// Events queued and not yet taken by the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues an event. Waits only while the queue is full (the writer
    /// behind the store by [`QUEUE_CAPACITY`] events): backpressure instead
    /// of unbounded memory or dropped events.
    pub async fn record(&self, event: AuditEvent) {
        if self
            .tx
            .send(Msg::Event(Box::new(event), None))
            .await
            .is_err()
        {
            tracing::error!("audit writer is gone: event dropped");
        }
    }

    /// Queues an event and waits until its batch is committed.
    pub async fn record_durable(&self, event: AuditEvent) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Event(Box::new(event), Some(done)))
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
        if self.tx.send(Msg::Close(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

struct Writer {
    store: Arc<dyn Store>,
    signer: SigningKey,
    config: AuditConfig,
    next_seq: i64,
    prev_hash: Vec<u8>,
    next_digest: i64,
    signed_through: i64,
    oldest_unsigned: Option<tokio::time::Instant>,
    stream: Option<sink::JsonLinesSink>,
    stats: Arc<sink::AuditStats>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        loop {
            let deadline = self.oldest_unsigned.map(|t| t + self.config.digest_every);
            let first = tokio::select! {
                msg = rx.recv() => msg,
                _ = sleep_until(deadline) => {
                    self.write(Vec::new(), true).await;
                    continue;
                }
            };
            let mut batch = Vec::new();
            let mut closing = None;
            match first {
                None => {
                    self.write(batch, true).await;
                    return;
                }
                Some(Msg::Close(done)) => closing = Some(done),
                Some(Msg::Event(e, done)) => batch.push((e, done)),
            }
            // Group commit: everything that queued up meanwhile goes in the
            // same transaction.
            while closing.is_none() && batch.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok(Msg::Event(e, done)) => batch.push((e, done)),
                    Ok(Msg::Close(done)) => closing = Some(done),
                    Err(_) => break,
                }
            }
            if let Some(done) = closing {
                // Whatever is still queued is written before the last digest.
                while let Ok(Msg::Event(e, d)) = rx.try_recv() {
                    batch.push((e, d));
                }
                self.write(batch, true).await;
                let _ = done.send(());
                return;
            }
            let unsigned = self.next_seq - 1 - self.signed_through + batch.len() as i64;
            let due = unsigned >= self.config.digest_every_events
                || deadline.is_some_and(|d| d <= tokio::time::Instant::now());
            self.write(batch, due).await;
        }
    }

    /// One transaction: the batch, and a digest through its end if `digest`
    /// (and anything is unsigned).
    async fn write(&mut self, batch: Vec<(Box<AuditEvent>, Option<Done>)>, digest: bool) {
        let mut records = Vec::with_capacity(batch.len());
        let mut prev = self.prev_hash.clone();
        let mut seq = self.next_seq;
        for (event, _) in &batch {
            let r = record(event, uuid::Uuid::new_v4().to_string(), seq, &prev);
            prev.clone_from(&r.hash);
            records.push(r);
            seq += 1;
        }
        let last = seq - 1;
        let digest = (digest && last > self.signed_through).then(|| {
            AuditDigest::sign(
                &self.signer,
                self.next_digest,
                self.signed_through + 1,
                last,
                &prev,
                now_millis(),
            )
        });
        if records.is_empty() && digest.is_none() {
            self.oldest_unsigned = None;
            return;
        }
        let events = batch.iter().map(|(e, _)| &**e);
        let usage = usage::last_usage(events.zip(records.iter().map(|r| r.event_id.as_str())));
        let started = std::time::Instant::now();
        let result = self
            .store
            .append_audit(&records, digest.as_ref(), &usage)
            .await;
        self.stats.write_seconds.observe(started.elapsed());
        self.stats.store_result(records.len(), result.is_ok());
        if result.is_ok() {
            sink::after_commit(&mut self.stream, &records, &self.stats);
        }
        let outcome = match result {
            Ok(()) => {
                self.next_seq = seq;
                self.prev_hash = prev;
                if let Some(d) = &digest {
                    self.next_digest = d.seq + 1;
                    self.signed_through = d.last_event_seq;
                    self.oldest_unsigned = None;
                } else if !records.is_empty() && self.oldest_unsigned.is_none() {
                    self.oldest_unsigned = Some(tokio::time::Instant::now());
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, events = records.len(), "audit write failed; events lost");
                Err(e.to_string())
            }
        };
        for (_, done) in batch {
            if let Some(done) = done {
                let _ = done.send(outcome.clone());
            }
        }
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
    public_key: Vec<u8>,
    digests: std::collections::VecDeque<AuditDigest>,
    next_seq: i64,
    prev_hash: Vec<u8>,
    next_digest: i64,
    report: VerifyReport,
}

impl Verifier {
    pub fn new(public_key: &[u8], digests: Vec<AuditDigest>) -> Self {
        Self {
            public_key: public_key.to_vec(),
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
        let hash = chain_hash(&self.prev_hash, e.seq, &e.event_json);
        if hash != e.hash || e.prev_hash != self.prev_hash {
            return Err(format!(
                "event seq {} (eventID {}) was changed, inserted or reordered: its hash does not follow from the chain",
                e.seq, e.event_id
            ));
        }
        check_columns(e)?;
        self.prev_hash = hash;
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
        if !d.verify(&self.public_key) {
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

/// The index columns must say what the (hashed) JSON says.
fn check_columns(e: &AuditRecord) -> Result<(), String> {
    let v: Value = serde_json::from_str(&e.event_json)
        .map_err(|_| format!("event seq {} is not valid JSON", e.seq))?;
    let first_arn = v["resources"][0]["ARN"].as_str();
    let ok = v["eventID"].as_str() == Some(&e.event_id)
        && v["eventName"].as_str() == Some(&e.event_name)
        && v["eventTime"].as_str() == Some(&iso8601(e.event_time_ms))
        && first_arn == e.key_arn.as_deref()
        && (e.principal_arn.is_none()
            || v["userIdentity"]["arn"].as_str() == e.principal_arn.as_deref());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "event seq {} (eventID {}) was changed: its index columns disagree with its JSON",
            e.seq, e.event_id
        ))
    }
}

/// Unix milliseconds as `2026-11-23T11:30:00Z`.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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
