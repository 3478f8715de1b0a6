//! Trent's HTTP front: AWS KMS (JSON 1.1), IAM and STS (Query) and
//! CloudTrail's LookupEvents (JSON 1.1) on one endpoint, over hyper (axum
//! only for `/health`, `/metrics`, the web console's files and the test
//! clock).
//!
//! A request goes: the transport's connection service, which hands
//! `/health`, `/metrics`, `/console/` (and the test clock) to [`router`]
//! and every other request straight to [`handle`], which picks its
//! protocol by content type and target → [`pipeline::run`], the one
//! pipeline every protocol goes through (request id, panics, body limits, SigV4 by
//! [`auth::Authenticator`], quotas, audit, metrics) → the protocol's
//! handler: [`api::dispatch`] for KMS (parse JSON, validate against the
//! model, call [`trent_core::Kms`], render JSON), `iam` for IAM and STS,
//! `cloudtrail` for LookupEvents. Each protocol maps errors to its wire
//! codes in one place: [`error::ApiError`] for KMS.
//!
//! **Architecture invariant:** only this crate (and `trent-wire`) knows JSON
//! and HTTP; `trent-core` is called with typed arguments.

mod api;
mod audit;
pub mod auth;
mod cloudtrail;
mod console;
pub mod error;
mod iam;
pub mod metrics;
mod pipeline;
pub mod transport;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use trent_core::audit::{AuditLog, EventSource};
use trent_core::clock::AdjustableClock;
use trent_core::{Identities, Kms};

/// The header naming an AWS JSON request's operation. A `HeaderName`, not
/// a `&str`: a lookup by a string parses and validates the name first.
pub(crate) const X_AMZ_TARGET: axum::http::HeaderName =
    axum::http::HeaderName::from_static("x-amz-target");

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
    /// Regions KMS serves; empty means any.
    pub regions: Vec<String>,
    /// Set only by `trent serve --unsafe-test-clock`: enables
    /// `POST /_trent/clock/advance`.
    pub test_clock: Option<Arc<AdjustableClock>>,
    /// Serve the web console at `/console/` (`trent serve --no-console`:
    /// not).
    pub console: bool,
    /// The audit trail; `None` records nothing.
    pub audit: Option<AuditLog>,
    /// Request counters and latencies for `GET /metrics`.
    pub metrics: metrics::Metrics,
    /// The store's latency by method, for `GET /metrics` (when the store
    /// is wrapped in a [`trent_core::TimedStore`]).
    pub store_timing: Option<Arc<trent_core::TimedStore>>,
    /// Whether the caches are confirmed current (several nodes: `/health`
    /// is not ready while they are not).
    pub freshness: Arc<trent_core::Freshness>,
    /// The change feed's counters, for `GET /metrics` (several nodes).
    pub feed: Option<Arc<trent_core::FeedStats>>,
    request_ids: RequestIds,
}

impl AppState {
    pub fn new(kms: Kms, identities: Arc<Identities>, regions: Vec<String>) -> Self {
        Self {
            kms,
            identities,
            auth: auth::Authenticator::new(),
            regions,
            test_clock: None,
            console: true,
            audit: None,
            metrics: metrics::Metrics::new(),
            store_timing: None,
            freshness: trent_core::Freshness::not_enforced(),
            feed: None,
            request_ids: RequestIds::new(),
        }
    }
}

/// Request ids in UUID form: a random per-process prefix and a counter, so a
/// request costs no random-number syscall. Each thread takes the counter's
/// values a block at a time and hands them out itself, so the shared
/// counter moves once per block, not once per request.
struct RequestIds {
    prefix: [u8; 8],
    counter: AtomicU64,
    /// Tells this generator's blocks from another's (a process may run
    /// several servers, one after another: tests).
    instance: u64,
}

/// Counter values a thread takes at once.
const REQUEST_ID_BLOCK: u64 = 1024;

