//! How the trail is stored: a block (one writer batch, one store row) of
//! compact event records, each hash-chained as it is stored.
//!
//! A record is the event's facts in [postcard]'s wire format (varints,
//! length-prefixed strings; stable and documented), not its CloudTrail
//! JSON: the JSON is rendered when the trail is read (lookups, export, the
//! stream), never on the request path or by the writer. Strings go through
//! a table that starts empty at each segment's first record (the writer
//! starts one per block): a string's first record carries it, later
//! records its number. A record also leans on the one before it in its
//! segment: its time as a difference, and its source address, caller and
//! request id (the previous one's counter moved on) when they repeat. Under
//! load a block holds hundreds of events by the same caller, agent and key,
//! so a record is ~24 bytes where its JSON was ~1,100.
//!
//! The chain hashes a record's stored bytes (see [`super::chain_hash`]).
//! They include the strings the record introduces and its segment mark,
//! so what every record means follows from the hashed records before it
//! in its segment, whatever the block boundaries. A block keeps the first
//! [`HASH_PREFIX`] bytes of each event's hash, enough to name the first
//! changed event, and all 32 of its last event's, where the chain
//! continues.
//!
//! Since encoding 4 a record ends with the account it is delivered to when
//! that is not the caller's (the key owner's copy of a cross-account call).
//!
//! Blocks written by earlier versions are read too: encoding 1 holds
//! CloudTrail JSON lines, each hashed as its text; encoding 2, records
//! without references to the previous one and with whole hashes; encoding
//! 3, records without their recipient.

use super::{Actor, AuditEvent, AuditRecord, EventSource, Id, chain_hash, event_id};
use crate::model::{Identity, PrincipalKind};
pub use crate::store::trail::AuditBlock;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Blocks of CloudTrail JSON lines (the first format).
pub const ENCODING_JSON_LINES: i64 = 1;
/// Blocks of compact records, each on its own, and whole hashes (the
/// second format).
pub const ENCODING_COMPACT: i64 = 2;
/// Blocks of compact records that refer to the one before (the third
/// format).
pub const ENCODING_DELTA: i64 = 3;
/// [`ENCODING_DELTA`] records, each followed by its recipient account when
/// not the caller's (this module).
pub const ENCODING_RECIPIENT: i64 = 4;
/// Bytes of each event's hash an [`ENCODING_DELTA`] block keeps (of its
/// last event's: all 32).
pub const HASH_PREFIX: usize = 8;

/// A string in a record: new to its segment, or the number of one seen.
#[derive(Serialize, Deserialize, Clone, Copy)]
enum Str<'a> {
    New(&'a str),
    Seen(u32),
}

/// An event as [`ENCODING_COMPACT`] stored it (read only).
#[derive(Deserialize)]
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

/// The stored form of an event ([`ENCODING_DELTA`]). Field order is the
/// wire format: append new fields at the end (as options) and never
/// reorder. "The previous record" is the one before in its segment.
#[derive(Serialize, Deserialize)]
struct DeltaRecord<'a> {
    /// Set on a segment's first record: the writer's event-id prefix. The
    /// string table starts empty there.
    segment: Option<[u8; 8]>,
    /// Milliseconds after the previous record's time (negative: before
    /// it); the segment's first record: the time itself.
    time_delta: i64,
    source: u8,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    region: Str<'a>,
    source_ip: IpRef,
    #[serde(borrow)]
    user_agent: Option<Str<'a>>,
    /// `None`: the previous record's caller.
    #[serde(borrow)]
    actor: Option<RecordActor<'a>>,
    #[serde(borrow)]
    request_parameters: Option<Str<'a>>,
    #[serde(borrow)]
    response_elements: Option<Str<'a>>,
    #[serde(borrow)]
    error: Option<(Str<'a>, Str<'a>)>,
    #[serde(borrow)]
    request_id: IdRef<'a>,
    read_only: bool,
    service_event: bool,
    #[serde(borrow)]
    key_arns: Strs<'a>,
}

/// A record's source address.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
enum IpRef {
    None,
    /// The previous record's.
    Same,
    Addr(IpAddr),
}

/// A record's request id.
#[derive(Serialize, Deserialize, Clone, Copy)]
enum IdRef<'a> {
    None,
    /// The previous record's UUID with its last 8 bytes, read as a
    /// big-endian counter, moved by this much (Trent's request ids are a
    /// per-process prefix and a counter).
    Step(i64),
    Uuid([u8; 16]),
    Text(&'a str),
}

