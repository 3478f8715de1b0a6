//! The one request pipeline. Every protocol Trent speaks on its endpoint
//! (KMS and CloudTrail over AWS JSON 1.1, IAM and STS over the Query
//! protocol) goes through [`run`], which does once what every request
//! needs, whatever its protocol:
//!
//! 1. a request id (`x-amzn-RequestId`); a panic anywhere below becomes an
//!    internal error, logged with the id;
//! 2. method, path and content type ([`Protocol::check`]);
//! 3. the body, bounded in size and in time;
//! 4. SigV4 for the protocol's service ([`crate::auth::Authenticator`]);
//! 5. the operation (an unknown one is refused only once the caller is
//!    known, as AWS does);
//! 6. the request quota of the caller's account and region;
//! 7. the refusal of what the audit trail cannot record now;
//! 8. the protocol's handler ([`Protocol::serve`]);
//! 9. the audit event. An authenticated request's event has what its
//!    protocol allow-lists; an unauthenticated one's only its operation,
//!    the access key id and region it claimed (bounded), its address and
//!    its error: nothing of its body and nothing filed into an account's
//!    trail. A successful mutation is answered only once its event is
//!    committed;
//! 10. metrics, then the response ([`Protocol::respond`]).
//!
//! What the pipeline refuses is a [`Refusal`]; each protocol maps them to
//! its own error codes in one exhaustive `match` ([`Protocol::refuse`]),
//! beside its mapping of its domain's errors.

use crate::auth::AuthError;
use crate::metrics::Metrics;
use crate::transport::Connection;
use crate::{AppState, RequestId};
use axum::body::Bytes;
use axum::http::Request;
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::Response;
use futures_util::FutureExt;
use std::borrow::Cow;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use trent_core::Caller;
use trent_core::audit::{AuditEvent, EventSource, KeyArns};
use trent_core::quotas::QuotaClass;

/// What the pipeline refuses, before or instead of a protocol's handler.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The path is not `/` (bounded).
    NoSuchPath(String),
    MethodNotAllowed(Method),
    /// The content type is not the protocol's (bounded).
    UnsupportedMediaType(String),
    BodyTooLarge,
    /// The body did not arrive within the body timeout.
    BodyTimeout,
    /// The connection failed while the body was read.
    BodyUnreadable,
    Unauthenticated(AuthError),
    /// The request names no operation.
    MissingOperation,
    /// The request names an operation this protocol does not have (bounded).
    UnknownOperation(String),
    /// The caller's account is over its request quota.
    Throttled,
    /// The audit trail cannot record this request now.
    AuditUnavailable,
    /// Something failed inside (a panic, the audit commit): the detail is
    /// for the log, never for the caller.
    Internal(String),
}

/// The operation a request names, as read before authentication.
#[derive(Debug, Clone)]
pub(crate) enum Named<Op> {
    Known(Op),
    /// A name the protocol does not know, bounded to [`MAX_NAME`] bytes.
    Unknown(String),
    Missing,
}

/// What a request asks for: its operation, and the protocol's scope (the
/// Query protocol's service: IAM or STS), read before authentication.
#[derive(Debug, Clone)]
pub(crate) struct Asked<Op, Scope> {
    pub operation: Named<Op>,
    pub scope: Scope,
}

impl<Op, Scope: Default> Default for Asked<Op, Scope> {
    fn default() -> Self {
        Self {
            operation: Named::Missing,
            scope: Scope::default(),
        }
    }
}

impl<Op: Copy, Scope> Asked<Op, Scope> {
    pub fn known(&self) -> Option<Op> {
        match self.operation {
            Named::Known(op) => Some(op),
            _ => None,
        }
    }
}

/// What a handler tells the audit trail about an authenticated request.
#[derive(Default)]
pub(crate) struct AuditFacts {
    /// Allow-listed request members, JSON object text.
    pub request_parameters: Option<Cow<'static, str>>,
    /// Allow-listed response members, JSON object text.
    pub response_elements: Option<String>,
    pub key_arns: KeyArns,
    /// Events the call also makes in other Regions of the caller's account,
    /// as (event name, key ARN), recorded in the key's Region when the call
    /// succeeds: ReplicateKey's CreateKey of the replica (CloudTrail: "A
    /// ReplicateKey request results in a ReplicateKey operation and a
    /// CreateKey operation").
    pub elsewhere: Vec<(&'static str, String)>,
}

/// The request a protocol's handler serves: authenticated, named, within
/// quota.
pub(crate) struct Served<'a, Op, Scope> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub operation: Op,
    pub scope: Scope,
    pub body: &'a Bytes,
    pub request_id: &'a str,
}

