//! How the trail is stored: a block (one writer batch, one store row) of
//! compact event records, each hash-chained as it is stored.
//!
//! A record is the event's facts in [postcard]'s wire format (varints,
//! length-prefixed strings; stable and documented), not its CloudTrail
//! JSON: the JSON is rendered when the trail is read (lookups, export, the
//! stream), never on the request path or by the writer. Strings go through
//! a table that starts empty at each segment's first record (the writer
//! starts one per block): a string's first record carries it, later
//! records its number. Under load a block holds hundreds of events by the
//! same caller, agent and key, so a record is ~70 bytes where its JSON was
//! ~1,100.
//!
//! The chain hashes a record's stored bytes (see [`super::chain_hash`]).
//! They include the strings the record introduces and its segment mark,
//! so what every record means follows from the hashed records before it
//! in its segment, whatever the block boundaries.
//!
//! Encoding 1 (blocks written before this format) holds CloudTrail JSON
//! lines, each hashed as its text; both are read.

use super::{Actor, AuditEvent, AuditRecord, EventSource, Id, chain_hash, event_id};
use crate::model::{Identity, PrincipalKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Blocks of CloudTrail JSON lines (the first format).
pub const ENCODING_JSON_LINES: i64 = 1;
/// Blocks of compact records (this module).
pub const ENCODING_COMPACT: i64 = 2;

/// One stored block: consecutive events `first_seq..=last_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBlock {
    pub first_seq: i64,
    pub last_seq: i64,
    pub first_time_ms: i64,
    pub last_time_ms: i64,
    /// [`ENCODING_JSON_LINES`] or [`ENCODING_COMPACT`].
    pub encoding: i64,
    pub events: Vec<u8>,
    /// Each event's 32-byte chain hash, in order.
    pub hashes: Vec<u8>,
}

/// A string in a record: new to its segment, or the number of one seen.
#[derive(Serialize, Deserialize, Clone, Copy)]
enum Str<'a> {
    New(&'a str),
    Seen(u32),
}

/// The stored form of an event. Field order is the wire format: append
/// new fields at the end (as options) and never reorder.
#[derive(Serialize, Deserialize)]
struct Record<'a> {
    /// Set on a segment's first record: the writer's event-id prefix. The
    /// string table starts empty there.
    segment: Option<[u8; 8]>,
    time_ms: i64,
    source: u8,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    region: Str<'a>,
    source_ip: Option<IpAddr>,
    #[serde(borrow)]
    user_agent: Option<Str<'a>>,
    #[serde(borrow)]
    actor: RecordActor<'a>,
    #[serde(borrow)]
    request_parameters: Option<Str<'a>>,
    #[serde(borrow)]
    response_elements: Option<Str<'a>>,
    #[serde(borrow)]
    error: Option<(Str<'a>, Str<'a>)>,
    /// Unique per request: not worth a table entry.
    request_id: Option<&'a str>,
    read_only: bool,
    service_event: bool,
    #[serde(borrow)]
    key_arns: Vec<Str<'a>>,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
enum RecordActor<'a> {
    Caller {
        /// 0 root, 1 IAM user, 2 assumed role.
        kind: u8,
        #[serde(borrow)]
        role_arn: Option<Str<'a>>,
        #[serde(borrow)]
        user_id: Str<'a>,
        #[serde(borrow)]
        arn: Str<'a>,
        #[serde(borrow)]
        account: Str<'a>,
        #[serde(borrow)]
        access_key_id: Str<'a>,
        #[serde(borrow)]
        username: Option<Str<'a>>,
    },
    Unknown {
        #[serde(borrow)]
        access_key_id: Option<Str<'a>>,
    },
    Service {
        #[serde(borrow)]
        account: Str<'a>,
    },
}

fn source_code(source: EventSource) -> u8 {
    match source {
        EventSource::Kms => 0,
        EventSource::Iam => 1,
        EventSource::Sts => 2,
        EventSource::CloudTrail => 3,
    }
}

