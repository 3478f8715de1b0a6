//! The transport: Trent's own accept loop, from the socket to the router.
//!
//! ```text
//! accept ─▶ Registry::admit (cap; evict the longest idle) ─▶ task per connection:
//!           [TLS handshake] ─▶ hyper HTTP/1.1 ─▶ ConnService ─▶ crate::handle (the AWS endpoint)
//!                                                           └▶ Router (/health, /metrics)
//!           watchdog: handshake/header-read and idle deadlines, eviction, shutdown
//! ```
//!
//! HTTP/1.1 only, as AWS KMS speaks it: one request in flight per
//! connection. Pipelined requests wait, unparsed, in hyper's read buffer,
//! which holds at most [`TransportConfig::max_buf_size`] bytes; past that
//! hyper stops reading and TCP pushes back on the client.
//!
//! Phases and deadlines (see [`registry::Phase`]):
//!
//! - a TLS handshake must finish within `header_read_timeout` of accept;
//! - a connection with no request in progress and no bytes arriving is
//!   idle, and closed after `idle_timeout` (a new plain connection starts
//!   idle);
//! - the first byte of a request head starts `header_read_timeout`: a
//!   client that dribbles a head is cut at that deadline, however it paces
//!   its bytes;
//! - from a complete head to the end of its response, a request is in
//!   progress: no transport deadline (the request pipeline bounds reading
//!   the body with `body_timeout`, carried in [`Connection`]) and never
//!   evicted.
//!
//! Timeouts and evictions close the socket without a response, as servers
//! do. Each connection's watchdog is `select!`ed with its hyper connection
//! in the connection's task; a phase change wakes it only when its
//! deadline comes sooner than the watchdog's timer, so a busy keep-alive
//! connection costs no wakeup per request.

mod io;
mod limits;
mod registry;
mod self_signed;
mod tls;

use crate::AppState;
use axum::Router;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::{TowerToHyperService, TowerToHyperServiceFuture};
use io::{ActiveGuard, TrackedBody, TrackedIo};
use registry::{Admission, ConnState, Phase, Registry, UNARMED, now_ms};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How long in-flight requests may run on after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How the server treats connections.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// From a request's first byte to its complete head; also the limit
    /// for a TLS handshake. Default 10 s.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request in progress and no bytes
    /// arriving is closed after this. Default 60 s.
    pub idle_timeout: Duration,
    /// Reading a request body. Applied by the request pipeline, not here:
    /// the transport carries it to each request in [`Connection`].
    /// Default 10 s.
    pub body_timeout: Duration,
    /// At most this many connections are open; at the cap a new one
    /// closes the one idle (or reading a head) the longest, or is refused
    /// when every one is serving a request. Lowered to what
    /// `RLIMIT_NOFILE` allows, less headroom for the store and files.
    /// Default 4096.
    pub max_connections: usize,
    /// hyper's read buffer per connection (at least 8 KiB): the largest
    /// request head, and how many bytes of pipelined requests wait unread.
    /// Default 32 KiB: a SigV4-signed KMS request head, session token
    /// included, is 1–4 KiB, so this leaves room for proxies' headers
    /// while 4096 connections dribbling heads hold at most 128 MiB.
    pub max_buf_size: usize,
    /// TLS, or plain HTTP when `None`.
    pub tls: Option<TlsSettings>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_buf_size: 32 * 1024,
            tls: None,
        }
    }
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSettings {
    /// A PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1), reloaded when either file changes and on SIGHUP.
    Files { cert: PathBuf, key: PathBuf },
    /// A local CA and a server certificate it signs, made in `dir` on first
    /// start for `localhost`, the loopback addresses, the listen address
    /// and `extra_names`; clients trust `dir/ca.pem`.
    SelfSigned {
        dir: PathBuf,
        extra_names: Vec<String>,
    },
}

/// The connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection is TLS (`aws:SecureTransport`).
    pub secure: bool,
    /// The limit for reading the request body (the pipeline applies it).
    pub body_timeout: Duration,
}