/// One protocol on the endpoint: what differs between KMS, IAM/STS and
/// CloudTrail, and nothing more.
pub(crate) trait Protocol: Sync {
    type Operation: Copy + Send + Sync;
    /// What else a request's routing depends on (IAM or STS); `Default`
    /// is what errors use before the body is read.
    type Scope: Copy + Default + Send + Sync;
    /// The protocol's error: its code, message and status on the wire.
    type Error: Send;

    /// Method, path and content type: the first things checked.
    fn check(&self, parts: &Parts) -> Result<(), Refusal>;
    /// The operation a request names, read before authentication (the
    /// service its signature must name may depend on it).
    fn asked(&self, parts: &Parts, body: &[u8]) -> Asked<Self::Operation, Self::Scope>;
    /// The SigV4 service the request must be signed for.
    fn service(&self, asked: &Asked<Self::Operation, Self::Scope>) -> &'static str;
    /// Only these regions, if any (KMS's `--regions`).
    fn regions<'s>(&self, _state: &'s AppState) -> &'s [String] {
        &[]
    }
    fn name(&self, operation: Self::Operation) -> &'static str;
    fn source(&self, asked: &Asked<Self::Operation, Self::Scope>) -> EventSource;
    /// CloudTrail's `readOnly`.
    fn read_only(&self, operation: Self::Operation) -> bool;
    /// The request quota an operation counts against here (`None`: none,
    /// or one decided where its key is known).
    fn quota(&self, operation: Self::Operation) -> Option<QuotaClass>;
    /// Whether an error is a throttling one (its event is recorded within
    /// [`QuotaClass::ThrottledEvents`]).
    fn is_throttling(&self, error: &Self::Error) -> bool;
    /// Whether a successful call is answered only once its event is
    /// committed (mutations, issued sessions).
    fn durable(&self, operation: Self::Operation) -> bool;
    /// The pipeline's refusals in this protocol's words: one exhaustive
    /// `match`.
    fn refuse(&self, asked: &Asked<Self::Operation, Self::Scope>, refusal: Refusal) -> Self::Error;
    /// The error's code and message, as the audit trail records them, and
    /// what went wrong inside (for the log only).
    fn describe<'e>(
        &self,
        asked: &Asked<Self::Operation, Self::Scope>,
        error: &'e Self::Error,
    ) -> (&'e str, &'e str, Option<&'e str>);
    /// Runs the operation; fills `audit` with what the trail may record.
    fn serve(
        &self,
        request: Served<'_, Self::Operation, Self::Scope>,
        audit: &mut AuditFacts,
    ) -> impl Future<Output = Result<Vec<u8>, Self::Error>> + Send;
    /// Counts the request for `/metrics`.
    fn count(
        &self,
        metrics: &Metrics,
        operation: Option<Self::Operation>,
        error: Option<&Self::Error>,
        elapsed: Duration,
    );
    /// The response: the body (or error) in the protocol's framing, with
    /// the request id.
    fn respond(
        &self,
        asked: &Asked<Self::Operation, Self::Scope>,
        result: Result<Vec<u8>, Self::Error>,
        request_id: &str,
    ) -> Response;
}

/// Longest operation name, claimed access key id or region an
/// unauthenticated request can put in the trail.
pub(crate) const MAX_NAME: usize = 128;
/// Longest error message an event keeps: messages echo input (SigV4's the
/// `Authorization` header, a validation error the value it refuses), and
/// the caller's answer has it whole.
const MAX_EVENT_MESSAGE: usize = 1024;

/// `text` cut to at most `max` bytes, at a character boundary.
pub(crate) fn bounded(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The `User-Agent` header, bounded, interned for the audit event.
fn user_agent(headers: &axum::http::HeaderMap) -> Option<Cow<'static, str>> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?;
    Some(trent_core::audit::intern(bounded(agent, 256)))
}

