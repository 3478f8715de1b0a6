//! `trent serve`: its options and the wiring of a server from them.

use crate::admin::{audit_signing_key, open_store};
use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trent_core::audit::{self, AuditConfig, AuditLog};
use trent_core::clock::{AdjustableClock, Clock, SystemClock};
use trent_core::{Identities, Kms, KmsConfig};

/// The longest timeout the transport takes (a day): its deadlines are
/// milliseconds in a u64 and sums of timeouts.
const MAX_TIMEOUT_SECS: u64 = 86_400;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// A TOML file of options (keys are these flags without their dashes:
    /// `data-dir = "/var/lib/trent"`). A flag wins over its TRENT_*
    /// variable, which wins over the file.
    #[arg(long, value_name = "FILE", env = "TRENT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (secrets redacted) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4599", env = "TRENT_LISTEN")]
    listen: SocketAddr,
    /// Where the store and the root key are (`--data-dir`,
    /// `--database-url`); generated credentials and TLS files go in the
    /// data directory.
    #[command(flatten)]
    store: crate::admin::StoreArgs,
    /// Home region, used in messages and defaults.
    #[arg(long, default_value = "us-east-1", env = "TRENT_REGION")]
    region: String,
    /// The account the bootstrap identity belongs to.
    #[arg(long, default_value = "000000000000", env = "TRENT_ACCOUNT_ID")]
    account_id: String,
    /// Let `POST /_trent/clock/advance?seconds=N` move the lifecycle clock
    /// forward, so tests can make rotations and deletions fall due. Never in
    /// production: anyone who can reach the port could destroy keys early.
    #[arg(long, env = "TRENT_UNSAFE_TEST_CLOCK")]
    unsafe_test_clock: bool,
    /// Override a resource quota (AWS's defaults otherwise): `keys=N`,
    /// `aliases-per-key=N`, `grants-per-key=N`, `grants-per-grantee=N`,
    /// `tags-per-key=N`. Repeatable.
    #[arg(long = "quota", value_parser = parse_quota, env = "TRENT_QUOTA", value_delimiter = ',')]
    quotas: Vec<(String, usize)>,
    /// Request quotas (requests per second per account and Region) to
    /// start from: `trent` (AWS's cryptographic quotas at their default
    /// Region's values, other operations 10x AWS's), `aws` (AWS's exactly)
    /// or `off`.
    #[arg(long, default_value = "trent", value_parser = parse_profile, env = "TRENT_REQUEST_QUOTAS")]
    request_quotas: trent_core::quotas::Profile,
    /// Override one request quota: `NAME=N` requests per second, NAME an
    /// operation (`CreateKey`), a shared quota (`symmetric`, `rsa`, `ecc`,
    /// `ml-dsa`, `ml-kem`, `iam`, `sts`, `LookupEvents`), `GenerateDataKeyPair:SPEC`
    /// or an audit bound (`ThrottledEvents`, `UnauthenticatedEvents`).
    /// Repeatable.
    #[arg(long = "request-quota", value_parser = parse_request_quota, env = "TRENT_REQUEST_QUOTA", value_delimiter = ',')]
    request_quota: Vec<(trent_core::quotas::QuotaClass, f64)>,
    /// Do not serve the web console (`/console/`). The console is a client
    /// of the API like any other (every call signed in the browser), so
    /// this removes no access, only the page.
    #[arg(long, env = "TRENT_NO_CONSOLE")]
    no_console: bool,
    /// Serve only these regions (comma-separated); default: any region.
    #[arg(long, value_delimiter = ',', env = "TRENT_REGIONS")]
    regions: Vec<String>,
    /// Record no audit events. Exists only to measure what auditing costs
    /// (`trent bench --audit-off`); never in production: calls would
    /// leave no trace.
    #[arg(long, env = "TRENT_UNSAFE_NO_AUDIT")]
    unsafe_no_audit: bool,
    /// Also write each audit event, once committed to the store, as one
    /// line of CloudTrail JSON to this file (appended, created 0600,
    /// recreated if removed) or to stdout (`-`, after the ready line).
    /// While writing it fails, mutations are refused.
    #[arg(long, value_name = "PATH|-", env = "TRENT_AUDIT_STREAM")]
    audit_stream: Option<String>,
    /// Serve TLS with this PEM certificate chain (end entity first);
    /// needs --tls-key. Reloaded without a restart when the file changes
    /// and on SIGHUP. Default: plain HTTP.
    #[arg(long, value_name = "PEM", requires = "tls_key", env = "TRENT_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert", env = "TRENT_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// `self-signed`: serve TLS with a local CA made on first start in
    /// DATA_DIR/tls/ (clients trust DATA_DIR/tls/ca.pem, e.g. with
    /// AWS_CA_BUNDLE). Default: plain HTTP.
    #[arg(long, value_enum, conflicts_with_all = ["tls_cert", "tls_key"], env = "TRENT_TLS")]
    tls: Option<TlsMode>,
    /// Another name (DNS name or IP address) for the self-signed
    /// certificate, besides localhost, 127.0.0.1, ::1 and the listen
    /// address. Repeatable.
    #[arg(
        long = "tls-name",
        value_name = "NAME",
        requires = "tls",
        env = "TRENT_TLS_NAME",
        value_delimiter = ','
    )]
    tls_names: Vec<String>,
    /// Seconds a client has from the first byte of a request to the end of
    /// its headers (and to finish a TLS handshake).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS), env = "TRENT_HEADER_READ_TIMEOUT")]
    header_read_timeout: u64,
    /// Seconds a keep-alive connection may sit with no request before it
    /// is closed.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS), env = "TRENT_IDLE_TIMEOUT")]
    idle_timeout: u64,
    /// Seconds a client has to send a request body; a slower one is
    /// answered 408 (`RequestTimeoutException`).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS), env = "TRENT_BODY_TIMEOUT")]
    body_timeout: u64,
    /// Most connections open at once; at the cap a new connection closes
    /// the one idle (or reading a request head) the longest, or is refused
    /// if every one is serving a request. Lowered to fit the open-file
    /// limit.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..), env = "TRENT_MAX_CONNECTIONS")]
    max_connections: u64,
    /// The access key id the account's root gets at the first start (with
    /// --bootstrap-secret-access-key); without both, one is generated and
    /// written to DATA_DIR/root-credentials. Ignored once the account
    /// exists.
    #[arg(
        long,
        value_name = "ID",
        env = "TRENT_BOOTSTRAP_ACCESS_KEY_ID",
        requires = "bootstrap_secret_access_key"
    )]
    bootstrap_access_key_id: Option<String>,
    /// The secret of --bootstrap-access-key-id. A secret: prefer the
    /// environment or the configuration file (mode 0600) to a flag, which
    /// other users can read in the process list.
    #[arg(
        long,
        value_name = "SECRET",
        env = "TRENT_BOOTSTRAP_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "bootstrap_access_key_id"
    )]
    bootstrap_secret_access_key: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TlsMode {
    /// A local CA and a server certificate it signs, in DATA_DIR/tls/.
    SelfSigned,
}

