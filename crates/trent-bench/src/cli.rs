//! The command line of `trent bench` and of the hidden `trent
//! bench-baseline` (the baseline server process `trent bench` starts).

use crate::client::{ClientKind, Credentials};
use crate::load::Op;
use crate::{BenchConfig, ExternalTarget};
use anyhow::{Context, anyhow};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

/// The baseline's access key id, passed in the environment (not argv).
pub const BASELINE_ACCESS_KEY_ENV: &str = "TRENT_BASELINE_ACCESS_KEY_ID";
/// The baseline's secret access key, passed in the environment.
pub const BASELINE_SECRET_ENV: &str = "TRENT_BASELINE_SECRET_ACCESS_KEY";

/// Benchmark Trent against a bare baseline server in the same run.
///
/// Starts `trent serve` on a free port with a temporary data directory (or
/// targets a running server with --target/--pid) and `trent
/// bench-baseline`, then drives each operation at each concurrency with
/// SigV4-signed requests, with the built-in load generator and with wrk
/// (when installed). Prints a table of medians (req/s, p50/p99/p99.9
/// latency, server CPU time per request) with Trent/baseline ratios.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Measured seconds per cell.
    #[arg(long, default_value_t = 2.0)]
    pub duration: f64,
    /// Unmeasured warm-up seconds per cell, on the same connections.
    #[arg(long, default_value_t = 0.25)]
    pub warmup: f64,
    /// Repeats per cell; the report gives medians.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Concurrent connections, one cell each.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub connections: Vec<usize>,
    /// Operations to drive.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "encrypt,decrypt,generate-data-key,re-encrypt,generate-random"
    )]
    pub ops: Vec<Op>,
    /// Write the report as JSON to this file; `-` prints it after the table.
    #[arg(long, value_name = "PATH")]
    pub json: Option<String>,
    /// Do not run the baseline server (no ratios).
    #[arg(long)]
    pub no_baseline: bool,
    /// Benchmark this running server (http://HOST:PORT) instead of starting one.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The --target server's process id, for its CPU time and memory.
    #[arg(long, requires = "target")]
    pub pid: Option<u32>,
    /// Access key id for --target.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", requires = "target")]
    pub access_key: Option<String>,
    /// Secret access key for --target.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "target"
    )]
    pub secret_key: Option<String>,
    /// Region to sign for with --target.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Create N keys, restart the server (if started here) to time startup
    /// and memory with them, and compare Encrypt on a random key of the N
    /// with Encrypt on one hot key.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keys: usize,
    /// With --target and --keys N: take N of the keys the server already
    /// has (ListKeys) instead of creating them, to measure a population
    /// again without rebuilding it.
    #[arg(long, requires_all = ["target", "keys"])]
    pub existing_keys: bool,
    /// Add CreateKey cells at 16 connections.
    #[arg(long)]
    pub create_key_cells: bool,
    /// Also run every cell on a second Trent without auditing
    /// (`--unsafe-no-audit`) and report what auditing costs, in the same run.
    #[arg(long)]
    pub audit_off: bool,
    /// Also run every cell on a second Trent whose store is this
    /// PostgreSQL database (empty: a schema of its own, say
    /// `postgres://HOST/DB?options[search_path]=bench`), and report it
    /// against the first Trent's SQLite, in the same run.
    #[arg(long, value_name = "URL", conflicts_with = "audit_off")]
    pub postgres: Option<String>,
    /// An extra argument for the `trent serve` the bench starts
    /// (repeatable), e.g. `--serve-arg=--quota=keys=200000`.
    #[arg(long = "serve-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub serve_args: Vec<String>,
    /// HTTP client of the load generator (raw is cheaper; see the docs).
    #[arg(long, value_enum, default_value = "raw", hide = true)]
    pub client: ClientKind,
    /// Load generator(s) of the main cells: the built-in one (signs every
    /// request as it sends it; ~10 µs of CPU per request on the server's
    /// machine), wrk (one thread replaying one pre-signed request: much
    /// cheaper, so ratios less compressed), or both, reported side by side.
    /// Default: both when `wrk` is on PATH, else builtin; wrk asked for but
    /// missing is skipped with a note.
    #[arg(long, value_enum)]
    pub load_generator: Option<crate::LoadGenerator>,
    /// Load-generator threads (one single-threaded runtime each).
    #[arg(long, default_value_t = 1, hide = true)]
    pub client_threads: usize,
    /// Quiet: no progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

fn seconds(name: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| anyhow!("--{name} must be a number of seconds"))
}

impl BenchArgs {
    pub fn into_config(self) -> anyhow::Result<BenchConfig> {
        let target = match self.target {
            Some(url) => Some(ExternalTarget {
                url,
                pid: self.pid,
                credentials: Credentials {
                    access_key_id: self.access_key.ok_or_else(|| {
                        anyhow!("--target needs --access-key or AWS_ACCESS_KEY_ID")
                    })?,
                    secret_access_key: Zeroizing::new(self.secret_key.ok_or_else(|| {
                        anyhow!("--target needs --secret-key or AWS_SECRET_ACCESS_KEY")
                    })?),
                    region: self.region,
                },
            }),
            None => None,
        };
        let mut ops = self.ops;
        ops.dedup();
        Ok(BenchConfig {
            duration: seconds("duration", self.duration)?,
            warmup: seconds("warmup", self.warmup)?,
            repeats: self.repeats,
            connections: self.connections,
            ops,
            baseline: !self.no_baseline,
            target,
            keys: self.keys,
            existing_keys: self.existing_keys,
            create_key_cells: self.create_key_cells,
            audit_off: self.audit_off,
            postgres: self.postgres,
            exe: None,
            serve_args: self.serve_args,
            client: self.client,
            client_threads: self.client_threads,
            load_generator: self.load_generator,
            request_timeout: Duration::from_secs(10),
            progress: !self.quiet,
        })
    }
}

/// `trent bench`: runs, prints the table, writes the JSON.
pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let json = args.json.clone();
    let report = crate::run(args.into_config()?).await?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", report.table())?;
    match json.as_deref() {
        Some("-") => writeln!(stdout, "{}", report.json())?,
        Some(path) => {
            let path = PathBuf::from(path);
            std::fs::write(&path, report.json() + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            writeln!(stdout, "JSON report written to {}", path.display())?;
        }
        None => {}
    }
    stdout.flush()?;
    anyhow::ensure!(
        report.total_errors == 0,
        "{} request(s) failed during the run (see above)",
        report.total_errors
    );
    Ok(())
}

/// The bare baseline server `trent bench` compares Trent with (started by
/// it; credentials in TRENT_BASELINE_ACCESS_KEY_ID and
/// TRENT_BASELINE_SECRET_ACCESS_KEY).
#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// `trent bench-baseline`: binds, prints `listening on http://ADDR`, serves.
pub async fn baseline(args: BaselineArgs) -> anyhow::Result<()> {
    let access_key = std::env::var(BASELINE_ACCESS_KEY_ENV)
        .with_context(|| format!("{BASELINE_ACCESS_KEY_ENV} must be set"))?;
    let secret = std::env::var(BASELINE_SECRET_ENV)
        .with_context(|| format!("{BASELINE_SECRET_ENV} must be set"))?;
    anyhow::ensure!(
        !access_key.is_empty() && !secret.is_empty(),
        "the baseline's credentials must not be empty"
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{}", listener.local_addr()?)?;
        stdout.flush()?;
    }
    crate::baseline::serve(listener, access_key, secret).await?;
    Ok(())
}
