//! `trent bench`: Trent's benchmark, with a lean baseline server in the
//! same run.
//!
//! [`run`] starts (or targets) a Trent server, starts the
//! [`baseline`] server (a separate process, so that its CPU time can be read
//! from `/proc` like Trent's), creates keys on both through the KMS API,
//! makes and checks a pool of ciphertexts, and then drives Encrypt, Decrypt,
//! GenerateDataKey, ReEncrypt and GenerateRandom at each concurrency for a
//! bounded time, with the built-in load generator and with wrk (when
//! installed; `--load-generator`). For each operation, concurrency and
//! generator, every repeat runs Trent then the baseline back to back (and
//! the second Trent of `--audit-off`/`--postgres` between them), so that
//! drift on a shared machine hits both alike; each number is the median
//! over the repeats, and Trent's are also given as ratios to the baseline's.
//!
//! Modules:
//!
//! * [`baseline`]: the lean baseline (hyper directly, SigV4, JSON, base64,
//!   AES-256-GCM with one key; nothing else).
//! * [`client`]: the built-in load generator's connections (hand-written
//!   HTTP/1.1 by default, hyper's client as an alternative) and SigV4
//!   signing of every request with `trent-sigv4` as it is sent.
//! * [`load`]: workloads and the built-in generator's timed cell: one
//!   single-threaded tokio runtime (by default) driving all connections,
//!   latencies in HdrHistograms, CPU time of the server, of the bench
//!   process and of the whole machine read at the window's edges.
//! * [`wrk`]: the cheap generator: `wrk -t1` replaying one request
//!   pre-signed per cell, its report parsed.
//! * [`procfs`]: `/proc` parsing. [`stats`]: medians and percentiles.
//! * [`server`]: child server processes, killed on drop.
//! * [`report`]: the table and the JSON. [`cli`]: `trent bench` and
//!   `trent bench-baseline`'s arguments.
//!
//! Whether the load generator is the bottleneck is measured in every cell,
//! not assumed: the report gives the generator's own CPU time per request
//! next to the server's (wrk's too, from `/proc/PID/stat`), and the cores
//! kept busy by both and by everyone else on the machine (`/proc/stat`).

pub mod baseline;
pub mod cli;
pub mod client;
pub mod load;
pub mod procfs;
pub mod report;
pub mod server;
pub mod stats;
pub mod wrk;

use anyhow::{Context, anyhow, bail};
use client::{ClientKind, Credentials};
use load::{Bodies, CellOptions, CellOutcome, Endpoint, Op, Workloads};
use procfs::CpuClock;
use report::{
    Cell, Generator, GeneratorCheck, MachineInfo, Population, PopulationCell, Report, ServerInfo,
    Settings, Side,
};
use server::ManagedServer;
use stats::{Sample, median, median_opt};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Which load generators drive the main cells (`--load-generator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadGenerator {
    /// The bench's own, signing every request as it sends it.
    Builtin,
    /// wrk replaying one pre-signed request (needs `wrk` on PATH).
    Wrk,
    /// Both, each cell with the built-in generator first, then with wrk.
    Both,
}

/// A server the bench does not start: `--target URL --pid PID`.
#[derive(Debug, Clone)]
pub struct ExternalTarget {
    /// `http://host:port`.
    pub url: String,
    /// Its process id, to read its CPU time and memory; without it those
    /// columns are empty.
    pub pid: Option<u32>,
    pub credentials: Credentials,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Measured time per cell.
    pub duration: Duration,
    /// Unmeasured time per cell before it, on the same connections.
    pub warmup: Duration,
    pub repeats: usize,
    pub connections: Vec<usize>,
    pub ops: Vec<Op>,
    /// Also run the baseline and give ratios.
    pub baseline: bool,
    /// Benchmark this server instead of starting one.
    pub target: Option<ExternalTarget>,
    /// Create this many keys, then compare Encrypt on a random one of them
    /// with Encrypt on one hot key (0: skip).
    pub keys: usize,
    /// Take the population from the target's ListKeys instead of creating it.
    pub existing_keys: bool,
    /// Add CreateKey cells at 16 connections.
    pub create_key_cells: bool,
    /// Also run every cell on a second Trent started with
    /// `--unsafe-no-audit`, to measure what auditing costs.
    pub audit_off: bool,
    /// Also run every cell on a second Trent on this PostgreSQL database
    /// (in the place of `audit_off`'s unaudited one).
    pub postgres: Option<String>,
    /// The `trent` binary to start servers with; `None`: this executable.
    pub exe: Option<PathBuf>,
    /// Extra arguments for the `trent serve` the bench starts.
    pub serve_args: Vec<String>,
    pub client: ClientKind,
    /// Load-generator threads (the built-in generator's).
    pub client_threads: usize,
    /// The main cells' load generators; `None`: both if `wrk` is on PATH,
    /// else the built-in one. wrk asked for but not installed is skipped
    /// (with a note in the report), never an error.
    pub load_generator: Option<LoadGenerator>,
    pub request_timeout: Duration,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            duration: Duration::from_secs(2),
            warmup: Duration::from_millis(250),
            repeats: 3,
            connections: vec![1, 16, 64],
            ops: Op::ALL.to_vec(),
            baseline: true,
            target: None,
            keys: 0,
            existing_keys: false,
            create_key_cells: false,
            audit_off: false,
            postgres: None,
            exe: None,
            serve_args: Vec::new(),
            client: ClientKind::Raw,
            client_threads: 1,
            load_generator: Some(LoadGenerator::Builtin),
            request_timeout: Duration::from_secs(10),
            progress: false,
        }
    }
}