impl ServeArgs {
    fn transport(&self) -> trent_server::transport::TransportConfig {
        use std::time::Duration;
        use trent_server::transport::{TlsSettings, TransportConfig};
        let tls = match (&self.tls, &self.tls_cert, &self.tls_key) {
            (Some(TlsMode::SelfSigned), _, _) => Some(TlsSettings::SelfSigned {
                dir: self.store.data_dir.join("tls"),
                extra_names: self.tls_names.clone(),
            }),
            (None, Some(cert), Some(key)) => Some(TlsSettings::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        TransportConfig {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            tls,
            ..TransportConfig::default()
        }
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.account_id.len() == 12 && args.account_id.bytes().all(|b| b.is_ascii_digit()),
        "--account-id must be 12 digits"
    );
    trent_seal::ensure_private_dir(&args.store.data_dir)
        .with_context(|| format!("creating data directory {}", args.store.data_dir.display()))?;
    // One server on a SQLite data directory, and no root-key rotation
    // beside it: the lock is held until `serve` returns.
    let _data_dir_lock = match &args.store.database_url {
        None => Some(crate::admin::lock_data_dir(
            &args.store.data_dir,
            &format!(
                "{} is in use, Trent will not serve it twice",
                args.store.data_dir.display()
            ),
        )?),
        Some(_) => None,
    };
    let (store, root) = open_store(&args.store, true).await?;
    // Every store call is timed for /metrics.
    let timed = Arc::new(trent_core::TimedStore::new(store));
    let store: Arc<dyn trent_core::Store> = timed.clone();
    // Other processes change the store too (nodes on one PostgreSQL, admin
    // commands): their changes reach the caches through the feed, read
    // from here on, before any cache is filled. Several nodes answer from
    // their caches only while the feed confirms them current.
    let freshness = match args.store.database_url {
        Some(_) => trent_core::Freshness::enforced(),
        None => trent_core::Freshness::not_enforced(),
    };
    let feed = trent_core::ChangeFeed::start(store.clone(), freshness.clone())
        .await
        .context("reading the store's change feed")?;
    let identities = Arc::new(Identities::new(store.clone(), root.clone()));
    identities.set_freshness(freshness.clone());
    bootstrap_credentials(&identities, &args).await?;
    let test_clock = args
        .unsafe_test_clock
        .then(|| Arc::new(AdjustableClock::default()));
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(clock) => {
            tracing::warn!(
                "--unsafe-test-clock: the lifecycle clock can be moved over HTTP; never use this in production"
            );
            clock.clone()
        }
        None => Arc::new(SystemClock),
    };
    let mut config = KmsConfig::default();
    for (name, value) in &args.quotas {
        let slot = match name.as_str() {
            "keys" => &mut config.max_keys,
            "aliases-per-key" => &mut config.max_aliases_per_key,
            "grants-per-key" => &mut config.max_grants_per_key,
            "grants-per-grantee" => &mut config.max_grants_per_grantee,
            "tags-per-key" => &mut config.max_tags_per_key,
            other => anyhow::bail!("unknown quota {other:?}"),
        };
        *slot = *value;
    }
    let signer = audit_signing_key(&store, &root).await?;
    let stream = match &args.audit_stream {
        Some(arg) => Some(
            audit::sink::JsonLinesSink::open(audit::sink::StreamTarget::parse(arg))
                .with_context(|| format!("opening the audit stream {arg}"))?,
        ),
        None => None,
    };
    let audit_log =
        AuditLog::start_with_stream(store.clone(), signer, AuditConfig::default(), stream)
            .await
            .context("starting the audit trail")?;
    let mut limits = trent_core::quotas::QuotaLimits::new(args.request_quotas);
    for (class, per_second) in &args.request_quota {
        limits.set(*class, *per_second);
    }
    let request_quotas = trent_core::quotas::RequestQuotas::new(limits);
    let mut kms = Kms::open(store, root, identities.clone(), config, clock).await?;
    kms.set_request_quotas(request_quotas);
    kms.set_freshness(freshness.clone());
    kms.track_usage(audit_log.usage());

    let regions = args.regions.clone();
    let mut state = trent_server::AppState::new(kms, identities, regions);
    state.test_clock = test_clock;
    state.console = !args.no_console;
    state.store_timing = Some(timed);
    state.freshness = freshness;
    state.feed = Some(feed.stats());
    if args.unsafe_no_audit {
        tracing::warn!(
            "--unsafe-no-audit: no audit events are recorded; never use this in production"
        );
    } else {
        state.audit = Some(audit_log.clone());
    }
    let state = Arc::new(state);
    tokio::spawn(trent_server::run_scheduler(state.clone()));
    let following = state.clone();
    tokio::spawn(async move { feed.run(&following.kms).await });
    let warming = state.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match warming.kms.warm_cache().await {
            Ok(keys) => tracing::info!(
                keys,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "key cache warmed"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "warming the key cache failed; keys load on first use")
            }
        }
    });
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    // Certificates are loaded (or made) before the ready line.
    let transport = trent_server::transport::Transport::new(listener, args.transport())
        .context("setting up the transport")?;
    let bound = transport.local_addr();
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", transport.url())?;
        stdout.flush()?;
    }
    tracing::info!(%bound, region = %args.region, account = %args.account_id, "trent is serving");
    let served = transport.serve(state, shutdown).await;
    // Whatever is queued is written and the chain closed with a digest.
    audit_log.close().await;
    served?;
    Ok(())
}

