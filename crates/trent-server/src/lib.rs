//! Trent's HTTP front: the AWS KMS JSON 1.1 protocol over axum.
//!
//! A request goes: [`router`] → [`handle`] (method, path, content type, body
//! limit) → [`auth::Authenticator`] (SigV4) → [`Operation::from_target`] →
//! [`api::dispatch`] (parse JSON, validate against the model, call
//! [`trent_core::Kms`], render JSON). Every failure leaves through
//! [`error::ApiError`], the one place domain errors become AWS errors.
//!
//! **Architecture invariant:** only this crate (and `trent-wire`) knows JSON
//! and HTTP; `trent-core` is called with typed arguments.

mod api;
mod audit;
pub mod auth;
mod cloudtrail;
pub mod error;
mod iam;
pub mod metrics;
pub mod transport;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use error::ApiError;
use futures_util::FutureExt;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use trent_core::audit::{AuditLog, EventSource};
use trent_core::clock::AdjustableClock;
use trent_core::{Caller, Identities, Kms};
use trent_wire::{ErrorCode, Operation};

/// The content type of AWS JSON 1.1 requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Largest request body accepted. KMS's largest inputs (a 32 KiB policy, a
/// 6 KiB ciphertext) fit with room to spare.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Everything a request needs, shared by all connections.
pub struct AppState {
    pub kms: Kms,
    pub identities: Arc<Identities>,
    pub auth: auth::Authenticator,
    /// Set only by `trent serve --unsafe-test-clock`: enables
    /// `POST /_trent/clock/advance`.
    pub test_clock: Option<Arc<AdjustableClock>>,
    /// The audit trail; `None` records nothing.
    pub audit: Option<AuditLog>,
    /// Request counters and latencies for `GET /metrics`.
    pub metrics: metrics::Metrics,
    /// The store's latency by method, for `GET /metrics` (when the store
    /// is wrapped in a [`trent_core::TimedStore`]).
    pub store_timing: Option<Arc<trent_core::TimedStore>>,
    request_ids: RequestIds,
}

impl AppState {
    pub fn new(kms: Kms, identities: Arc<Identities>, regions: Vec<String>) -> Self {
        Self {
            kms,
            identities,
            auth: auth::Authenticator::new(regions),
            test_clock: None,
            audit: None,
            metrics: metrics::Metrics::new(),
            store_timing: None,
            request_ids: RequestIds::new(),
        }
    }
}

/// Request ids in UUID form: a random per-process prefix and a counter, so a
/// request costs no random-number syscall.
struct RequestIds {
    prefix: [u8; 8],
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let mut prefix = [0u8; 8];
        // A failed RNG only makes ids predictable; they are not secrets.
        let _ = trent_crypto::random_bytes(&mut prefix);
        Self {
            prefix,
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> RequestId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        RequestId::new(trent_core::audit::counter_uuid(self.prefix, n))
    }
}

/// A request's id: its UUID (for the audit event) and its text (for the
/// `x-amzn-RequestId` header and logs), made once.
pub struct RequestId {
    uuid: uuid::Uuid,
    text: [u8; uuid::fmt::Hyphenated::LENGTH],
}

impl RequestId {
    fn new(uuid: uuid::Uuid) -> Self {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid.hyphenated().encode_lower(&mut text);
        Self { uuid, text }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).expect("a hyphenated UUID is ASCII")
    }

    /// The id as the audit event records it.
    pub fn id(&self) -> trent_core::audit::Id {
        trent_core::audit::Id::Uuid(self.uuid)
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/health", axum::routing::get(health))
        .route("/metrics", axum::routing::get(metrics_text));
    if state.test_clock.is_some() {
        router = router.route("/_trent/clock/advance", axum::routing::post(advance_clock));
    }
    router.fallback(handle).with_state(state)
}

/// How often the scheduler looks for due rotations and deletions.
const SCHEDULER_PERIOD: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs due rotations and deletions now and then, for as long as the server
/// runs.
pub async fn run_scheduler(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(SCHEDULER_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        run_due_work(&state).await;
    }
}

/// Test only (`--unsafe-test-clock`): moves the lifecycle clock forward and
/// runs whatever fell due, before answering.
async fn advance_clock(State(state): State<Arc<AppState>>, uri: axum::http::Uri) -> Response {
    let Some(clock) = &state.test_clock else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let seconds = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "seconds")
        .and_then(|(_, value)| value.parse::<i64>().ok());
    let Some(seconds) = seconds else {
        return (StatusCode::BAD_REQUEST, "seconds=N is required").into_response();
    };
    clock.advance(seconds.saturating_mul(1000));
    let done = run_due_work(&state).await;
    (StatusCode::OK, format!("{{\"processed\":{done}}}")).into_response()
}