/// How many ciphertexts Decrypt and ReEncrypt cycle through.
const CIPHERTEXT_POOL: usize = 64;
/// Connections for CreateKey cells and for creating a key population.
const CREATE_KEY_CONNECTIONS: usize = 16;
const REGION: &str = "us-east-1";

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut b = vec![0u8; bytes];
    trent_crypto::random_bytes(&mut b).map_err(|e| anyhow!("{e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn fresh_credentials() -> anyhow::Result<Credentials> {
    Ok(Credentials {
        access_key_id: format!("AKIABENCH{}", random_hex(6)?.to_uppercase()),
        secret_access_key: Zeroizing::new(random_hex(20)?),
        region: REGION.to_owned(),
    })
}

async fn resolve(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--target must be an http:// URL, not {url:?}"))?;
    let host_port = rest.trim_end_matches('/');
    tokio::net::lookup_host(host_port)
        .await
        .with_context(|| format!("resolving {host_port}"))?
        .next()
        .ok_or_else(|| anyhow!("{host_port} resolves to no address"))
}

/// A server under test, started here or not.
struct Subject {
    name: &'static str,
    endpoint: Endpoint,
    url: String,
    managed: Option<ManagedServer>,
    startup: Option<Duration>,
}

impl Subject {
    fn info(&self) -> ServerInfo {
        let memory = self.endpoint.pid.and_then(procfs::memory_kib);
        ServerInfo {
            url: self.url.clone(),
            pid: self.endpoint.pid,
            started_by_bench: self.managed.is_some(),
            startup_to_health_ms: self.startup.map(|d| d.as_secs_f64() * 1e3),
            rss_kib_after_run: memory.map(|m| m.0),
            peak_rss_kib: memory.map(|m| m.1),
        }
    }

    fn ensure_alive(&mut self) -> anyhow::Result<()> {
        if let Some(m) = &mut self.managed
            && !m.is_running()
        {
            bail!("the {} server died{}", self.name, m.log_tail());
        }
        Ok(())
    }
}

async fn start_trent(
    exe: &std::path::Path,
    dir: &std::path::Path,
    creds: &Credentials,
    extra: &[String],
) -> anyhow::Result<ManagedServer> {
    let data = dir.join("trent-data");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "serve".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ];
    // The quotas the bench drives far past (one account's load is the
    // whole machine's here) are raised, not turned off: their checks stay
    // on the measured path. `--serve-arg` can set them again.
    for quota in BENCH_QUOTAS {
        args.extend([
            std::ffi::OsStr::new("--request-quota"),
            std::ffi::OsStr::new(quota),
        ]);
    }
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    ManagedServer::start(
        exe,
        &args,
        &[
            ("TRENT_BOOTSTRAP_ACCESS_KEY_ID", &creds.access_key_id),
            (
                "TRENT_BOOTSTRAP_SECRET_ACCESS_KEY",
                creds.secret_access_key.as_str(),
            ),
            ("TRENT_LOG", "warn"),
        ],
        dir.join("trent.log"),
    )
    .await
    .context("starting trent serve")
}