impl RequestIds {
    fn new() -> Self {
        let mut prefix = [0u8; 8];
        // A failed RNG only makes ids predictable; they are not secrets.
        let _ = trent_crypto::random_bytes(&mut prefix);
        static INSTANCES: AtomicU64 = AtomicU64::new(1);
        Self {
            prefix,
            counter: AtomicU64::new(0),
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn next(&self) -> RequestId {
        thread_local! {
            /// (instance, next value, end of the block) of this thread's
            /// block; the instance keeps two servers of one process (tests)
            /// from sharing blocks.
            static BLOCK: std::cell::Cell<(u64, u64, u64)> = const { std::cell::Cell::new((0, 0, 0)) };
        }
        let n = BLOCK.with(|block| {
            let (owner, mut next, mut end) = block.get();
            if owner != self.instance || next == end {
                next = self.counter.fetch_add(REQUEST_ID_BLOCK, Ordering::Relaxed);
                end = next + REQUEST_ID_BLOCK;
            }
            block.set((self.instance, next + 1, end));
            next
        });
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

/// The test clock's route (only with `--unsafe-test-clock`).
const CLOCK_PATH: &str = "/_trent/clock/advance";

/// The routes beside the AWS endpoint: `/health`, `/metrics` and, with
/// `--unsafe-test-clock`, the clock. The transport sends only the requests
/// [`is_routed`] names here; every other request goes to [`handle`].
pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/health", axum::routing::get(health))
        .route("/metrics", axum::routing::get(metrics_text));
    if state.console {
        router = router
            .route(console::PREFIX, axum::routing::get(console::serve))
            .route("/console/", axum::routing::get(console::serve))
            .route("/console/{*file}", axum::routing::get(console::serve));
    }
    if state.test_clock.is_some() {
        router = router.route(CLOCK_PATH, axum::routing::post(advance_clock));
    }
    router.with_state(state)
}

/// Whether a request's path is one of [`router`]'s (any method: the router
/// answers a wrong one with 405).
pub(crate) fn is_routed(state: &AppState, path: &str) -> bool {
    match path {
        "/health" | "/metrics" => true,
        CLOCK_PATH => state.test_clock.is_some(),
        _ => state.console && console::is_console(path),
    }
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

/// Runs due rotations, deletions and expiries of imported material and
/// records each in the audit trail as a service event (`RotateKey`,
/// `DeleteKey`, `DeleteExpiredKeyMaterial`). Returns how many were done.
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
                trent_core::DueWork::Expire(_) => "DeleteExpiredKeyMaterial",
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
                recipient: None,
            })
            .await;
        }
    }
    done.len()
}

/// Ready (200), or not (503) while this node cannot confirm that its
/// caches are current (several nodes: the database is unreachable) or its
/// audit trail cannot be written, so that a load balancer takes it out.
async fn health(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let audit_ok = state
        .audit
        .as_ref()
        .is_none_or(|log| !log.stats().store_failing());
    let (status, body) = if state.freshness.is_fresh() && audit_ok {
        (StatusCode::OK, "{\"status\":\"ok\"}")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "{\"status\":\"stale\"}")
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body)
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

/// Every request but [`router`]'s lands here, straight from the transport
/// (no router, no extractors): its protocol is chosen by its content type
/// and target, and it goes through the one pipeline.
pub(crate) async fn handle<B>(
    state: Arc<AppState>,
    request: http::Request<B>,
    connection: transport::Connection,
) -> Response
where
    B: http_body::Body<Data = axum::body::Bytes> + Send,
    B::Error: Into<axum::BoxError>,
{
    // IAM, STS and CloudTrail boxed: their futures never set the size of
    // KMS's, which is moved whole into its box per request.
    if iam::is_query_request(request.headers()) {
        return Box::pin(pipeline::run(&state, &iam::Query, request, &connection)).await;
    }
    if cloudtrail::operation(request.headers()).is_some() {
        return Box::pin(pipeline::run(
            &state,
            &cloudtrail::CloudTrail,
            request,
            &connection,
        ))
        .await;
    }
    pipeline::run(&state, &api::Kms, request, &connection).await
}

#[cfg(test)]
mod request_id_tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_across_threads_blocks_and_generators() {
        let ids = std::sync::Arc::new(RequestIds::new());
        let per_thread = (REQUEST_ID_BLOCK * 2 + 7) as usize;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let ids = ids.clone();
                std::thread::spawn(move || {
                    (0..per_thread)
                        .map(|_| ids.next().as_str().to_owned())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                assert!(seen.insert(id), "an id twice");
            }
        }
        assert_eq!(seen.len(), per_thread * 4);
        // A second generator on this thread starts a block of its own.
        let other = RequestIds::new();
        let (a, b) = (ids.next(), other.next());
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(other.counter.load(Ordering::Relaxed), REQUEST_ID_BLOCK);
    }
}

#[cfg(test)]
mod hot_path_tests {
    /// The size of the future an async fn returns, from the fn item alone.
    fn future_size<F, A, B, C, Fut>(_: F) -> usize
    where
        F: FnOnce(A, B, C) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    /// Every request's future is moved whole into its box (and each await
    /// below moves its callee's): what only cold paths need (IAM, STS,
    /// CloudTrail, the store, the other operations) is boxed there, so
    /// the hot path's future stays a few KiB (5.5 KiB before, 3.8 KiB
    /// after, in a debug build). A large future inlined again shows up here.
    #[test]
    fn the_request_future_stays_small() {
        let size = future_size(super::handle::<hyper::body::Incoming>);
        assert!(size <= 4608, "handle's future is {size} bytes");
    }
}