/// Runs due rotations and deletions and records each in the audit trail as
/// a service event (`RotateKey`, `DeleteKey`). Returns how many were done.
async fn run_due_work(state: &AppState) -> usize {
    let done = match state.kms.run_due_work().await {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(error = %e, "lifecycle scheduler failed");
            return 0;
        }
    };
    if let Some(log) = &state.audit {
        for (work, key) in &done {
            let name = match work {
                trent_core::DueWork::Rotate(_) => "RotateKey",
                trent_core::DueWork::Delete(_) => "DeleteKey",
            };
            log.record(trent_core::audit::AuditEvent {
                time_ms: trent_core::now_millis(),
                source: EventSource::Kms,
                name: name.into(),
                region: key.region.clone().into(),
                source_ip: None,
                user_agent: None,
                actor: trent_core::audit::Actor::Service {
                    account: key.account.clone(),
                },
                request_parameters: None,
                response_elements: None,
                error: None,
                request_id: None,
                read_only: false,
                service_event: true,
                key_arns: [key.arn.clone().into()].into_iter().collect(),
            })
            .await;
        }
    }
    done.len()
}

/// Serves `router(state)` on `listener` with `config` until `shutdown`
/// completes (see [`transport`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    config: transport::TransportConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    transport::serve(listener, state, config, shutdown).await
}

async fn health() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}",
    )
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&state),
    )
}

/// Every request but `/health` and `/metrics` lands here.
async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = std::time::Instant::now();
    let ids = state.request_ids.next();
    let request_id = ids.as_str();
    // IAM and STS (AWS Query protocol: form-encoded bodies, XML answers).
    if iam::is_query_request(request.headers()) {
        let response = iam::handle(&state, request, Some(peer.ip()), &ids).await;
        let ok = response.status().is_success();
        state
            .metrics
            .other(metrics::OtherOperation::IamSts, ok, started.elapsed());
        return response;
    }
    // CloudTrail's LookupEvents (AWS JSON 1.1, like KMS, but its own target).
    if cloudtrail::operation(request.headers()).is_some() {
        let response = cloudtrail::handle(&state, request, peer.ip(), &ids).await;
        let ok = response.status().is_success();
        state
            .metrics
            .other(metrics::OtherOperation::CloudTrail, ok, started.elapsed());
        return response;
    }
    let user_agent = user_agent(request.headers());
    let mut facts = Facts::default();
    let outcome = AssertUnwindSafe(handle_inner(&state, request, peer, &mut facts))
        .catch_unwind()
        .await;
    let mut result = match outcome {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(request_id, panic = what, "handler panicked");
            Err(ApiError::internal())
        }
    };
    if let Some(log) = &state.audit {
        let name: std::borrow::Cow<'static, str> = match facts.operation {
            Some(op) => op.name().into(),
            None => facts.target.take().unwrap_or_default().into(),
        };
        let error = result
            .as_ref()
            .err()
            .map(|e| (e.code.as_str().to_owned(), e.message.clone()));
        let mut event = audit::api_event(
            EventSource::Kms,
            name,
            "".into(),
            facts.caller.as_ref(),
            facts.claimed_access_key.take(),
            Some(peer.ip()),
            user_agent,
            ids.id(),
            error,
        );
        let kms = if let Some(captured) = facts.captured.take() {
            audit::KmsFacts {
                request_parameters: captured.request_parameters,
                response_elements: None,
                // Interned: the writer then frees no string of it.
                key_arns: captured
                    .key_arn
                    .iter()
                    .map(|arn| trent_core::audit::intern_key_arn(arn))
                    .collect(),
            }
        } else {
            audit::kms_facts(
                &event.name,
                facts.caller.as_ref(),
                &facts.body,
                result.as_ref().ok().map(Vec::as_slice),
            )
        };
        event.request_parameters = kms.request_parameters;
        event.response_elements = kms.response_elements;
        event.key_arns = kms.key_arns;
        event.region = match (&facts.caller, &facts.claimed_region) {
            (Some(c), _) => trent_core::audit::intern(&c.region),
            (None, Some(claimed)) => trent_core::audit::intern(claimed),
            (None, None) => "".into(),
        };
        // A mutation is acknowledged only once its event is committed; the
        // rest never wait for the disk.
        if result.is_ok() && !event.read_only && facts.operation.is_some() {
            if let Err(e) = log.record_durable(event).await {
                tracing::error!(request_id, error = %e, "audit trail failed; failing the mutation");
                result = Err(ApiError::internal());
            }
        } else {
            log.record(event).await;
        }
    }
    let error = result.as_ref().err().map(|e| e.code);
    state.metrics.kms(facts.operation, error, started.elapsed());
    // One line per request at debug level (off by default: a disabled
    // callsite costs a cached check, nothing more).
    tracing::debug!(
        request_id,
        operation = facts.operation.map(|op| op.name()),
        error = error.map(|code| code.as_str()),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    match result {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            if let Ok(id) = HeaderValue::from_str(request_id) {
                headers.insert("x-amzn-requestid", id);
            }
            response
        }
        Err(e) => {
            if let Some(detail) = &e.detail {
                tracing::error!(request_id, error = %detail, "internal error");
            }
            e.into_response_with_id(request_id)
        }
    }
}