/// A bound listener with its transport settings checked and its
/// certificate loaded or made: [`Transport::serve`] cannot fail on them.
pub struct Transport {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: TransportConfig,
    tls: Option<tls::Tls>,
    max_connections: usize,
}

impl Transport {
    /// Raises the open-file limit, derives the connection cap, and loads or
    /// makes the certificate. Errors name the file at fault. Call it inside
    /// a tokio runtime: with TLS it installs the SIGHUP handler (reload).
    pub fn new(listener: TcpListener, config: TransportConfig) -> std::io::Result<Transport> {
        let local_addr = listener.local_addr()?;
        if config.max_buf_size < 8192 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "max_buf_size must be at least 8192 bytes",
            ));
        }
        for (name, value) in [
            ("header_read_timeout", config.header_read_timeout),
            ("idle_timeout", config.idle_timeout),
        ] {
            if value.is_zero() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{name} must be more than zero"),
                ));
            }
        }
        let nofile = limits::raise_nofile_limit();
        let max_connections = limits::connection_cap(config.max_connections, nofile);
        if max_connections < config.max_connections {
            tracing::warn!(
                wanted = config.max_connections,
                max_connections,
                open_file_limit = nofile,
                "the open-file limit lowers the connection cap"
            );
        }
        let tls = match &config.tls {
            Some(settings) => Some(tls::Tls::new(settings, local_addr)?),
            None => {
                if !local_addr.ip().is_loopback() {
                    tracing::warn!(
                        %local_addr,
                        "serving plain HTTP beyond loopback: plaintexts, data keys and key material cross the network in clear; use --tls-cert/--tls-key or --tls self-signed"
                    );
                }
                None
            }
        };
        Ok(Transport {
            listener,
            local_addr,
            config,
            tls,
            max_connections,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `https://ADDR` or `http://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Serves `router(state)` until `shutdown` completes; then stops
    /// accepting, closes idle connections, lets requests in flight finish
    /// (for up to 10 s) and returns.
    pub async fn serve(
        self,
        state: Arc<AppState>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Transport {
            listener,
            local_addr,
            config,
            mut tls,
            max_connections,
        } = self;
        tracing::info!(
            %local_addr,
            tls = tls.is_some(),
            max_connections,
            header_read_timeout_s = config.header_read_timeout.as_secs_f64(),
            idle_timeout_s = config.idle_timeout.as_secs_f64(),
            body_timeout_s = config.body_timeout.as_secs_f64(),
            "transport ready"
        );
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .keep_alive(true)
            .max_buf_size(config.max_buf_size)
            // The watchdog enforces the idle and header-read deadlines;
            // hyper's own timer (30 s by default) would arm and drop a
            // timer entry per request for a looser bound.
            .header_read_timeout(None);
        let reloader = tls.as_mut().map(tls::Tls::spawn_reloader);
        let shared = Arc::new(Shared {
            registry: Registry::new(max_connections),
            router: TowerToHyperService::new(crate::router(state.clone())),
            http,
            acceptor: tls.as_ref().map(|t| t.acceptor.clone()),
            header_read_ms: config.header_read_timeout.as_millis() as u64,
            idle_ms: config.idle_timeout.as_millis() as u64,
            body_timeout: config.body_timeout,
            state,
            shutdown_deadline: OnceLock::new(),
            last_refusal_warning: AtomicU64::new(0),
        });
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        let mut backoff = limits::Backoff::default();
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    backoff.reset();
                    admit(&shared, stream, peer, &done_tx);
                }
                Err(e) if limits::is_connection_error(&e) => {}
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::error!(
                        error = %e,
                        delay_ms = delay.as_millis() as u64,
                        "accept failed; pausing"
                    );
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        // New connections are refused from here on.
        drop(listener);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        let _ = shared.shutdown_deadline.set(deadline);
        shared.registry.shut_down();
        drop(done_tx);
        let open = shared.registry.len();
        if open > 0 {
            tracing::info!(
                open,
                "closing idle connections, finishing requests in flight"
            );
        }
        // Every task holds a sender: `None` once the last one has ended.
        let _ = tokio::time::timeout_at(deadline + Duration::from_secs(1), done_rx.recv()).await;
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        Ok(())
    }
}

/// What every connection's task shares.
struct Shared {
    registry: Registry,
    router: TowerToHyperService<Router>,
    http: http1::Builder,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    header_read_ms: u64,
    idle_ms: u64,
    body_timeout: Duration,
    state: Arc<AppState>,
    shutdown_deadline: OnceLock<tokio::time::Instant>,
    /// When (ms) a refusal was last logged: at most one warning a second.
    last_refusal_warning: AtomicU64,
}

fn admit(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr, done: &mpsc::Sender<()>) {
    let counters = &shared.state.metrics.connections;
    let phase = if shared.acceptor.is_some() {
        Phase::Handshake
    } else {
        Phase::Idle
    };
    let now = now_ms();
    match shared.registry.admit(phase, now) {
        Admission::Refused => {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            let last = shared.last_refusal_warning.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= 1000
                && shared
                    .last_refusal_warning
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                tracing::warn!(
                    %peer,
                    refused = counters.refused.load(Ordering::Relaxed),
                    "connection refused: at the cap, every connection is serving a request"
                );
            }
            drop(stream);
        }
        Admission::Admitted { id, state, evicted } => {
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            if evicted {
                counters.evicted.fetch_add(1, Ordering::Relaxed);
            }
            // Responses go out in one write; no reason to wait for ACKs.
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(
                shared.clone(),
                stream,
                peer,
                id,
                state,
                done.clone(),
            ));
        }
    }
}

/// Why a connection's watchdog stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Evicted,
    Timeout(Phase),
    Shutdown,
}

/// Leaves the registry (and the open gauge) when the task ends, however.
struct Registered<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.registry.remove(self.id);
        let counters = &self.shared.state.metrics.connections;
        counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    state: Arc<ConnState>,
    _done: mpsc::Sender<()>,
) {
    let counters = &shared.state.metrics.connections;
    counters.open.fetch_add(1, Ordering::Relaxed);
    let _registered = Registered {
        shared: &shared,
        id,
    };
    let io = TrackedIo::new(stream, state.clone(), shared.header_read_ms);
    let Some(acceptor) = &shared.acceptor else {
        serve_http(&shared, &state, io, peer, false).await;
        return;
    };
    let tls = tokio::select! {
        biased;
        stop = watchdog(&shared, &state) => {
            record_stop(&shared, stop, peer);
            return;
        }
        handshake = acceptor.accept(io) => match handshake {
            Ok(tls) => tls,
            Err(e) => {
                counters.handshake_failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
        },
    };
    if !state.transition(&[Phase::Handshake], Phase::Idle, now_ms()) {
        // Evicted as the handshake finished.
        record_stop(&shared, Stop::Evicted, peer);
        return;
    }
    serve_http(&shared, &state, tls, peer, true).await;
}

async fn serve_http<I>(
    shared: &Shared,
    state: &Arc<ConnState>,
    io: I,
    peer: SocketAddr,
    secure: bool,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = ConnService {
        router: shared.router.clone(),
        app: shared.state.clone(),
        state: state.clone(),
        connection: Connection {
            peer,
            secure,
            body_timeout: shared.body_timeout,
        },
        idle_ms: shared.idle_ms,
    };
    let conn = shared.http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let stop = tokio::select! {
        biased;
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        stop = watchdog(shared, state) => stop,
    };
    record_stop(shared, stop, peer);
    // Only a request in progress outlives shutdown (the phase cannot change
    // meanwhile: the connection is not polled here). hyper's own graceful
    // shutdown would keep a connection holding part of a head waiting for
    // the rest.
    if stop == Stop::Shutdown && state.load().0 == Phase::Active {
        // The response goes out with `Connection: close`, then hyper closes.
        conn.as_mut().graceful_shutdown();
        let deadline = shared
            .shutdown_deadline
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now);
        let _ = tokio::time::timeout_at(deadline, conn).await;
    }
}

fn record_stop(shared: &Shared, stop: Stop, peer: SocketAddr) {
    let counters = &shared.state.metrics.connections;
    let counter = match stop {
        Stop::Evicted => {
            tracing::debug!(%peer, "connection evicted to make room");
            // Counted when the newcomer was admitted.
            return;
        }
        Stop::Shutdown => return,
        Stop::Timeout(Phase::Handshake) => &counters.handshake_timeouts,
        Stop::Timeout(Phase::Head) => &counters.header_timeouts,
        Stop::Timeout(_) => &counters.idle_timeouts,
    };
    tracing::debug!(%peer, ?stop, "connection timed out");
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Waits until the connection must stop: its phase's deadline passed, it
/// was evicted, or the server is shutting down.
async fn watchdog(shared: &Shared, state: &ConnState) -> Stop {
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);
    let mut armed = UNARMED;
    loop {
        let woken = state.wake.notified();
        if shared.registry.shutting_down() {
            return Stop::Shutdown;
        }
        let (phase, since) = state.load();
        let now = now_ms();
        let deadline = match phase {
            Phase::Evicted => return Stop::Evicted,
            Phase::Active => None,
            Phase::Handshake | Phase::Head => Some(since + shared.header_read_ms),
            Phase::Idle => Some(since + shared.idle_ms),
        };
        if let Some(deadline) = deadline {
            if deadline <= now {
                return Stop::Timeout(phase);
            }
            // An idle connection's timer fires no later than a head that
            // began now would time out: then the next request's first
            // byte needs no wake (`TrackedIo`), and a busy connection's
            // watchdog runs about once per header-read timeout instead of
            // once per request.
            let deadline = match phase {
                Phase::Idle => deadline.min(now + shared.header_read_ms),
                _ => deadline,
            };
            // A later deadline waits for the armed timer to fire first.
            if deadline < armed {
                armed = deadline;
                state.armed.store(deadline, Ordering::Relaxed);
                let at = registry::origin() + Duration::from_millis(deadline);
                sleep.as_mut().reset(tokio::time::Instant::from_std(at));
            }
        }
        tokio::select! {
            biased;
            () = woken => {}
            () = sleep.as_mut(), if armed != UNARMED => {
                armed = UNARMED;
                state.armed.store(UNARMED, Ordering::Relaxed);
            }
        }
    }
}

/// One connection's hyper service: marks the request in progress, and
/// hands it with its [`Connection`] to [`crate::handle`] (or, for
/// `/health` and `/metrics`, to the router).
#[derive(Clone)]
struct ConnService {
    router: TowerToHyperService<Router>,
    app: Arc<AppState>,
    state: Arc<ConnState>,
    connection: Connection,
    idle_ms: u64,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<Incoming>) -> ResponseFuture {
        let Some(guard) = ActiveGuard::begin(&self.state, self.idle_ms) else {
            return ResponseFuture {
                inner: Inner::Evicted,
                guard: None,
            };
        };
        let inner = if crate::is_routed(&self.app, request.uri().path()) {
            Inner::Routed(Box::new(self.router.call(request)))
        } else {
            Inner::Direct(Box::pin(crate::handle(
                self.app.clone(),
                request,
                self.connection,
            )))
        };
        ResponseFuture {
            inner,
            guard: Some(guard),
        }
    }
}

struct ResponseFuture {
    inner: Inner,
    /// Moves into the response body.
    guard: Option<ActiveGuard>,
}

enum Inner {
    /// The connection was evicted before the request began: the request
    /// does not run, and the connection closes.
    Evicted,
    /// `/health`, `/metrics`: through the router (boxed: off the hot path).
    Routed(Box<TowerToHyperServiceFuture<Router, Request<Incoming>>>),
    /// The AWS endpoint.
    Direct(Pin<Box<dyn Future<Output = axum::response::Response> + Send>>),
}

impl Future for ResponseFuture {
    type Output = Result<Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let response = match &mut this.inner {
            Inner::Evicted => {
                let mut response = Response::new(TrackedBody::new(Default::default(), None));
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                response.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
                return Poll::Ready(Ok(response));
            }
            Inner::Routed(inner) => ready!(Pin::new(inner).poll(cx))?,
            Inner::Direct(inner) => ready!(inner.as_mut().poll(cx)),
        };
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|body| TrackedBody::new(body, guard))))
    }
}