/// What the pipeline learned about a request on the way, for its event.
struct Seen<Op, Scope> {
    asked: Asked<Op, Scope>,
    caller: Option<Caller>,
    /// The access key id and region an unauthenticated request claimed.
    claimed: Option<(String, String)>,
    user_agent: Option<Cow<'static, str>>,
    audit: AuditFacts,
    /// When the request was taken up (Unix ms): the time SigV4 checks the
    /// signature's date against, and the audit event's time.
    received_ms: i64,
}

/// Serves one request of `protocol`, whatever happens: every outcome,
/// panics included, is a response in the protocol's framing.
pub(crate) async fn run<P: Protocol, B>(
    state: &AppState,
    protocol: &P,
    request: Request<B>,
    connection: &Connection,
) -> Response
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<axum::BoxError>,
{
    let started = Instant::now();
    let peer = connection.peer.ip();
    let ids = state.request_ids.next();
    let request_id = ids.as_str();
    let mut seen = Seen {
        asked: Asked::default(),
        caller: None,
        claimed: None,
        user_agent: None,
        audit: AuditFacts::default(),
        received_ms: trent_core::now_millis(),
    };
    let outcome = AssertUnwindSafe(steps(
        state, protocol, request, connection, request_id, &mut seen,
    ))
    .catch_unwind()
    .await;
    let mut result = outcome.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(request_id, panic = what, "handler panicked");
        Err(protocol.refuse(&seen.asked, Refusal::Internal("panic".into())))
    });
    // A caller far over its quota, or naming operations that do not
    // exist, leaves a bounded trace: at most `ThrottledEvents` of its
    // refusals a second are recorded; and unauthenticated requests, from
    // everyone together, at most `UnauthenticatedEvents` a second.
    let quotas = state.kms.request_quotas();
    let recorded = match (&result, &seen.caller) {
        (Err(e), Some(caller)) if protocol.is_throttling(e) || seen.asked.known().is_none() => {
            quotas
                .admit(
                    caller.account(),
                    &caller.region,
                    QuotaClass::ThrottledEvents,
                )
                .is_ok()
        }
        (Err(_), None) => quotas
            .admit("", "", QuotaClass::UnauthenticatedEvents)
            .is_ok(),
        _ => true,
    };
    if let Some(log) = state.audit.as_ref().filter(|_| recorded) {
        let elsewhere = std::mem::take(&mut seen.audit.elsewhere);
        let (event, durable) = event(protocol, &mut seen, &result, peer, &ids);
        // A call on another account's key is also that account's event
        // (CloudTrail: "logged in both the caller's account and the KMS key
        // owner account"; denied calls only in the caller's), and one that
        // acts in another Region is also an event there. Queued first, so
        // the commit a mutation waits for includes them.
        if result.is_ok() {
            for copy in owners_copies(&event)
                .into_iter()
                .chain(other_regions(&event, elsewhere))
            {
                log.record(copy).await;
            }
        }
        if durable {
            if let Err(e) = log.record_durable(event).await {
                tracing::error!(request_id, error = %e, "audit trail failed; failing the call");
                result =
                    Err(protocol
                        .refuse(&seen.asked, Refusal::Internal(format!("audit trail: {e}"))));
            }
        } else {
            log.record(event).await;
        }
    }
    let known = seen.asked.known();
    let elapsed = started.elapsed();
    protocol.count(&state.metrics, known, result.as_ref().err(), elapsed);
    if let Err(e) = &result {
        let (code, _, detail) = protocol.describe(&seen.asked, e);
        if let Some(detail) = detail {
            tracing::error!(request_id, code, error = %detail, "internal error");
        }
    }
    // One line per request at debug level (off by default: a disabled
    // callsite costs a cached check, nothing more).
    tracing::debug!(
        request_id,
        operation = known.map(|op| protocol.name(op)),
        error = result
            .as_ref()
            .err()
            .map(|e| protocol.describe(&seen.asked, e).0),
        micros = elapsed.as_micros() as u64,
        "request"
    );
    protocol.respond(&seen.asked, result, request_id)
}