/// What `handle_inner` learned about a request, for its audit event.
#[derive(Default)]
struct Facts {
    operation: Option<Operation>,
    target: Option<String>,
    caller: Option<Caller>,
    claimed_access_key: Option<String>,
    claimed_region: Option<String>,
    body: Bytes,
    /// The hot path's facts, from its typed values (set only on success).
    captured: Option<api::Captured>,
}

/// The `User-Agent` header, bounded, interned for the audit event.
pub(crate) fn user_agent(
    headers: &axum::http::HeaderMap,
) -> Option<std::borrow::Cow<'static, str>> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let mut end = agent.len().min(256);
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    Some(trent_core::audit::intern(&agent[..end]))
}

async fn handle_inner(
    state: &AppState,
    request: Request,
    peer: SocketAddr,
    facts: &mut Facts,
) -> Result<Vec<u8>, ApiError> {
    let (parts, body) = request.into_parts();
    if parts.uri.path() != "/" {
        return Err(ApiError::new(
            ErrorCode::UnknownOperationException,
            format!("No operation at path {}", parts.uri.path()),
        )
        .with_status(StatusCode::NOT_FOUND));
    }
    if parts.method != Method::POST {
        return Err(ApiError::new(
            ErrorCode::UnknownOperationException,
            format!(
                "Method {} is not supported; AWS KMS requests are POST /",
                parts.method
            ),
        )
        .with_status(StatusCode::METHOD_NOT_ALLOWED));
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with(CONTENT_TYPE)
        && !content_type.starts_with("application/x-amz-json-1.0")
    {
        return Err(ApiError::new(
            ErrorCode::SerializationException,
            format!("Content-Type must be {CONTENT_TYPE}, not '{content_type}'"),
        )
        .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    let body: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::ValidationException,
                format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        })?;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let req = trent_sigv4::RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
    };
    facts.body = body.clone();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = Operation::from_target(target);
    facts.operation = operation;
    if operation.is_none() {
        facts.target = Some(target.rsplit('.').next().unwrap_or(target).to_owned());
    }
    let secure = transport::is_secure(&parts.extensions);
    let caller = match state
        .auth
        .authenticate(&state.identities, &req, now, "kms", Some(peer.ip()), secure)
        .await
    {
        Ok(caller) => caller,
        Err(e) => {
            if let Some((access_key, region)) = auth::claimed(&parts.headers) {
                facts.claimed_access_key = Some(access_key);
                facts.claimed_region = Some(region);
            }
            return Err(e);
        }
    };
    let caller = &*facts.caller.insert(caller);
    let Some(operation) = operation else {
        return Err(ApiError::new(
            ErrorCode::UnknownOperationException,
            if target.is_empty() {
                "Missing X-Amz-Target header".to_owned()
            } else {
                format!("Unknown operation {target}")
            },
        ));
    };
    // What the audit trail cannot record now is refused before it happens:
    // nothing while the store fails, no mutation while the stream fails.
    if let Some(log) = &state.audit
        && !log.stats().accepts(!audit::is_read_only(operation.name()))
    {
        tracing::warn!(
            operation = operation.name(),
            "audit trail unavailable; request refused"
        );
        return Err(ApiError::new(
            ErrorCode::DependencyTimeoutException,
            "The audit trail cannot record this request now; retry later.",
        ));
    }
    api::dispatch(&state.kms, caller, operation, &body, &mut facts.captured).await
}