fn parse_profile(s: &str) -> Result<trent_core::quotas::Profile, String> {
    trent_core::quotas::Profile::parse(s)
        .ok_or_else(|| format!("{s:?} is not a request quota profile (trent, aws or off)"))
}

fn parse_request_quota(s: &str) -> Result<(trent_core::quotas::QuotaClass, f64), String> {
    let (name, value) = s.split_once('=').ok_or("expected NAME=N")?;
    let class = trent_core::quotas::QuotaClass::parse(name)
        .ok_or_else(|| format!("{name:?} names no request quota"))?;
    let value: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{value:?} is not a number of requests per second"))?;
    Ok((class, value))
}

fn parse_quota(s: &str) -> Result<(String, usize), String> {
    let (name, value) = s.split_once('=').ok_or("expected NAME=N")?;
    let value = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    Ok((name.to_owned(), value))
}

/// Installs the SIGTERM and SIGINT handlers now, before the ready line is
/// printed, so that a signal sent right after it stops the server gracefully
/// instead of killing it; the returned future resolves on the first signal.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
    })
}

/// Creates the account at first start, its root with an access key: the
/// one in `TRENT_BOOTSTRAP_*` if set, otherwise a generated one written to
/// `DATA_DIR/root-credentials` (0600). Once the account exists this does
/// nothing: a root key the operator deleted is never made again.
async fn bootstrap_credentials(identities: &Identities, args: &ServeArgs) -> anyhow::Result<()> {
    let account = &args.account_id;
    let given = (
        &args.bootstrap_access_key_id,
        &args.bootstrap_secret_access_key,
    );
    if identities.account_exists(account).await? {
        if given.0.is_some() {
            tracing::info!(
                account = %account,
                "bootstrap credentials ignored: the account exists (they apply at the first start only)"
            );
        }
        return Ok(());
    }
    if let (Some(id), Some(secret)) = given {
        anyhow::ensure!(
            !id.is_empty() && !secret.is_empty(),
            "the bootstrap access key id and secret must not be empty"
        );
        identities.bootstrap_account(account, (id, secret)).await?;
        return Ok(());
    }
    // The file first, then the store: a stored key whose secret never
    // reached anyone would lock the account out for good.
    let (id, secret) = Identities::generate_access_key()?;
    let path = args.store.data_dir.join("root-credentials");
    write_credentials_file(&path, &id, &secret)?;
    match identities.bootstrap_account(account, (&id, &secret)).await {
        Ok(true) => {
            tracing::info!(path = %path.display(), access_key_id = %id, "generated root credentials");
            Ok(())
        }
        Ok(false) => {
            let _ = std::fs::remove_file(&path);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e.into())
        }
    }
}

fn write_credentials_file(path: &Path, id: &str, secret: &str) -> anyhow::Result<()> {
    let contents = zeroize::Zeroizing::new(format!(
        "[default]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"
    ));
    trent_core::files::write_private_file(path, contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