async fn steps<P: Protocol, B>(
    state: &AppState,
    protocol: &P,
    request: Request<B>,
    connection: &Connection,
    request_id: &str,
    seen: &mut Seen<P::Operation, P::Scope>,
) -> Result<Vec<u8>, P::Error>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    let (parts, body) = request.into_parts();
    let refuse =
        |seen: &Seen<P::Operation, P::Scope>, refusal| protocol.refuse(&seen.asked, refusal);
    protocol.check(&parts).map_err(|r| refuse(seen, r))?;
    let body = read_body(body, &parts, connection.body_timeout)
        .await
        .map_err(|r| refuse(seen, r))?;
    seen.asked = protocol.asked(&parts, &body);
    let service = protocol.service(&seen.asked);
    let now = seen.received_ms / 1000;
    let signed = trent_sigv4::RequestParts::from_http(&parts, &body);
    let caller = match state
        .auth
        .authenticate(
            &state.identities,
            &signed,
            now,
            service,
            protocol.regions(state),
            Some(connection.peer.ip()),
            connection.secure,
        )
        .await
    {
        Ok(caller) => caller,
        Err(e) => {
            seen.claimed = crate::auth::claimed(&parts.headers).map(|(key, region)| {
                (
                    bounded(&key, MAX_NAME).to_owned(),
                    bounded(&region, MAX_NAME).to_owned(),
                )
            });
            return Err(refuse(seen, Refusal::Unauthenticated(e)));
        }
    };
    seen.user_agent = user_agent(&parts.headers);
    let caller = &*seen.caller.insert(caller);
    let operation = match &seen.asked.operation {
        Named::Known(op) => *op,
        Named::Unknown(name) => {
            let name = name.clone();
            return Err(refuse(seen, Refusal::UnknownOperation(name)));
        }
        Named::Missing => return Err(refuse(seen, Refusal::MissingOperation)),
    };
    if let Some(class) = protocol.quota(operation)
        && state
            .kms
            .request_quotas()
            .admit(caller.account(), &caller.region, class)
            .is_err()
    {
        return Err(refuse(seen, Refusal::Throttled));
    }
    // What the audit trail cannot record now is refused before it happens:
    // nothing while the store fails, no mutation while the stream fails.
    if let Some(log) = &state.audit
        && !log.stats().accepts(protocol.durable(operation))
    {
        tracing::warn!(
            request_id,
            operation = protocol.name(operation),
            "audit trail unavailable; request refused"
        );
        return Err(refuse(seen, Refusal::AuditUnavailable));
    }
    protocol
        .serve(
            Served {
                state,
                caller,
                operation,
                scope: seen.asked.scope,
                body: &body,
                request_id,
            },
            &mut seen.audit,
        )
        .await
}

/// Reads the body whole: at most [`crate::MAX_BODY_BYTES`], within
/// `timeout`.
async fn read_body<B>(body: B, parts: &Parts, timeout: Duration) -> Result<Bytes, Refusal>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > crate::MAX_BODY_BYTES as u64) {
        return Err(Refusal::BodyTooLarge);
    }
    // A small body usually came with the head: read without a timer first
    // (a timer per request is ~1,000 instructions), then under the timeout.
    let mut read = std::pin::pin!(http_body_util::BodyExt::collect(
        http_body_util::Limited::new(body, crate::MAX_BODY_BYTES)
    ));
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx))).await;
    let read = match first {
        std::task::Poll::Ready(read) => read,
        std::task::Poll::Pending => match tokio::time::timeout(timeout, read).await {
            Err(_) => return Err(Refusal::BodyTimeout),
            Ok(read) => read,
        },
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            let too_large =
                std::iter::successors(Some(&*e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                Refusal::BodyTooLarge
            } else {
                Refusal::BodyUnreadable
            })
        }
    }
}

/// Copies of a successful call's event for the other accounts whose keys
/// it used, each delivered to its key's owner.
fn owners_copies(event: &AuditEvent) -> Vec<AuditEvent> {
    let trent_core::audit::Actor::Caller(identity) = &event.actor else {
        return Vec::new();
    };
    let mut owners: Vec<&str> = Vec::new();
    for arn in &event.key_arns {
        if let Some(owner) = trent_core::audit::arn_account(arn)
            && owner != identity.account
            && !owners.contains(&owner)
        {
            owners.push(owner);
        }
    }
    owners
        .into_iter()
        .map(|owner| AuditEvent {
            recipient: Some(owner.to_owned()),
            ..event.clone()
        })
        .collect()
}