fn source_from(code: u8) -> Option<EventSource> {
    Some(match code {
        0 => EventSource::Kms,
        1 => EventSource::Iam,
        2 => EventSource::Sts,
        3 => EventSource::CloudTrail,
        _ => return None,
    })
}

/// Encodes one block's events, hashing each record as it is appended.
pub struct BlockEncoder<'a> {
    id_prefix: [u8; 8],
    table: HashMap<&'a str, u32, foldhash::fast::FixedState>,
    /// The last caller (by `Arc` address: the batch's events keep it
    /// alive) and its actor as later records name it, so a run of one
    /// caller's events hashes its strings once.
    last_caller: Option<(usize, RecordActor<'a>)>,
    /// The records, back to back.
    pub events: Vec<u8>,
    /// Their chain hashes.
    pub hashes: Vec<u8>,
}

impl<'a> BlockEncoder<'a> {
    /// A block (and segment) whose events' ids begin with `id_prefix`.
    pub fn new(id_prefix: [u8; 8]) -> Self {
        Self::with_capacity(id_prefix, 0)
    }

    /// [`Self::new`] with room for about `events` events.
    pub fn with_capacity(id_prefix: [u8; 8], events: usize) -> Self {
        Self {
            id_prefix,
            table: HashMap::default(),
            last_caller: None,
            // Typical records after a segment's first: ~70 bytes.
            events: Vec::with_capacity(events * 96 + 512),
            hashes: Vec::with_capacity(events * 32),
        }
    }

    fn str(&mut self, s: &'a str) -> Str<'a> {
        let next = self.table.len() as u32;
        match self.table.entry(s) {
            std::collections::hash_map::Entry::Occupied(e) => Str::Seen(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next);
                Str::New(s)
            }
        }
    }