/// Request quotas of the operations the bench calls, above any rate it
/// reaches.
const BENCH_QUOTAS: [&str; 6] = [
    "symmetric=1000000000",
    // The sign and verify cells: 1,000 a second by default for ECC and
    // RSA, which a fast machine passes within a cell's first second.
    "ecc=1000000000",
    "rsa=1000000000",
    "CreateKey=1000000000",
    "ListKeys=1000000000",
    "DescribeKey=1000000000",
];

fn managed_subject(name: &'static str, server: ManagedServer, creds: Credentials) -> Subject {
    Subject {
        name,
        url: format!("http://{}", server.addr),
        endpoint: Endpoint {
            addr: server.addr,
            pid: Some(server.pid),
            creds: Arc::new(creds),
        },
        startup: Some(server.startup),
        managed: Some(server),
    }
}

/// Runs one cell with the built-in generator on a blocking thread.
async fn cell(
    subject: &Subject,
    bodies: Arc<Bodies>,
    options: CellOptions,
    clock: CpuClock,
) -> anyhow::Result<CellOutcome> {
    let endpoint = subject.endpoint.clone();
    tokio::task::spawn_blocking(move || load::run_cell_blocking(&endpoint, bodies, options, clock))
        .await
        .context("load thread")?
}

/// Runs one cell with `wrk` (`Some`: its path) or the built-in generator.
async fn cell_with(
    wrk: Option<&Arc<PathBuf>>,
    subject: &Subject,
    bodies: Arc<Bodies>,
    options: CellOptions,
    clock: CpuClock,
) -> anyhow::Result<CellOutcome> {
    let Some(wrk) = wrk else {
        return cell(subject, bodies, options, clock).await;
    };
    let endpoint = subject.endpoint.clone();
    let wrk = wrk.clone();
    tokio::task::spawn_blocking(move || {
        wrk::run_cell_blocking(&wrk, &endpoint, &bodies, options, clock)
    })
    .await
    .context("wrk thread")?
}

struct Progress {
    enabled: bool,
    done: usize,
    total: usize,
    started: Instant,
}

impl Progress {
    fn cell(&mut self, who: &str, label: &str, connections: usize, outcome: &CellOutcome) {
        self.done += 1;
        if !self.enabled {
            return;
        }
        let s = &outcome.sample;
        eprintln!(
            "[{:>3}/{}  {:>5.0} s] {:<26} x{:<3} {:<12} {:>8.0} req/s  p99 {:>6.2} ms  CPU {:>6} µs/req  gen {:>5} µs/req{}",
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64(),
            label,
            connections,
            who,
            s.req_per_sec,
            s.p99_ms,
            s.server_cpu_us_per_req
                .map(|x| format!("{x:.1}"))
                .unwrap_or_else(|| "-".into()),
            s.generator_cpu_us_per_req
                .map(|x| format!("{x:.1}"))
                .unwrap_or_else(|| "-".into()),
            if s.errors > 0 {
                format!(
                    "  ERRORS {}: {}",
                    s.errors,
                    outcome.error_samples.join(" | ")
                )
            } else {
                String::new()
            }
        );
    }