/// Strings inline up to two (an event's key ARNs), on the wire a sequence.
struct Strs<'a>(smallvec::SmallVec<[Str<'a>; 2]>);

impl Serialize for Strs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Strs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Str<'a>>::deserialize(d).map(|v| Strs(v.into()))
    }
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

/// Encodes one block's events ([`ENCODING_RECIPIENT`]), hashing each record
/// as it is appended.
pub struct BlockEncoder<'a> {
    id_prefix: [u8; 8],
    table: HashMap<&'a str, u32, foldhash::fast::FixedState>,
    /// Per string field of a record, the last string and its number: a
    /// field that repeats (an interned string: the same pointer; or equal
    /// bytes) is found without hashing it.
    last: [Option<(&'a str, u32)>; FIELDS],
    /// The last caller (by `Arc` address: the batch's events keep it
    /// alive) and its actor as later records name it, so a run of one
    /// caller's events hashes its strings once.
    last_caller: Option<(usize, RecordActor<'a>)>,
    /// The previous record's caller (`Arc` address), when it had one.
    previous_caller: Option<usize>,
    previous_time: i64,
    previous_ip: Option<IpAddr>,
    previous_request: Option<[u8; 16]>,
    events: Vec<u8>,
    /// Hash prefixes of the events before the last.
    hashes: Vec<u8>,
    last_hash: Option<[u8; 32]>,
    count: usize,
    times: (i64, i64),
    /// The accounts the events are filed into, each once.
    accounts: Vec<&'a str>,
}

/// String fields with a `last` entry of their own.
const FIELDS: usize = 5;
const NAME: usize = 0;
const REGION: usize = 1;
const USER_AGENT: usize = 2;
const PARAMETERS: usize = 3;
const KEY_ARN: usize = 4;

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
            last: [None; FIELDS],
            last_caller: None,
            previous_caller: None,
            previous_time: 0,
            previous_ip: None,
            previous_request: None,
            // Typical records after a segment's first: ~24 bytes.
            events: Vec::with_capacity(events * 32 + 512),
            hashes: Vec::with_capacity(events * HASH_PREFIX + 32),
            last_hash: None,
            count: 0,
            times: (i64::MAX, i64::MIN),
            accounts: Vec::new(),
        }
    }

    /// `s` as a record names it, and its number in the table.
    fn numbered(&mut self, s: &'a str) -> (Str<'a>, u32) {
        let next = self.table.len() as u32;
        match self.table.entry(s) {
            std::collections::hash_map::Entry::Occupied(e) => (Str::Seen(*e.get()), *e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next);
                (Str::New(s), next)
            }
        }
    }

    fn str(&mut self, s: &'a str) -> Str<'a> {
        self.numbered(s).0
    }

    fn opt(&mut self, s: Option<&'a str>) -> Option<Str<'a>> {
        s.map(|s| self.str(s))
    }

    /// [`Self::str`] for a field that tends to repeat from record to record.
    fn field(&mut self, field: usize, s: &'a str) -> Str<'a> {
        if let Some((last, n)) = self.last[field]
            && (std::ptr::eq(last, s) || last == s)
        {
            return Str::Seen(n);
        }
        let (named, n) = self.numbered(s);
        self.last[field] = Some((s, n));
        named
    }

    /// A string of the table as a later record names it.
    fn seen(&self, s: Str<'a>) -> Str<'a> {
        match s {
            Str::New(text) => Str::Seen(self.table[text]),
            seen => seen,
        }
    }

    /// The actor of a caller's event; `None` when the previous record's
    /// caller is the same.
    fn caller(&mut self, identity: &'a Arc<Identity>) -> Option<RecordActor<'a>> {
        let address = Arc::as_ptr(identity) as usize;
        if self.previous_caller.replace(address) == Some(address) {
            return None;
        }
        if let Some((last, actor)) = self.last_caller
            && last == address
        {
            return Some(actor);
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
        Some(actor)
    }

    fn request_id(&mut self, id: Option<&'a Id>) -> IdRef<'a> {
        let uuid = match id {
            None => {
                self.previous_request = None;
                return IdRef::None;
            }
            Some(Id::Text(text)) => {
                self.previous_request = None;
                return IdRef::Text(text);
            }
            Some(Id::Uuid(uuid)) => *uuid.as_bytes(),
        };
        let counter =
            |bytes: &[u8; 16]| u64::from_be_bytes(bytes[8..].try_into().expect("8 bytes"));
        let step = match self.previous_request {
            Some(previous) if previous[..8] == uuid[..8] => {
                Some(counter(&uuid).wrapping_sub(counter(&previous)) as i64)
            }
            _ => None,
        };
        self.previous_request = Some(uuid);
        step.map_or(IdRef::Uuid(uuid), IdRef::Step)
    }

    /// Appends `event` as event `seq` after `prev_hash` (the previous
    /// event's whole hash); returns its hash.
    pub fn push(&mut self, event: &'a AuditEvent, seq: i64, prev_hash: &[u8]) -> [u8; 32] {
        // Strings are numbered in the order they appear on the wire (the
        // field order of `DeltaRecord`), which is also the decoder's order.
        let segment = self.events.is_empty().then_some(self.id_prefix);
        let name = self.field(NAME, &event.name);
        let region = self.field(REGION, &event.region);
        let source_ip = match event.source_ip {
            None => IpRef::None,
            Some(ip) if self.previous_ip == Some(ip) => IpRef::Same,
            Some(ip) => IpRef::Addr(ip),
        };
        self.previous_ip = event.source_ip;
        let user_agent = event
            .user_agent
            .as_deref()
            .map(|agent| self.field(USER_AGENT, agent));
        let actor = match &event.actor {
            Actor::Caller(identity) => self.caller(identity),
            Actor::Unknown { access_key_id } => {
                self.previous_caller = None;
                Some(RecordActor::Unknown {
                    access_key_id: self.opt(access_key_id.as_deref()),
                })
            }
            Actor::Service { account } => {
                self.previous_caller = None;
                Some(RecordActor::Service {
                    account: self.str(account),
                })
            }
        };
        let request_parameters = event
            .request_parameters
            .as_deref()
            .map(|p| self.field(PARAMETERS, p));
        let response_elements = self.opt(event.response_elements.as_deref());
        let error = event
            .error
            .as_ref()
            .map(|(code, message)| (self.str(code), self.str(message)));
        let mut key_arns = Strs(Default::default());
        for (i, arn) in event.key_arns.iter().enumerate() {
            key_arns.0.push(if i == 0 {
                self.field(KEY_ARN, arn)
            } else {
                self.str(arn)
            });
        }
        let record = DeltaRecord {
            segment,
            time_delta: event.time_ms.wrapping_sub(self.previous_time),
            source: source_code(event.source),
            name,
            region,
            source_ip,
            user_agent,
            actor,
            request_parameters,
            response_elements,
            error,
            request_id: self.request_id(event.request_id.as_ref()),
            read_only: event.read_only,
            service_event: event.service_event,
            key_arns,
        };
        // Numbered after the record's other strings, as the decoder reads.
        let recipient = self.opt(event.recipient.as_deref());
        if let Some(account) = event.account()
            && !self.accounts.contains(&account)
        {
            self.accounts.push(account);
        }
        self.previous_time = event.time_ms;
        self.times = (
            self.times.0.min(event.time_ms),
            self.times.1.max(event.time_ms),
        );
        let start = self.events.len();
        let events = std::mem::take(&mut self.events);
        let events = postcard::to_extend(&record, events)
            .expect("encoding to a Vec cannot fail: no field is unsized or unsupported");
        self.events = postcard::to_extend(&recipient, events)
            .expect("encoding to a Vec cannot fail: no field is unsized or unsupported");
        let hash = chain_hash(prev_hash, seq, &self.events[start..]);
        if let Some(previous) = self.last_hash.replace(hash) {
            self.hashes.extend_from_slice(&previous[..HASH_PREFIX]);
        }
        self.count += 1;
        hash
    }

    /// The block of the events pushed (none: `None`), the first of them
    /// being event `first_seq`.
    pub fn into_block(mut self, first_seq: i64) -> Option<AuditBlock> {
        let last_hash = self.last_hash?;
        self.hashes.extend_from_slice(&last_hash);
        Some(AuditBlock {
            first_seq,
            last_seq: first_seq + self.count as i64 - 1,
            first_time_ms: self.times.0,
            last_time_ms: self.times.1,
            encoding: ENCODING_RECIPIENT,
            events: self.events,
            hashes: self.hashes,
            accounts: self.accounts.into_iter().map(str::to_owned).collect(),
        })
    }
}

/// Decodes records in order, keeping each segment's string table and the
/// previous record.
#[derive(Default)]
pub struct BlockDecoder {
    id_prefix: Option<[u8; 8]>,
    table: Vec<String>,
    previous: Option<Previous>,
}

/// What a record of [`ENCODING_DELTA`] may refer to.
struct Previous {
    time_ms: i64,
    source_ip: Option<IpAddr>,
    actor: Actor,
    request_id: Option<Id>,
}

/// A record that cannot be decoded (a changed or misplaced record).
#[derive(Debug)]
struct Undecodable;

/// A record's fields once read, in wire order, with what it takes from the
/// previous record already resolved (but its strings not).
struct Fields<'a> {
    segment: Option<[u8; 8]>,
    time_ms: i64,
    source: u8,
    name: Str<'a>,
    region: Str<'a>,
    source_ip: Option<IpAddr>,
    user_agent: Option<Str<'a>>,
    /// `None`: the previous record's.
    actor: Option<RecordActor<'a>>,
    request_parameters: Option<Str<'a>>,
    response_elements: Option<Str<'a>>,
    error: Option<(Str<'a>, Str<'a>)>,
    request_id: Option<Id>,
    read_only: bool,
    service_event: bool,
    key_arns: smallvec::SmallVec<[Str<'a>; 2]>,
    recipient: Option<Str<'a>>,
}

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

    /// The first record of an `encoding` block in `bytes`: its fields and
    /// its length.
    fn fields<'b>(
        &self,
        encoding: i64,
        bytes: &'b [u8],
    ) -> Result<(Fields<'b>, usize), Undecodable> {
        if encoding == ENCODING_COMPACT {
            let (r, rest) = postcard::take_from_bytes::<Record>(bytes).map_err(|_| Undecodable)?;
            let fields = Fields {
                segment: r.segment,
                time_ms: r.time_ms,
                source: r.source,
                name: r.name,
                region: r.region,
                source_ip: r.source_ip,
                user_agent: r.user_agent,
                actor: Some(r.actor),
                request_parameters: r.request_parameters,
                response_elements: r.response_elements,
                error: r.error,
                request_id: r.request_id.map(Id::parse),
                read_only: r.read_only,
                service_event: r.service_event,
                key_arns: r.key_arns.into(),
                recipient: None,
            };
            return Ok((fields, bytes.len() - rest.len()));
        }
        let (r, rest) = postcard::take_from_bytes::<DeltaRecord>(bytes).map_err(|_| Undecodable)?;
        let (recipient, rest) = if encoding == ENCODING_RECIPIENT {
            postcard::take_from_bytes::<Option<Str>>(rest).map_err(|_| Undecodable)?
        } else {
            (None, rest)
        };
        // A segment's first record refers to nothing before it.
        let previous = if r.segment.is_some() {
            None
        } else {
            self.previous.as_ref()
        };
        let time_ms = match previous {
            Some(p) => p.time_ms.wrapping_add(r.time_delta),
            None => r.time_delta,
        };
        let source_ip = match r.source_ip {
            IpRef::None => None,
            IpRef::Addr(ip) => Some(ip),
            IpRef::Same => Some(previous.and_then(|p| p.source_ip).ok_or(Undecodable)?),
        };
        let request_id = match r.request_id {
            IdRef::None => None,
            IdRef::Text(text) => Some(Id::Text(text.into())),
            IdRef::Uuid(bytes) => Some(Id::Uuid(uuid::Uuid::from_bytes(bytes))),
            IdRef::Step(step) => match previous.and_then(|p| p.request_id.as_ref()) {
                Some(Id::Uuid(before)) => {
                    let mut bytes = *before.as_bytes();
                    let counter = u64::from_be_bytes(bytes[8..].try_into().expect("8 bytes"));
                    bytes[8..].copy_from_slice(&counter.wrapping_add(step as u64).to_be_bytes());
                    Some(Id::Uuid(uuid::Uuid::from_bytes(bytes)))
                }
                _ => return Err(Undecodable),
            },
        };
        if r.actor.is_none() && previous.is_none() {
            return Err(Undecodable);
        }
        let fields = Fields {
            segment: r.segment,
            time_ms,
            source: r.source,
            name: r.name,
            region: r.region,
            source_ip,
            user_agent: r.user_agent,
            actor: r.actor,
            request_parameters: r.request_parameters,
            response_elements: r.response_elements,
            error: r.error,
            request_id,
            read_only: r.read_only,
            service_event: r.service_event,
            key_arns: r.key_arns.0,
            recipient,
        };
        Ok((fields, bytes.len() - rest.len()))
    }

    /// The first record in `bytes` (of an `encoding` block): the event, its
    /// id and its length.
    fn event(
        &mut self,
        encoding: i64,
        bytes: &[u8],
        seq: i64,
    ) -> Result<(AuditEvent, String, usize), Undecodable> {
        let (r, len) = self.fields(encoding, bytes)?;
        if let Some(prefix) = r.segment {
            self.id_prefix = Some(prefix);
            self.table.clear();
            self.previous = None;
        }
        let prefix = self.id_prefix.ok_or(Undecodable)?;
        // Strings in wire order, as the encoder numbered them.
        let name = self.str(r.name)?;
        let region = self.str(r.region)?;
        let user_agent = self.opt(r.user_agent)?;
        let actor = match r.actor {
            None => self
                .previous
                .as_ref()
                .map(|p| p.actor.clone())
                .ok_or(Undecodable)?,
            Some(RecordActor::Caller {
                kind,
                role_arn,
                user_id,
                arn,
                account,
                access_key_id,
                username,
            }) => {
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
            Some(RecordActor::Unknown { access_key_id }) => Actor::Unknown {
                access_key_id: self.opt(access_key_id)?,
            },
            Some(RecordActor::Service { account }) => Actor::Service {
                account: self.str(account)?,
            },
        };
        let request_parameters = self.opt(r.request_parameters)?.map(Into::into);
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
        let recipient = self.opt(r.recipient)?;
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
            request_id: r.request_id,
            read_only: r.read_only,
            service_event: r.service_event,
            key_arns,
            recipient,
        };
        self.previous = Some(Previous {
            time_ms: event.time_ms,
            source_ip: event.source_ip,
            actor: event.actor.clone(),
            request_id: event.request_id.clone(),
        });
        Ok((event, event_id(prefix, seq), len))
    }

    /// A block's events, in order, as stored records with their CloudTrail
    /// JSON; `prev_hash` is the hash before the block's first event. A
    /// record that cannot be decoded ends the block: it is returned with
    /// the remaining bytes and no JSON, and verification reports it as
    /// changed.
    pub fn block(&mut self, block: &AuditBlock, prev_hash: &[u8]) -> Vec<AuditRecord> {
        let mut hashes = Hashes::of(block);
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
            let Ok((event, event_id, len)) = self.event(block.encoding, rest, seq) else {
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

/// A block's stored hashes, event by event.
struct Hashes<'a> {
    rest: &'a [u8],
    /// Bytes per event before the last.
    each: usize,
    /// Where the last event's (whole) hash begins in an
    /// [`ENCODING_DELTA`] block.
    last_from: usize,
    at: usize,
}

impl<'a> Hashes<'a> {
    fn of(block: &'a AuditBlock) -> Self {
        let delta = block.encoding >= ENCODING_DELTA;
        Self {
            rest: &block.hashes,
            each: if delta { HASH_PREFIX } else { 32 },
            last_from: if delta {
                block.hashes.len().saturating_sub(32)
            } else {
                usize::MAX
            },
            at: 0,
        }
    }
}

impl<'a> Iterator for Hashes<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.at >= self.rest.len() {
            return None;
        }
        let end = if self.at >= self.last_from {
            self.rest.len()
        } else {
            (self.at + self.each).min(self.rest.len())
        };
        let hash = &self.rest[self.at..end];
        self.at = end;
        Some(hash)
    }
}

/// Where each record of a compact block's `events` starts and ends,
/// without decoding strings (tests of record sizes).
#[cfg(test)]
pub(crate) fn record_spans(encoding: i64, events: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut at = 0;
    while at < events.len() {
        let rest = match encoding {
            ENCODING_COMPACT => {
                postcard::take_from_bytes::<Record>(&events[at..]).map(|(_, rest)| rest)
            }
            ENCODING_DELTA => {
                postcard::take_from_bytes::<DeltaRecord>(&events[at..]).map(|(_, rest)| rest)
            }
            _ => postcard::take_from_bytes::<DeltaRecord>(&events[at..]).and_then(|(_, rest)| {
                postcard::take_from_bytes::<Option<Str>>(rest).map(|(_, rest)| rest)
            }),
        };
        let Ok(rest) = rest else {
            spans.push(at..events.len());
            break;
        };
        let end = events.len() - rest.len();
        spans.push(at..end);
        at = end;
    }
    spans
}