    fn opt(&mut self, s: Option<&'a str>) -> Option<Str<'a>> {
        s.map(|s| self.str(s))
    }

    /// A string of the table as a later record names it.
    fn seen(&self, s: Str<'a>) -> Str<'a> {
        match s {
            Str::New(text) => Str::Seen(self.table[text]),
            seen => seen,
        }
    }

    fn caller(&mut self, identity: &'a Arc<Identity>) -> RecordActor<'a> {
        let address = Arc::as_ptr(identity) as usize;
        if let Some((last, actor)) = self.last_caller
            && last == address
        {
            return actor;
        }
        let (kind, role_arn) = match &identity.kind {
            PrincipalKind::Root => (0, None),
            PrincipalKind::User => (1, None),
            PrincipalKind::AssumedRole { role_arn } => (2, Some(role_arn.as_str())),
        };
        let actor = RecordActor::Caller {
            kind,
            role_arn: self.opt(role_arn),
            user_id: self.str(&identity.user_id),
            arn: self.str(&identity.principal_arn),
            account: self.str(&identity.account),
            access_key_id: self.str(&identity.access_key_id),
            username: self.opt(identity.username.as_deref()),
        };
        if let RecordActor::Caller {
            kind,
            role_arn,
            user_id,
            arn,
            account,
            access_key_id,
            username,
        } = actor
        {
            let later = RecordActor::Caller {
                kind,
                role_arn: role_arn.map(|s| self.seen(s)),
                user_id: self.seen(user_id),
                arn: self.seen(arn),
                account: self.seen(account),
                access_key_id: self.seen(access_key_id),
                username: username.map(|s| self.seen(s)),
            };
            self.last_caller = Some((address, later));
        }
        actor
    }

    /// Appends `event` as event `seq` after `prev_hash`; returns its hash.
    pub fn push(&mut self, event: &'a AuditEvent, seq: i64, prev_hash: &[u8]) -> [u8; 32] {
        // Strings are numbered in the order they appear on the wire (the
        // field order of `Record`), which is also the decoder's order.
        let segment = self.events.is_empty().then_some(self.id_prefix);
        let name = self.str(&event.name);
        let region = self.str(&event.region);
        let user_agent = self.opt(event.user_agent.as_deref());
        let actor = match &event.actor {
            Actor::Caller(identity) => self.caller(identity),
            Actor::Unknown { access_key_id } => RecordActor::Unknown {
                access_key_id: self.opt(access_key_id.as_deref()),
            },
            Actor::Service { account } => RecordActor::Service {
                account: self.str(account),
            },
        };
        let request_parameters = self.opt(event.request_parameters.as_deref());
        let response_elements = self.opt(event.response_elements.as_deref());
        let error = event
            .error
            .as_ref()
            .map(|(code, message)| (self.str(code), self.str(message)));
        let key_arns = event.key_arns.iter().map(|arn| self.str(arn)).collect();
        let mut request_id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let record = Record {
            segment,
            time_ms: event.time_ms,
            source: source_code(event.source),
            name,
            region,
            source_ip: event.source_ip,
            user_agent,
            actor,
            request_parameters,
            response_elements,
            error,
            request_id: event
                .request_id
                .as_ref()
                .map(|id| id.as_text(&mut request_id)),
            read_only: event.read_only,
            service_event: event.service_event,
            key_arns,
        };
        let start = self.events.len();
        let events = std::mem::take(&mut self.events);
        self.events = postcard::to_extend(&record, events)
            .expect("encoding to a Vec cannot fail: no field is unsized or unsupported");
        let hash = chain_hash(prev_hash, seq, &self.events[start..]);
        self.hashes.extend_from_slice(&hash);
        hash
    }
}

/// Decodes records in order, keeping each segment's string table.
#[derive(Default)]
pub struct BlockDecoder {
    id_prefix: Option<[u8; 8]>,
    table: Vec<String>,
}

/// A record that cannot be decoded (a changed or misplaced record).
#[derive(Debug)]
struct Undecodable;

impl BlockDecoder {
    fn str(&mut self, s: Str<'_>) -> Result<String, Undecodable> {
        match s {
            Str::New(s) => {
                self.table.push(s.to_owned());
                Ok(s.to_owned())
            }
            Str::Seen(n) => self.table.get(n as usize).cloned().ok_or(Undecodable),
        }
    }

    fn opt(&mut self, s: Option<Str<'_>>) -> Result<Option<String>, Undecodable> {
        s.map(|s| self.str(s)).transpose()
    }

    /// The first record in `bytes`: the event, its id and its length.
    fn event(
        &mut self,
        bytes: &[u8],
        seq: i64,
    ) -> Result<(AuditEvent, String, usize), Undecodable> {
        let (r, rest) = postcard::take_from_bytes::<Record>(bytes).map_err(|_| Undecodable)?;
        if let Some(prefix) = r.segment {
            self.id_prefix = Some(prefix);
            self.table.clear();
        }
        let prefix = self.id_prefix.ok_or(Undecodable)?;
        // Strings in wire order, as the encoder numbered them.
        let name = self.str(r.name)?;
        let region = self.str(r.region)?;
        let user_agent = self.opt(r.user_agent)?;
        let actor = match r.actor {
            RecordActor::Caller {
                kind,
                role_arn,
                user_id,
                arn,
                account,
                access_key_id,
                username,
            } => {
                let role_arn = self.opt(role_arn)?;
                let kind = match (kind, role_arn) {
                    (0, None) => PrincipalKind::Root,
                    (1, None) => PrincipalKind::User,
                    (2, Some(role_arn)) => PrincipalKind::AssumedRole { role_arn },
                    _ => return Err(Undecodable),
                };
                let user_id = self.str(user_id)?;
                let principal_arn = self.str(arn)?;
                let account = self.str(account)?;
                let access_key_id = self.str(access_key_id)?;
                let username = self.opt(username)?;
                Actor::Caller(Arc::new(Identity {
                    account,
                    principal_arn,
                    user_id,
                    username,
                    kind,
                    access_key_id,
                    secret: Default::default(),
                    session_token_sha256: None,
                    expires_ms: None,
                    policies: Vec::new(),
                }))
            }
            RecordActor::Unknown { access_key_id } => Actor::Unknown {
                access_key_id: self.opt(access_key_id)?,
            },
            RecordActor::Service { account } => Actor::Service {
                account: self.str(account)?,
            },
        };
        let request_parameters = self.opt(r.request_parameters)?;
        let response_elements = self.opt(r.response_elements)?;
        let error = match r.error {
            Some((code, message)) => Some((self.str(code)?, self.str(message)?)),
            None => None,
        };
        let key_arns = r
            .key_arns
            .into_iter()
            .map(|s| self.str(s).map(Into::into))
            .collect::<Result<_, _>>()?;
        let event = AuditEvent {
            time_ms: r.time_ms,
            source: source_from(r.source).ok_or(Undecodable)?,
            name: name.into(),
            region: region.into(),
            source_ip: r.source_ip,
            user_agent: user_agent.map(Into::into),
            actor,
            request_parameters,
            response_elements,
            error,
            request_id: r.request_id.map(Id::parse),
            read_only: r.read_only,
            service_event: r.service_event,
            key_arns,
        };
        Ok((event, event_id(prefix, seq), bytes.len() - rest.len()))
    }

    /// A block's events, in order, as stored records with their CloudTrail
    /// JSON; `prev_hash` is the hash before the block's first event. A
    /// record that cannot be decoded ends the block: it is returned with
    /// the remaining bytes and no JSON, and verification reports it as
    /// changed.
    pub fn block(&mut self, block: &AuditBlock, prev_hash: &[u8]) -> Vec<AuditRecord> {
        let mut hashes = block.hashes.chunks(32);
        let mut prev = prev_hash.to_vec();
        let mut out = Vec::new();
        let mut push = |mut record: AuditRecord| {
            record.hash = hashes.next().unwrap_or_default().to_vec();
            record.prev_hash = std::mem::replace(&mut prev, record.hash.clone());
            out.push(record);
        };
        if block.encoding == ENCODING_JSON_LINES {
            let lines = block.events.split(|b| *b == b'\n');
            for (seq, line) in (block.first_seq..=block.last_seq).zip(lines) {
                let json = String::from_utf8_lossy(line).into_owned();
                push(AuditRecord::from_stored(seq, json, Vec::new(), Vec::new()));
            }
            return out;
        }
        let mut at = 0;
        let mut seq = block.first_seq;
        while at < block.events.len() {
            let rest = &block.events[at..];
            let Ok((event, event_id, len)) = self.event(rest, seq) else {
                // Without a valid record the rest cannot be delimited.
                push(AuditRecord {
                    seq,
                    event_id: "unreadable".into(),
                    event_time_ms: 0,
                    key_arn: None,
                    principal_arn: None,
                    event_name: String::new(),
                    event_json: String::new(),
                    stored: rest.to_vec(),
                    prev_hash: Vec::new(),
                    hash: Vec::new(),
                });
                break;
            };
            push(AuditRecord {
                seq,
                event_json: event.to_json(&event_id),
                event_id,
                event_time_ms: event.time_ms,
                key_arn: event.key_arns.first().map(|arn| arn.to_string()),
                principal_arn: event.principal_arn().map(str::to_owned),
                event_name: event.name.into_owned(),
                stored: rest[..len].to_vec(),
                prev_hash: Vec::new(),
                hash: Vec::new(),
            });
            at += len;
            seq += 1;
        }
        out
    }
}

/// Where each record of a compact block's `events` starts and ends,
/// without decoding strings (for tools that move records around, such as
/// tamper tests).
pub fn record_spans(events: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut at = 0;
    while at < events.len() {
        let Ok((_, rest)) = postcard::take_from_bytes::<Record>(&events[at..]) else {
            spans.push(at..events.len());
            break;
        };
        let end = events.len() - rest.len();
        spans.push(at..end);
        at = end;
    }
    spans
}