    fn note(&self, message: &str) {
        if self.enabled {
            eprintln!(
                "[{:>5.0} s] {message}",
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Collects a side's repeats.
#[derive(Default)]
struct Repeats {
    samples: Vec<Sample>,
    errors: Vec<String>,
}

impl Repeats {
    fn push(&mut self, outcome: CellOutcome) {
        self.samples.push(outcome.sample);
        for e in outcome.error_samples {
            if self.errors.len() < 8 && !self.errors.contains(&e) {
                self.errors.push(e);
            }
        }
    }

    fn side(self) -> Side {
        Side::new(self.samples, self.errors)
    }
}

fn validate(config: &BenchConfig) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.duration > Duration::ZERO && config.duration <= Duration::from_secs(600),
        "--duration must be more than 0 and at most 600 s"
    );
    anyhow::ensure!(
        config.warmup <= Duration::from_secs(60),
        "--warmup must be at most 60 s"
    );
    anyhow::ensure!(
        (1..=100).contains(&config.repeats),
        "--repeats must be 1 to 100"
    );
    anyhow::ensure!(
        config.connections.iter().all(|c| (1..=1024).contains(c)),
        "--connections must each be 1 to 1024"
    );
    anyhow::ensure!(
        config.keys <= 10_000_000,
        "--keys must be at most 10,000,000"
    );
    anyhow::ensure!(
        (1..=64).contains(&config.client_threads),
        "--client-threads must be 1 to 64"
    );
    Ok(())
}

/// Runs the benchmark described by `config` and returns the report. Servers
/// it started are stopped before it returns, on error too.
pub async fn run(config: BenchConfig) -> anyhow::Result<Report> {
    validate(&config)?;
    let run_started = Instant::now();
    let clock = CpuClock::new();
    let machine = MachineInfo {
        nproc: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model: procfs::cpu_model(),
        clock_ticks_per_sec: clock.ticks_per_sec,
    };
    let dir = tempfile::Builder::new()
        .prefix("trent-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let exe = match &config.exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("finding the trent executable")?,
    };
    let mut progress = Progress {
        enabled: config.progress,
        done: 0,
        total: 0,
        started: run_started,
    };

    // The load generators.
    let mut notes = Vec::new();
    let wrk_path = wrk::find();
    let wanted = config.load_generator.unwrap_or(if wrk_path.is_some() {
        LoadGenerator::Both
    } else {
        LoadGenerator::Builtin
    });
    let wrk_path = match (wanted, wrk_path) {
        (LoadGenerator::Builtin, _) => None,
        (_, Some(path)) => Some(Arc::new(path)),
        (_, None) => {
            let note = "wrk is not on PATH (Debian: apt-get install wrk): no wrk cells, \
                        the built-in generator's only"
                .to_owned();
            progress.note(&note);
            notes.push(note);
            None
        }
    };
    let wrk_version = wrk_path.as_deref().and_then(|p| wrk::version(p));
    let mut generators = Vec::new();
    if wanted != LoadGenerator::Wrk || wrk_path.is_none() {
        generators.push(Generator::Builtin);
    }
    if wrk_path.is_some() {
        generators.push(Generator::Wrk);
    }

    // The servers.
    let mut trent = match &config.target {
        Some(target) => Subject {
            name: "Trent",
            endpoint: Endpoint {
                addr: resolve(&target.url).await?,
                pid: target.pid,
                creds: Arc::new(target.credentials.clone()),
            },
            url: target.url.clone(),
            managed: None,
            startup: None,
        },
        None => {
            let creds = fresh_credentials()?;
            let server = start_trent(&exe, dir.path(), &creds, &config.serve_args).await?;
            managed_subject("Trent", server, creds)
        }
    };
    progress.note(&format!("Trent at {}", trent.url));
    // The second Trent every cell also runs on: without auditing, or on
    // PostgreSQL.
    let mut unaudited = if config.audit_off || config.postgres.is_some() {
        anyhow::ensure!(
            config.target.is_none(),
            "--audit-off and --postgres need servers the bench starts (not --target)"
        );
        let creds = fresh_credentials()?;
        let unaudited_dir = dir.path().join("second");
        std::fs::create_dir(&unaudited_dir).context("creating a temporary directory")?;
        let mut args = config.serve_args.clone();
        let name = match &config.postgres {
            Some(url) => {
                args.extend(["--database-url".to_owned(), url.clone()]);
                "Trent (PostgreSQL)"
            }
            None => {
                args.push("--unsafe-no-audit".to_owned());
                "Trent (no audit)"
            }
        };
        let server = start_trent(&exe, &unaudited_dir, &creds, &args).await?;
        let subject = managed_subject(name, server, creds);
        progress.note(&format!("{name} at {}", subject.url));
        Some(subject)
    } else {
        None
    };
    let mut baseline = if config.baseline {
        let creds = fresh_credentials()?;
        let server = ManagedServer::start(
            &exe,
            &[
                "bench-baseline".as_ref(),
                "--listen".as_ref(),
                "127.0.0.1:0".as_ref(),
            ],
            &[
                (cli::BASELINE_ACCESS_KEY_ENV, &creds.access_key_id),
                (cli::BASELINE_SECRET_ENV, creds.secret_access_key.as_str()),
            ],
            dir.path().join("baseline.log"),
        )
        .await
        .context("starting trent bench-baseline")?;
        let subject = managed_subject("baseline", server, creds);
        progress.note(&format!("baseline at {}", subject.url));
        Some(subject)
    } else {
        None
    };

    // Keys and checked workloads on each.
    let setup = |subject: &Subject| {
        let endpoint = subject.endpoint.clone();
        let client = config.client;
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            let key =
                load::create_keys(&endpoint, client, 1, 1, deadline, Default::default()).await?;
            Workloads::prepare(&endpoint, client, &key[0], CIPHERTEXT_POOL).await
        }
    };
    // Trent's (and the unaudited Trent's) workloads include signing keys
    // when asymmetric operations are asked for; the baseline has none.
    let asymmetric = config.ops.iter().any(|op| op.asymmetric());
    let setup_trent = |subject: &Subject| {
        let endpoint = subject.endpoint.clone();
        let client = config.client;
        let work = setup(subject);
        async move {
            let mut work = work.await?;
            if asymmetric {
                work.add_asymmetric(&endpoint, client)
                    .await
                    .context("setting up signing keys (CreateKey, Sign, Verify)")?;
            }
            anyhow::Ok(work)
        }
    };
    let trent_work = setup_trent(&trent)
        .await
        .context("setting up Trent (CreateKey, Encrypt, and a check of every operation)")?;
    let base_work = match &baseline {
        Some(b) => Some(setup(b).await.context("setting up the baseline")?),
        None => None,
    };
    let unaudited_work = match &unaudited {
        Some(u) => Some(
            setup_trent(u)
                .await
                .context("setting up Trent without auditing")?,
        ),
        None => None,
    };

    let options = |connections: usize| CellOptions {
        connections,
        warmup: config.warmup,
        duration: config.duration,
        client: config.client,
        threads: config.client_threads,
        request_timeout: config.request_timeout,
    };
    let sides = 1 + usize::from(unaudited.is_some());
    // The baseline serves no asymmetric operations.
    let baseline_ops = config.ops.iter().filter(|op| !op.asymmetric()).count();
    progress.total = (config.ops.len() * sides + baseline_ops * usize::from(baseline.is_some()))
        * config.connections.len()
        * config.repeats
        * generators.len()
        + if config.create_key_cells {
            config.repeats * sides
        } else {
            0
        }
        + if config.keys > 0 {
            config.connections.len() * config.repeats * 2
        } else {
            0
        };

    // The main cells: for each operation, concurrency and generator, each
    // repeat runs Trent, the second Trent and the baseline back to back.
    let mut cells = Vec::new();
    for &op in &config.ops {
        for &connections in &config.connections {
            for &generator in &generators {
                let wrk = match generator {
                    Generator::Builtin => None,
                    Generator::Wrk => wrk_path.as_ref(),
                };
                let label = |who: &str| match generator {
                    Generator::Builtin => who.to_owned(),
                    Generator::Wrk => format!("{who}/wrk"),
                };
                let mut t = Repeats::default();
                let mut b = Repeats::default();
                let mut u = Repeats::default();
                for _ in 0..config.repeats {
                    trent.ensure_alive()?;
                    let outcome = cell_with(
                        wrk,
                        &trent,
                        trent_work.get(op)?,
                        options(connections),
                        clock,
                    )
                    .await?;
                    progress.cell(&label("Trent"), op.name(), connections, &outcome);
                    t.push(outcome);
                    if let (Some(unaudited), Some(work)) = (&mut unaudited, &unaudited_work) {
                        unaudited.ensure_alive()?;
                        let outcome =
                            cell_with(wrk, unaudited, work.get(op)?, options(connections), clock)
                                .await?;
                        progress.cell(&label("second"), op.name(), connections, &outcome);
                        u.push(outcome);
                    }
                    if let (Some(base), Some(work)) = (&mut baseline, &base_work)
                        && !op.asymmetric()
                    {
                        base.ensure_alive()?;
                        let outcome =
                            cell_with(wrk, base, work.get(op)?, options(connections), clock)
                                .await?;
                        progress.cell(&label("baseline"), op.name(), connections, &outcome);
                        b.push(outcome);
                    }
                }
                let mut c = Cell::new(
                    op.name().to_owned(),
                    connections,
                    t.side(),
                    base_work
                        .as_ref()
                        .filter(|_| !op.asymmetric())
                        .map(|_| b.side()),
                )
                .with_generator(generator);
                if unaudited_work.is_some() {
                    c = c.with_unaudited(u.side());
                }
                cells.push(c);
            }
        }
    }
    let trent_info = trent.info();
    let baseline_info = baseline.as_ref().map(Subject::info);

    if config.create_key_cells {
        let bodies = Arc::new(Bodies::fixed(
            "CreateKey",
            serde_json::json!({ "Description": "trent-bench" }),
        ));
        let mut t = Repeats::default();
        let mut u = Repeats::default();
        for _ in 0..config.repeats {
            trent.ensure_alive()?;
            let outcome = cell(
                &trent,
                bodies.clone(),
                options(CREATE_KEY_CONNECTIONS),
                clock,
            )
            .await?;
            progress.cell("Trent", "CreateKey", CREATE_KEY_CONNECTIONS, &outcome);
            t.push(outcome);
            // And on the second Trent (PostgreSQL, or without auditing).
            if let Some(second) = &mut unaudited {
                second.ensure_alive()?;
                let outcome = cell(
                    second,
                    bodies.clone(),
                    options(CREATE_KEY_CONNECTIONS),
                    clock,
                )
                .await?;
                progress.cell("second", "CreateKey", CREATE_KEY_CONNECTIONS, &outcome);
                u.push(outcome);
            }
        }
        let mut c = Cell::new(
            "CreateKey".to_owned(),
            CREATE_KEY_CONNECTIONS,
            t.side(),
            None,
        );
        if unaudited.is_some() {
            c = c.with_unaudited(u.side());
        }
        cells.push(c);
    }

    let population = if config.keys > 0 {
        Some(population(&config, &mut trent, &exe, dir.path(), &mut progress, clock).await?)
    } else {
        None
    };

    // Stop the servers gracefully (dropping would kill them anyway).
    if let Some(u) = unaudited.take().and_then(|u| u.managed) {
        u.stop().await;
    }
    if let Some(b) = baseline.take().and_then(|b| b.managed) {
        b.stop().await;
    }
    if let Some(t) = trent.managed.take() {
        t.stop().await;
    }

    let builtin_cells: Vec<Cell> = cells
        .iter()
        .filter(|c| c.generator == Generator::Builtin)
        .cloned()
        .collect();
    let wrk_cells: Vec<Cell> = cells
        .iter()
        .filter(|c| c.generator == Generator::Wrk)
        .cloned()
        .collect();
    let load_generator =
        generator_check(&builtin_cells, population.as_ref(), config.client_threads);
    let wrk_load_generator = (!wrk_cells.is_empty()).then(|| generator_check(&wrk_cells, None, 1));
    let total_errors = cells
        .iter()
        .map(|c| {
            c.trent.median.errors
                + c.baseline.as_ref().map_or(0, |b| b.median.errors)
                + c.unaudited.as_ref().map_or(0, |u| u.median.errors)
        })
        .sum::<u64>()
        + population.as_ref().map_or(0, |p| {
            p.cells
                .iter()
                .map(|c| c.hot.median.errors + c.random.median.errors)
                .sum()
        });
    Ok(Report {
        machine,
        settings: Settings {
            duration_secs: config.duration.as_secs_f64(),
            warmup_secs: config.warmup.as_secs_f64(),
            repeats: config.repeats,
            connections: config.connections.clone(),
            ops: config.ops.iter().map(|o| o.name().to_owned()).collect(),
            client: config.client,
            client_threads: config.client_threads,
            keys: config.keys,
            create_key_cells: config.create_key_cells,
            audit_off: config.audit_off,
            postgres: config.postgres.is_some(),
            load_generators: generators,
            wrk: wrk_version,
        },
        trent: trent_info,
        baseline: baseline_info,
        cells,
        population,
        load_generator,
        wrk_load_generator,
        notes,
        total_errors,
        elapsed_secs: run_started.elapsed().as_secs_f64(),
    })
}

/// Creates `config.keys` keys (or, with `--existing-keys`, lists that many
/// of the target's), restarts a server the bench started (to time startup
/// with them in the store), and compares Encrypt on a random key of the
/// population with Encrypt on one hot key.
async fn population(
    config: &BenchConfig,
    trent: &mut Subject,
    exe: &std::path::Path,
    dir: &std::path::Path,
    progress: &mut Progress,
    clock: CpuClock,
) -> anyhow::Result<Population> {
    let (keys, create_seconds) = if config.existing_keys {
        let keys = load::list_keys(&trent.endpoint, config.client, config.keys).await?;
        progress.note(&format!("measuring {} existing keys", keys.len()));
        (keys, None)
    } else {
        let (keys, seconds) = create_population(config, trent, progress).await?;
        (keys, Some(seconds))
    };

    let (mut restart_to_health_ms, mut rss_kib_after_restart) = (None, None);
    if let Some(server) = trent.managed.take() {
        server.stop().await;
        let creds = (*trent.endpoint.creds).clone();
        let restarted = start_trent(exe, dir, &creds, &config.serve_args).await?;
        progress.note(&format!(
            "restarted Trent with {} keys: /health after {:.0} ms",
            keys.len(),
            restarted.startup.as_secs_f64() * 1e3
        ));
        *trent = managed_subject("Trent", restarted, creds);
        restart_to_health_ms = trent.startup.map(|d| d.as_secs_f64() * 1e3);
        rss_kib_after_restart = trent.endpoint.pid.and_then(procfs::memory_kib).map(|m| m.0);
    }
    // The cells measure the steady state: the restarted server warms its
    // key cache in the background after /health; wait for that (and say how
    // long it took) rather than time the warming.
    let warming = Instant::now();
    let cache_warm_ms = wait_for_warm_cache(trent.endpoint.addr, Duration::from_secs(120))
        .await
        .then(|| warming.elapsed().as_secs_f64() * 1e3);
    progress.note(&match cache_warm_ms {
        Some(ms) => format!("key cache warm after {ms:.0} ms more"),
        None => "key cache not reported warm; measuring anyway".to_owned(),
    });

    let hot_key = load::create_keys(
        &trent.endpoint,
        config.client,
        1,
        1,
        Instant::now() + Duration::from_secs(60),
        Default::default(),
    )
    .await?;
    let hot = Workloads::prepare(&trent.endpoint, config.client, &hot_key[0], CIPHERTEXT_POOL)
        .await?
        .encrypt;
    let random = Arc::new(load::random_key_encrypt(&keys));
    let label = format!("Encrypt (random of {})", keys.len());
    let mut cells = Vec::new();
    for &connections in &config.connections {
        let options = CellOptions {
            connections,
            warmup: config.warmup,
            duration: config.duration,
            client: config.client,
            threads: config.client_threads,
            request_timeout: config.request_timeout,
        };
        let (mut h, mut r) = (Repeats::default(), Repeats::default());
        for _ in 0..config.repeats {
            trent.ensure_alive()?;
            let outcome = cell(trent, hot.clone(), options, clock).await?;
            progress.cell("Trent", "Encrypt (hot key)", connections, &outcome);
            h.push(outcome);
            let outcome = cell(trent, random.clone(), options, clock).await?;
            progress.cell("Trent", &label, connections, &outcome);
            r.push(outcome);
        }
        let (hot, random) = (h.side(), r.side());
        cells.push(PopulationCell {
            connections,
            req_per_sec_ratio: stats::ratio(
                Some(random.median.req_per_sec),
                Some(hot.median.req_per_sec),
            ),
            hot,
            random,
        });
    }
    Ok(Population {
        keys: keys.len(),
        create_seconds,
        create_keys_per_sec: create_seconds.map(|secs| keys.len() as f64 / secs),
        restart_to_health_ms,
        cache_warm_ms,
        rss_kib_after_restart,
        rss_kib_after_cells: trent.endpoint.pid.and_then(procfs::memory_kib).map(|m| m.0),
        cells,
    })
}

/// Creates `config.keys` keys; returns their ids and the seconds it took.
async fn create_population(
    config: &BenchConfig,
    trent: &Subject,
    progress: &mut Progress,
) -> anyhow::Result<(Vec<String>, f64)> {
    progress.note(&format!("creating {} keys", config.keys));
    let started = Instant::now();
    // Generous bound: 20 keys/s at the least, and 60 s.
    let deadline = started + Duration::from_secs(60 + config.keys as u64 / 20);
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ticker = progress.enabled.then(|| {
        let created = created.clone();
        let total = config.keys;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let n = created.load(std::sync::atomic::Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "           {n} of {total} keys after {secs:.0} s ({:.0}/s overall)",
                    n as f64 / secs
                );
            }
        })
    });
    let keys = load::create_keys(
        &trent.endpoint,
        config.client,
        config.keys,
        CREATE_KEY_CONNECTIONS,
        deadline,
        created,
    )
    .await;
    if let Some(t) = ticker {
        t.abort();
    }
    let keys = keys.context("creating the key population")?;
    let create_seconds = started.elapsed().as_secs_f64();
    progress.note(&format!(
        "created {} keys in {create_seconds:.1} s",
        keys.len()
    ));
    Ok((keys, create_seconds))
}

