//! `trent`: the one binary. `trent serve` runs the KMS server; `trent bench`
//! benchmarks it (crate `trent-bench`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trent_core::audit::{self, AuditConfig, AuditLog};
use trent_core::clock::{AdjustableClock, Clock, SystemClock};
use trent_core::{Identities, Kms, KmsConfig};

/// mimalloc instead of glibc's malloc: buffers allocated on one thread and
/// freed on another (request facts taken by the audit writer, response
/// bodies) took glibc's arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "trent",
    version,
    about = "A self-hosted key management service that speaks the AWS KMS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the KMS server.
    Serve(ServeArgs),
    /// Administer accounts (works while the server runs).
    #[command(subcommand)]
    Account(AccountCommand),
    /// The audit trail: verify, export, public key (work on a stopped or
    /// running server's data directory).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Benchmark Trent against a bare baseline server in the same run.
    Bench(trent_bench::cli::BenchArgs),
    /// The bare baseline server `trent bench` starts (internal).
    #[command(hide = true)]
    BenchBaseline(trent_bench::cli::BaselineArgs),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account and print its root credentials (shown once) in the
    /// AWS shared-credentials format.
    Create {
        /// The new account's 12-digit id.
        #[arg(long)]
        account_id: String,
        #[arg(long, default_value = "./trent-data")]
        data_dir: PathBuf,
        /// The profile name in the printed credentials.
        #[arg(long, default_value = "default")]
        profile: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole trail: hash chain, signed digests, truncation. Names
    /// the first event that was changed, removed, inserted or reordered.
    Verify {
        #[arg(long, default_value = "./trent-data")]
        data_dir: PathBuf,
        /// The expected signing public key (hex), as `audit public-key`
        /// printed it earlier; default: the data directory's own.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print events as JSON lines.
    Export {
        #[arg(long, default_value = "./trent-data")]
        data_dir: PathBuf,
        /// Only events on this key (key id or ARN).
        #[arg(long, visible_alias = "key")]
        key_id: Option<String>,
        /// Only events by this principal ARN.
        #[arg(long)]
        principal: Option<String>,
        /// Only events at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only events before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
    },
    /// Print the Ed25519 public key (hex) that verifies the digests.
    PublicKey {
        #[arg(long, default_value = "./trent-data")]
        data_dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4599")]
    listen: SocketAddr,
    /// Where the store, the root key and generated credentials live.
    #[arg(long, default_value = "./trent-data")]
    data_dir: PathBuf,
    /// Home region, used in messages and defaults.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The account the bootstrap identity belongs to.
    #[arg(long, default_value = "000000000000")]
    account_id: String,
    /// Let `POST /_trent/clock/advance?seconds=N` move the lifecycle clock
    /// forward, so tests can make rotations and deletions fall due. Never in
    /// production: anyone who can reach the port could destroy keys early.
    #[arg(long)]
    unsafe_test_clock: bool,
    /// Override a resource quota (AWS's defaults otherwise): `keys=N`,
    /// `aliases-per-key=N`, `grants-per-key=N`, `grants-per-grantee=N`,
    /// `tags-per-key=N`. Repeatable.
    #[arg(long = "quota", value_parser = parse_quota)]
    quotas: Vec<(String, usize)>,
    /// Request quotas (requests per second per account and Region) to
    /// start from: `trent` (AWS's cryptographic quotas at their default
    /// Region's values, other operations 10x AWS's), `aws` (AWS's exactly)
    /// or `off`.
    #[arg(long, default_value = "trent", value_parser = parse_profile)]
    request_quotas: trent_core::quotas::Profile,
    /// Override one request quota: `NAME=N` requests per second, NAME an
    /// operation (`CreateKey`), a shared quota (`symmetric`, `rsa`, `ecc`,
    /// `ml-dsa`, `iam`, `sts`, `LookupEvents`), `GenerateDataKeyPair:SPEC`
    /// or `ThrottledEvents`. Repeatable.
    #[arg(long = "request-quota", value_parser = parse_request_quota)]
    request_quota: Vec<(trent_core::quotas::QuotaClass, f64)>,
    /// Serve only these regions (comma-separated); default: any region.
    #[arg(long, value_delimiter = ',')]
    regions: Vec<String>,
    /// Record no audit events. Exists only to measure what auditing costs
    /// (`trent bench --audit-off`); never in production: calls would
    /// leave no trace.
    #[arg(long)]
    unsafe_no_audit: bool,
    /// Also write each audit event, once committed to the store, as one
    /// line of CloudTrail JSON to this file (appended, created 0600,
    /// recreated if removed) or to stdout (`-`, after the ready line).
    /// While writing it fails, mutations are refused.
    #[arg(long, value_name = "PATH|-")]
    audit_stream: Option<String>,
    /// Serve TLS with this PEM certificate chain (end entity first);
    /// needs --tls-key. Reloaded without a restart when the file changes
    /// and on SIGHUP. Default: plain HTTP.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// `self-signed`: serve TLS with a local CA made on first start in
    /// DATA_DIR/tls/ (clients trust DATA_DIR/tls/ca.pem, e.g. with
    /// AWS_CA_BUNDLE). Default: plain HTTP.
    #[arg(long, value_enum, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls: Option<TlsMode>,
    /// Another name (DNS name or IP address) for the self-signed
    /// certificate, besides localhost, 127.0.0.1, ::1 and the listen
    /// address. Repeatable.
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls")]
    tls_names: Vec<String>,
    /// Seconds a client has from the first byte of a request to the end of
    /// its headers (and to finish a TLS handshake).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout: u64,
    /// Seconds a keep-alive connection may sit with no request before it
    /// is closed.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Seconds a client has to send a request body; a slower one is
    /// answered 408 (`RequestTimeoutException`).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout: u64,
    /// Most connections open at once; at the cap a new connection closes
    /// the one idle (or reading a request head) the longest, or is refused
    /// if every one is serving a request. Lowered to fit the open-file
    /// limit.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TlsMode {
    /// A local CA and a server certificate it signs, in DATA_DIR/tls/.
    SelfSigned,
}

impl ServeArgs {
    fn transport(&self) -> trent_server::transport::TransportConfig {
        use std::time::Duration;
        use trent_server::transport::{TlsSettings, TransportConfig};
        let tls = match (&self.tls, &self.tls_cert, &self.tls_key) {
            (Some(TlsMode::SelfSigned), _, _) => Some(TlsSettings::SelfSigned {
                dir: self.data_dir.join("tls"),
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

fn main() -> anyhow::Result<()> {
    // Logs go to stderr, filtered by `TRENT_LOG` (default `info`), as text
    // or, with `TRENT_LOG_FORMAT=json`, one JSON object per line.
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRENT_LOG")
                .unwrap_or_else(|_| "info".into()),
        );
    if std::env::var("TRENT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Account(AccountCommand::Create {
            account_id,
            data_dir,
            profile,
        }) => runtime.block_on(create_account(&account_id, &data_dir, &profile)),
        Command::Audit(command) => runtime.block_on(audit(command)),
        Command::Bench(args) => runtime.block_on(trent_bench::cli::bench(args)),
        Command::BenchBaseline(args) => runtime.block_on(trent_bench::cli::baseline(args)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.account_id.len() == 12 && args.account_id.bytes().all(|b| b.is_ascii_digit()),
        "--account-id must be 12 digits"
    );
    trent_seal::ensure_private_dir(&args.data_dir)
        .with_context(|| format!("creating data directory {}", args.data_dir.display()))?;
    let (store, root) = open_store(&args.data_dir, true).await?;
    // Every store call is timed for /metrics.
    let timed = Arc::new(trent_core::TimedStore::new(store));
    let store: Arc<dyn trent_core::Store> = timed.clone();
    let identities = Arc::new(Identities::new(store.clone(), root.clone()));
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
    let request_quotas = Arc::new(trent_core::quotas::RequestQuotas::new(limits));
    let mut kms = Kms::open(store, root, identities.clone(), config, clock).await?;
    kms.set_request_quotas(request_quotas.clone());
    kms.track_usage(audit_log.usage());

    let regions = args.regions.clone();
    let mut state = trent_server::AppState::new(kms, identities, regions);
    state.test_clock = test_clock;
    state.store_timing = Some(timed);
    state.quotas = request_quotas;
    if args.unsafe_no_audit {
        tracing::warn!(
            "--unsafe-no-audit: no audit events are recorded; never use this in production"
        );
    } else {
        state.audit = Some(audit_log.clone());
    }
    let state = Arc::new(state);
    tokio::spawn(trent_server::run_scheduler(state.clone()));
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

/// The audit trail's Ed25519 key: created once, kept sealed under the root
/// key in the store's `meta` table.
async fn audit_signing_key(
    store: &Arc<dyn trent_core::Store>,
    root: &Arc<dyn trent_core::RootKey>,
) -> anyhow::Result<trent_crypto::SigningKey> {
    let candidate = trent_crypto::SigningKey::generate_pkcs8()?;
    let sealed = root.seal(audit::SIGNING_KEY_AAD, &candidate)?;
    let stored = store.meta_secret(audit::SIGNING_KEY_META, &sealed).await?;
    let pkcs8 = root.unseal(audit::SIGNING_KEY_AAD, &stored)?;
    Ok(trent_crypto::SigningKey::from_pkcs8(&pkcs8)?)
}

async fn audit(command: AuditCommand) -> anyhow::Result<()> {
    const PAGE: usize = 1000;
    match command {
        AuditCommand::PublicKey { data_dir } => {
            let (store, root) = open_data_dir(&data_dir).await?;
            let key = audit_signing_key(&store, &root).await?;
            println!("{}", hex(&key.public_key()));
        }
        AuditCommand::Verify {
            data_dir,
            public_key,
        } => {
            let (store, root) = open_data_dir(&data_dir).await?;
            let own = audit_signing_key(&store, &root)
                .await?
                .public_key()
                .to_vec();
            let public_key = match public_key {
                Some(h) => {
                    let given = unhex(&h).context("--public-key must be hex")?;
                    anyhow::ensure!(
                        given == own,
                        "the data directory's signing key is not the given public key"
                    );
                    given
                }
                None => own,
            };
            let mut digests = Vec::new();
            loop {
                let after = digests.last().map_or(0, |d: &audit::AuditDigest| d.seq);
                let page = store.audit_digests(after, PAGE).await?;
                let done = page.len() < PAGE;
                digests.extend(page);
                if done {
                    break;
                }
            }
            let mut verifier = audit::Verifier::new(&public_key, digests);
            let mut after = 0;
            loop {
                let page = store.audit_events(after, PAGE).await?;
                for event in &page {
                    verifier
                        .event(event)
                        .map_err(|e| anyhow::anyhow!("TAMPERED: {e}"))?;
                    after = event.seq;
                }
                if page.len() < PAGE {
                    break;
                }
            }
            let report = verifier
                .finish()
                .map_err(|e| anyhow::anyhow!("TAMPERED: {e}"))?;
            println!(
                "OK: {} events, {} digests; signed through seq {}; {} unsigned events after the last digest",
                report.events, report.digests, report.signed_through, report.unsigned
            );
        }
        AuditCommand::Export {
            data_dir,
            key_id,
            principal,
            since,
            until,
        } => {
            let (store, _root) = open_data_dir(&data_dir).await?;
            let time = |s: Option<String>| -> anyhow::Result<Option<i64>> {
                s.map(|s| {
                    audit::parse_rfc3339_ms(&s)
                        .with_context(|| format!("{s:?} is not an RFC 3339 time"))
                })
                .transpose()
            };
            let (since, until) = (time(since)?, time(until)?);
            let mut stdout = std::io::stdout().lock();
            let mut after = 0;
            loop {
                let page = store.audit_events(after, PAGE).await?;
                for event in &page {
                    after = event.seq;
                    if since.is_some_and(|t| event.event_time_ms < t)
                        || until.is_some_and(|t| event.event_time_ms >= t)
                        || principal
                            .as_deref()
                            .is_some_and(|p| event.principal_arn.as_deref() != Some(p))
                    {
                        continue;
                    }
                    if let Some(key) = &key_id {
                        // Every key of the event (ReEncrypt has two).
                        let v: serde_json::Value = serde_json::from_str(&event.event_json)?;
                        let hit = v["resources"].as_array().is_some_and(|r| {
                            r.iter().any(|r| {
                                r["ARN"].as_str().is_some_and(|arn| {
                                    arn == key || arn.ends_with(&format!("/{key}"))
                                })
                            })
                        });
                        if !hit {
                            continue;
                        }
                    }
                    writeln!(stdout, "{}", event.event_json)?;
                }
                if page.len() < PAGE {
                    break;
                }
            }
            stdout.flush()?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    s.len().is_multiple_of(2).then_some(())?;
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The store and root key of a data directory that already exists.
async fn open_data_dir(
    data_dir: &Path,
) -> anyhow::Result<(Arc<dyn trent_core::Store>, Arc<dyn trent_core::RootKey>)> {
    anyhow::ensure!(
        data_dir.join("trent.db").exists(),
        "{} holds no Trent data (no trent.db)",
        data_dir.display()
    );
    open_store(data_dir, false).await
}

/// Opens the data directory's store and root key, and checks that the key
/// opens the store. `create`: a new data directory gets a new root key; a
/// store whose root key is missing is never given another (its material
/// would be lost for good), and nothing is written to it then.
async fn open_store(
    data_dir: &Path,
    create: bool,
) -> anyhow::Result<(Arc<dyn trent_core::Store>, Arc<dyn trent_core::RootKey>)> {
    let root_path = data_dir.join("root.key");
    let store_path = data_dir.join("trent.db");
    if !root_path.exists() && (store_path.exists() || !create) {
        anyhow::bail!(
            "{} has a store but no root key ({} is missing): restore it; Trent will not make a new one beside an existing store",
            data_dir.display(),
            root_path.display()
        );
    }
    let root = trent_seal::FileRootKey::open_or_create(&root_path)?;
    let store = trent_store::SqliteStore::open(&store_path)
        .await
        .context("opening the store")?;
    let store: Arc<dyn trent_core::Store> = Arc::new(store);
    trent_core::verify_root_key(store.as_ref(), &root)
        .await
        .with_context(|| format!("checking {}", root_path.display()))?;
    Ok((store, Arc::new(root)))
}

async fn create_account(account_id: &str, data_dir: &Path, profile: &str) -> anyhow::Result<()> {
    let (store, root) = open_data_dir(data_dir).await?;
    let identities = Identities::new(store, root);
    let key = identities.create_account(account_id).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}",
        key.info.access_key_id,
        key.secret.as_str()
    )?;
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
    let id = std::env::var("TRENT_BOOTSTRAP_ACCESS_KEY_ID");
    let secret = std::env::var("TRENT_BOOTSTRAP_SECRET_ACCESS_KEY");
    let from_env = id.is_ok() || secret.is_ok();
    if identities.account_exists(account).await? {
        if from_env {
            tracing::info!(
                account = %account,
                "TRENT_BOOTSTRAP_* ignored: the account exists (bootstrap credentials apply at the first start only)"
            );
        }
        return Ok(());
    }
    if let (Ok(id), Ok(secret)) = (&id, &secret) {
        anyhow::ensure!(
            !id.is_empty() && !secret.is_empty(),
            "TRENT_BOOTSTRAP_* must not be empty"
        );
        identities.bootstrap_account(account, (id, secret)).await?;
        return Ok(());
    }
    anyhow::ensure!(
        !from_env,
        "set both TRENT_BOOTSTRAP_ACCESS_KEY_ID and TRENT_BOOTSTRAP_SECRET_ACCESS_KEY, or neither"
    );
    // The file first, then the store: a stored key whose secret never
    // reached anyone would lock the account out for good.
    let (id, secret) = Identities::generate_access_key()?;
    let path = args.data_dir.join("root-credentials");
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