/// The events a successful call makes in other Regions: each named as
/// given, in its key's Region, on that key alone.
fn other_regions(
    event: &AuditEvent,
    elsewhere: Vec<(&'static str, String)>,
) -> impl Iterator<Item = AuditEvent> {
    elsewhere.into_iter().filter_map(|(name, arn)| {
        let region = arn.split(':').nth(3).filter(|r| !r.is_empty())?.to_owned();
        Some(AuditEvent {
            name: name.into(),
            region: region.into(),
            request_parameters: None,
            response_elements: None,
            key_arns: [arn.into()].into_iter().collect(),
            ..event.clone()
        })
    })
}

/// CloudTrail's largest `requestParameters` or `responseElements`.
const MAX_FIELD_BYTES: usize = 100 * 1024;

/// A field as CloudTrail records it: whole up to [`MAX_FIELD_BYTES`],
/// `{"omitted":true}` past that (CloudTrail: "If a field is truncated,
/// omitted is present with a value of true"), so that no request's event
/// is larger than its quota's share of the disk.
fn within_field_size(text: Cow<'static, str>) -> Cow<'static, str> {
    if text.len() <= MAX_FIELD_BYTES {
        text
    } else {
        Cow::Borrowed("{\"omitted\":true}")
    }
}

/// The request's audit event, and whether its answer waits for the commit.
fn event<P: Protocol>(
    protocol: &P,
    seen: &mut Seen<P::Operation, P::Scope>,
    result: &Result<Vec<u8>, P::Error>,
    peer: IpAddr,
    ids: &RequestId,
) -> (AuditEvent, bool) {
    let name: Cow<'static, str> = match &seen.asked.operation {
        Named::Known(op) => protocol.name(*op).into(),
        Named::Unknown(name) => bounded(name, MAX_NAME).to_owned().into(),
        Named::Missing => "".into(),
    };
    let error = result.as_ref().err().map(|e| {
        let (code, message, _) = protocol.describe(&seen.asked, e);
        (
            code.to_owned(),
            bounded(message, MAX_EVENT_MESSAGE).to_owned(),
        )
    });
    let read_only = seen.asked.known().is_some_and(|op| protocol.read_only(op));
    let mut event = AuditEvent {
        time_ms: seen.received_ms,
        source: protocol.source(&seen.asked),
        name,
        region: "".into(),
        source_ip: Some(peer),
        user_agent: None,
        actor: trent_core::audit::Actor::Unknown {
            access_key_id: None,
        },
        request_parameters: None,
        response_elements: None,
        error,
        request_id: Some(ids.id()),
        read_only,
        service_event: false,
        key_arns: KeyArns::new(),
        recipient: None,
    };
    let Some(caller) = &seen.caller else {
        // Unauthenticated: what it claimed, bounded; nothing of its body.
        if let Some((key, region)) = &seen.claimed {
            event.actor = trent_core::audit::Actor::Unknown {
                access_key_id: Some(key.clone()),
            };
            event.region = region.clone().into();
        }
        return (event, false);
    };
    event.actor = trent_core::audit::Actor::Caller(caller.identity.clone());
    event.region = trent_core::audit::intern(&caller.region);
    event.user_agent = seen.user_agent.take();
    let facts = std::mem::take(&mut seen.audit);
    event.request_parameters = facts.request_parameters.map(within_field_size);
    event.response_elements = facts
        .response_elements
        .map(|r| within_field_size(r.into()).into_owned());
    event.key_arns = facts.key_arns;
    let durable = result.is_ok() && seen.asked.known().is_some_and(|op| protocol.durable(op));
    (event, durable)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_field_larger_than_cloudtrails_is_omitted() {
        use super::{MAX_FIELD_BYTES, within_field_size};
        let small = format!("{{\"description\":\"{}\"}}", "x".repeat(100));
        assert_eq!(within_field_size(small.clone().into()), small);
        let large = format!("{{\"description\":\"{}\"}}", "x".repeat(MAX_FIELD_BYTES));
        assert_eq!(within_field_size(large.into()), "{\"omitted\":true}");
    }
}