/// Polls `/metrics` until `trent_key_cache_warm 1`; false on timeout (or a
/// server without the gauge).
async fn wait_for_warm_cache(addr: SocketAddr, timeout: Duration) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if let Ok((200, body)) = client::get(addr, "/metrics").await
            && String::from_utf8_lossy(&body)
                .lines()
                .any(|l| l == "trent_key_cache_warm 1")
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Sums up, over all cells, how much the load generator took.
fn generator_check(
    cells: &[Cell],
    population: Option<&Population>,
    threads: usize,
) -> GeneratorCheck {
    let mut samples: Vec<&Sample> = Vec::new();
    for c in cells {
        samples.extend(&c.trent.samples);
        if let Some(b) = &c.baseline {
            samples.extend(&b.samples);
        }
        if let Some(u) = &c.unaudited {
            samples.extend(&u.samples);
        }
    }
    if let Some(p) = population {
        for c in &p.cells {
            samples.extend(&c.hot.samples);
            samples.extend(&c.random.samples);
        }
    }
    let shares: Vec<f64> = samples
        .iter()
        .filter_map(|s| stats::ratio(s.generator_cpu_us_per_req, s.server_cpu_us_per_req))
        .collect();
    let both: Vec<f64> = samples
        .iter()
        .filter_map(|s| Some(s.server_cores? + s.generator_cores?))
        .collect();
    let others: Vec<f64> = samples
        .iter()
        .filter_map(|s| {
            Some((s.machine_busy_cores? - s.server_cores? - s.generator_cores?).max(0.0))
        })
        .collect();
    let max = |v: &[f64]| v.iter().copied().reduce(f64::max);
    GeneratorCheck {
        median_cpu_us_per_req: median_opt(samples.iter().map(|s| s.generator_cpu_us_per_req)),
        max_share_of_server_cpu: max(&shares),
        median_share_of_server_cpu: median(&shares),
        max_server_plus_generator_cores: max(&both),
        max_other_cores: max(&others),
        threads,
        max_generator_cores: max(&samples
            .iter()
            .filter_map(|s| s.generator_cores)
            .collect::<Vec<_>>()),
    }
}
