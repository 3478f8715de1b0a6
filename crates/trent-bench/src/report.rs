//! The report: what a run measured, as a text table and as JSON.

use crate::stats::{Sample, Summary, ratio};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, Serialize)]
pub struct MachineInfo {
    pub nproc: usize,
    pub cpu_model: Option<String>,
    pub clock_ticks_per_sec: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub repeats: usize,
    pub connections: Vec<usize>,
    pub ops: Vec<String>,
    pub client: crate::client::ClientKind,
    pub client_threads: usize,
    pub keys: usize,
    pub create_key_cells: bool,
    pub audit_off: bool,
    /// The second Trent is on PostgreSQL (`--postgres`), not unaudited.
    #[serde(default)]
    pub postgres: bool,
    /// The load generators the cells ran with, in the order they ran.
    pub load_generators: Vec<Generator>,
    /// `wrk -v`'s version line, when wrk ran.
    pub wrk: Option<String>,
}

/// A server under test.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub url: String,
    pub pid: Option<u32>,
    pub started_by_bench: bool,
    /// From spawn to the first 200 on `/health` (servers the bench started).
    pub startup_to_health_ms: Option<f64>,
    /// `VmRSS` after the main cells.
    pub rss_kib_after_run: Option<u64>,
    /// `VmHWM` (peak RSS) after the main cells.
    pub peak_rss_kib: Option<u64>,
}

/// One server's side of a cell: the median and every repeat.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub median: Summary,
    pub samples: Vec<Sample>,
    pub error_samples: Vec<String>,
}

impl Side {
    pub fn new(samples: Vec<Sample>, error_samples: Vec<String>) -> Side {
        Side {
            median: Summary::of(&samples),
            samples,
            error_samples,
        }
    }
}

/// The load generator a cell was measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generator {
    /// The bench's own: signs every request as it sends it ([`crate::load`]).
    #[default]
    Builtin,
    /// `wrk -t1` replaying one pre-signed request ([`crate::wrk`]).
    Wrk,
}

impl Generator {
    pub fn name(self) -> &'static str {
        match self {
            Generator::Builtin => "builtin",
            Generator::Wrk => "wrk",
        }
    }
}

/// One operation at one concurrency, with one load generator.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub operation: String,
    pub connections: usize,
    pub generator: Generator,
    pub trent: Side,
    pub baseline: Option<Side>,
    /// Trent's req/s over the baseline's.
    pub req_per_sec_ratio: Option<f64>,
    /// Trent's server CPU per request over the baseline's.
    pub cpu_per_req_ratio: Option<f64>,
    /// The same cell on a Trent without auditing (`--audit-off`).
    pub unaudited: Option<Side>,
    /// Trent's req/s over the unaudited Trent's.
    pub audited_req_per_sec_ratio: Option<f64>,
}

impl Cell {
    pub fn new(operation: String, connections: usize, trent: Side, baseline: Option<Side>) -> Cell {
        let b = baseline.as_ref().map(|b| &b.median);
        Cell {
            req_per_sec_ratio: ratio(Some(trent.median.req_per_sec), b.map(|b| b.req_per_sec)),
            cpu_per_req_ratio: ratio(
                trent.median.server_cpu_us_per_req,
                b.and_then(|b| b.server_cpu_us_per_req),
            ),
            operation,
            connections,
            generator: Generator::Builtin,
            trent,
            baseline,
            unaudited: None,
            audited_req_per_sec_ratio: None,
        }
    }

    /// Marks the cell as measured with `generator`.
    pub fn with_generator(mut self, generator: Generator) -> Cell {
        self.generator = generator;
        self
    }

    /// Adds the unaudited Trent's side of the cell.
    pub fn with_unaudited(mut self, unaudited: Side) -> Cell {
        self.audited_req_per_sec_ratio = ratio(
            Some(self.trent.median.req_per_sec),
            Some(unaudited.median.req_per_sec),
        );
        self.unaudited = Some(unaudited);
        self
    }
}

/// Encrypt on a random key out of a population vs. on one hot key.
#[derive(Debug, Clone, Serialize)]
pub struct PopulationCell {
    pub connections: usize,
    pub hot: Side,
    pub random: Side,
    /// Random-key req/s over hot-key req/s.
    pub req_per_sec_ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Population {
    pub keys: usize,
    /// `None` when the population was listed (`--existing-keys`).
    pub create_seconds: Option<f64>,
    pub create_keys_per_sec: Option<f64>,
    /// Restart of the server the bench started, with the keys in its store.
    pub restart_to_health_ms: Option<f64>,
    /// From `/health` until the key cache held every key (the cells start
    /// then).
    pub cache_warm_ms: Option<f64>,
    pub rss_kib_after_restart: Option<u64>,
    pub rss_kib_after_cells: Option<u64>,
    pub cells: Vec<PopulationCell>,
}

/// How much of the machine the load generator took, against the server.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratorCheck {
    /// Median over all cells of the generator's CPU µs per request.
    pub median_cpu_us_per_req: Option<f64>,
    /// The largest generator-CPU / server-CPU ratio per request over cells.
    pub max_share_of_server_cpu: Option<f64>,
    /// The median generator-CPU / server-CPU ratio over cells.
    pub median_share_of_server_cpu: Option<f64>,
    /// The largest cores busy with server + generator in any cell.
    pub max_server_plus_generator_cores: Option<f64>,
    /// The largest cores busy with anything else (other processes) in any cell.
    pub max_other_cores: Option<f64>,
    /// Load-generator threads, and the most CPU they used in any cell, in
    /// cores: close to `threads` would mean the generator is saturated.
    pub threads: usize,
    pub max_generator_cores: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: MachineInfo,
    pub settings: Settings,
    pub trent: ServerInfo,
    pub baseline: Option<ServerInfo>,
    pub cells: Vec<Cell>,
    pub population: Option<Population>,
    /// The built-in generator's cost (its cells only).
    pub load_generator: GeneratorCheck,
    /// wrk's cost (its cells only), when it ran.
    pub wrk_load_generator: Option<GeneratorCheck>,
    /// What the run could not do as asked (e.g. wrk not installed).
    pub notes: Vec<String>,
    pub total_errors: u64,
    pub elapsed_secs: f64,
}

fn fmt_rate(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_ms(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x < 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.1}")
    }
}

fn fmt_opt(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.decimals$}"),
        _ => "-".into(),
    }
}

fn fmt_mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "-".into())
}

/// The two header lines of a table with two sides per cell: `corner` above
/// the operation, each side's name above its columns, then the caller's
/// trailing groups and columns. Returns the width of the lines.
fn sides_header(
    out: &mut String,
    corner: &str,
    sides: [&str; 2],
    groups: &str,
    columns: &str,
) -> usize {
    let mut names = format!("{corner:<17} {:>5} |", "");
    let mut heads = format!("{:<17} {:>5} |", "operation", "conns");
    for side in sides {
        let _ = write!(
            names,
            " {side:>9} {:>6} {:>6} {:>6} {:>7} |",
            "", "", "", ""
        );
        let _ = write!(
            heads,
            " {:>9} {:>6} {:>6} {:>6} {:>7} |",
            "req/s", "p50", "p99", "p99.9", "CPU"
        );
    }
    // The trailing groups start after the last side's ` |`.
    names.pop();
    heads.pop();
    let _ = writeln!(out, "{names}{groups}");
    let _ = writeln!(out, "{heads}{columns}");
    heads.len() + columns.chars().count()
}

/// `req/s p50 p99 p99.9 cpu` columns of one side.
fn side_columns(out: &mut String, s: Option<&Summary>) {
    match s {
        Some(s) => {
            let _ = write!(
                out,
                " {:>9} {:>6} {:>6} {:>6} {:>7}",
                fmt_rate(s.req_per_sec),
                fmt_ms(s.p50_ms),
                fmt_ms(s.p99_ms),
                fmt_ms(s.p999_ms),
                fmt_opt(s.server_cpu_us_per_req, 1)
            );
        }
        None => {
            let _ = write!(
                out,
                " {:>9} {:>6} {:>6} {:>6} {:>7}",
                "-", "-", "-", "-", "-"
            );
        }
    }
}

impl Report {
    /// What auditing costs: each cell on Trent and on a Trent without
    /// auditing, measured interleaved in the same run.
    fn audit_table(&self, out: &mut String, generator: Generator) {
        let rows = || {
            self.cells
                .iter()
                .filter(move |c| c.unaudited.is_some() && c.generator == generator)
        };
        if rows().next().is_none() {
            return;
        }
        let _ = writeln!(out);
        let postgres = self.settings.postgres;
        let (title, sides) = match (postgres, generator) {
            (true, Generator::Builtin) => ("store", ["SQLite", "PostgreSQL"]),
            (true, Generator::Wrk) => ("store (wrk)", ["SQLite", "PostgreSQL"]),
            (false, Generator::Builtin) => ("auditing cost", ["audited", "no audit"]),
            (false, Generator::Wrk) => ("auditing (wrk)", ["audited", "no audit"]),
        };
        let width = sides_header(out, title, sides, "| ratio", "| req/s");
        let _ = writeln!(out, "{}", "-".repeat(width));
        for cell in rows() {
            let _ = write!(out, "{:<17} {:>5} |", cell.operation, cell.connections);
            side_columns(out, Some(&cell.trent.median));
            out.push_str(" |");
            side_columns(out, cell.unaudited.as_ref().map(|u| &u.median));
            let ratio = match cell.audited_req_per_sec_ratio {
                Some(r) if postgres && r > 0.0 => Some(1.0 / r),
                other => other,
            };
            let _ = writeln!(out, " | {:>5}x", fmt_opt(ratio, 2));
        }
        let _ = writeln!(
            out,
            "{}",
            if postgres {
                "ratio = PostgreSQL / SQLite req/s (1.00x: the same speed on either store)."
            } else {
                "ratio = audited / unaudited req/s (1.00x: auditing costs nothing)."
            }
        );
    }

    /// The Trent/baseline table of one generator's cells.
    fn main_table(&self, out: &mut String, generator: Generator) {
        let corner = match generator {
            Generator::Builtin => "",
            Generator::Wrk => "wrk",
        };
        let rows = self
            .cells
            .iter()
            .filter(|c| c.generator == generator)
            .count();
        if rows == 0 && !(generator == Generator::Builtin && self.cells.is_empty()) {
            return;
        }
        let width = sides_header(
            out,
            corner,
            ["Trent", "baseline"],
            "|  ratio        |    gen",
            "|  req/s    CPU | errors CPU/req",
        );
        let _ = writeln!(out, "{}", "-".repeat(width));
        for cell in self.cells.iter().filter(|c| c.generator == generator) {
            let _ = write!(out, "{:<17} {:>5} |", cell.operation, cell.connections);
            side_columns(out, Some(&cell.trent.median));
            out.push_str(" |");
            side_columns(out, cell.baseline.as_ref().map(|b| &b.median));
            let errors =
                cell.trent.median.errors + cell.baseline.as_ref().map_or(0, |b| b.median.errors);
            let _ = writeln!(
                out,
                " | {:>5}x {:>5}x | {:>6} {:>7}",
                fmt_opt(cell.req_per_sec_ratio, 2),
                fmt_opt(cell.cpu_per_req_ratio, 2),
                errors,
                fmt_opt(cell.trent.median.generator_cpu_us_per_req, 1)
            );
        }
        let _ = writeln!(out);
        if generator == Generator::Builtin {
            let _ = writeln!(
                out,
                "ratio = Trent / baseline (req/s: higher is better; CPU: lower is better). \
                 gen CPU/req = the load generator's own CPU µs per request (Trent cells)."
            );
        }
    }

    /// The text report: the main table, then the server, load-generator and
    /// population notes.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let _ = writeln!(
            out,
            "trent bench: median of {} repeat(s) x {:.1} s per cell (after {:.2} s warm-up); \
             latency in ms, CPU = server CPU time per request in µs (/proc/PID/stat)",
            s.repeats, s.duration_secs, s.warmup_secs
        );
        let _ = writeln!(
            out,
            "machine: {} CPUs, {}",
            self.machine.nproc,
            self.machine.cpu_model.as_deref().unwrap_or("unknown CPU")
        );
        let _ = writeln!(out);
        self.main_table(&mut out, Generator::Builtin);
        self.audit_table(&mut out, Generator::Builtin);
        if self.cells.iter().any(|c| c.generator == Generator::Wrk) {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "With wrk ({}): one thread replaying one pre-signed request per cell; \
                 p99.9 from wrk's histogram; gen CPU/req = wrk's own CPU µs per request.",
                self.settings.wrk.as_deref().unwrap_or("wrk")
            );
            self.main_table(&mut out, Generator::Wrk);
            self.audit_table(&mut out, Generator::Wrk);
        }

        let t = &self.trent;
        let _ = writeln!(
            out,
            "Trent ({}{}): startup to /health {}; RSS after the run {} (peak {})",
            t.url,
            if t.started_by_bench {
                ", started by the bench"
            } else {
                ""
            },
            t.startup_to_health_ms
                .map(|ms| format!("{ms:.0} ms"))
                .unwrap_or_else(|| "-".into()),
            fmt_mib(t.rss_kib_after_run),
            fmt_mib(t.peak_rss_kib),
        );
        if let Some(b) = &self.baseline {
            let _ = writeln!(
                out,
                "baseline ({}): startup to /health {}; RSS after the run {}",
                b.url,
                b.startup_to_health_ms
                    .map(|ms| format!("{ms:.0} ms"))
                    .unwrap_or_else(|| "-".into()),
                fmt_mib(b.rss_kib_after_run),
            );
        }
        let g = &self.load_generator;
        let _ = writeln!(
            out,
            "load generator: {} µs CPU/request (median over cells); its CPU per request is {}% \
             of the server's (median), {}% at most; server + generator kept at most {} of {} cores busy, \
             other processes at most {} cores; its {} thread(s) were at most {}% busy",
            fmt_opt(g.median_cpu_us_per_req, 1),
            fmt_opt(g.median_share_of_server_cpu.map(|x| x * 100.0), 0),
            fmt_opt(g.max_share_of_server_cpu.map(|x| x * 100.0), 0),
            fmt_opt(g.max_server_plus_generator_cores, 2),
            self.machine.nproc,
            fmt_opt(g.max_other_cores, 2),
            g.threads,
            fmt_opt(
                g.max_generator_cores
                    .map(|c| c * 100.0 / g.threads.max(1) as f64),
                0
            ),
        );
        if let Some(w) = &self.wrk_load_generator {
            let _ = writeln!(
                out,
                "wrk: {} µs CPU/request (median over its cells); its CPU per request is {}% \
                 of the server's (median), {}% at most; its thread was at most {}% busy",
                fmt_opt(w.median_cpu_us_per_req, 1),
                fmt_opt(w.median_share_of_server_cpu.map(|x| x * 100.0), 0),
                fmt_opt(w.max_share_of_server_cpu.map(|x| x * 100.0), 0),
                fmt_opt(w.max_generator_cores.map(|c| c * 100.0), 0),
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }

        if let Some(p) = &self.population {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{} keys: {}; restart to /health {}, \
                 key cache warm {} later; RSS after restart {}, after the cells {}",
                p.keys,
                match p.create_seconds {
                    Some(secs) => format!(
                        "created in {secs:.1} s ({} CreateKey/s)",
                        fmt_rate(p.keys as f64 / secs)
                    ),
                    None => "listed (--existing-keys), not created".to_owned(),
                },
                p.restart_to_health_ms
                    .map(|ms| format!("{ms:.0} ms"))
                    .unwrap_or_else(|| "- (not restarted: --target)".into()),
                p.cache_warm_ms
                    .map(|ms| format!("{ms:.0} ms"))
                    .unwrap_or_else(|| "-".into()),
                fmt_mib(p.rss_kib_after_restart),
                fmt_mib(p.rss_kib_after_cells),
            );
            let _ = writeln!(
                out,
                "{:<31} {:>5} | {:>9} {:>6} {:>6} {:>6} {:>7} | {:>6}",
                "operation", "conns", "req/s", "p50", "p99", "p99.9", "CPU", "errors"
            );
            for c in &p.cells {
                for (label, side) in [
                    ("Encrypt (hot key)".to_owned(), &c.hot),
                    (format!("Encrypt (random key of {})", p.keys), &c.random),
                ] {
                    let _ = write!(out, "{:<31} {:>5} |", label, c.connections);
                    side_columns(&mut out, Some(&side.median));
                    let _ = writeln!(out, " | {:>6}", side.median.errors);
                }
                let _ = writeln!(
                    out,
                    "{:<31} {:>5} | random/hot req/s = {}x",
                    "",
                    c.connections,
                    fmt_opt(c.req_per_sec_ratio, 2)
                );
            }
        }

        if self.total_errors > 0 {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "ERRORS: {} failed request(s) in total:",
                self.total_errors
            );
            let mut lines = Vec::new();
            let mut note = |who: &str, op: &str, conns: usize, side: &Side| {
                if side.median.errors > 0 {
                    lines.push(format!(
                        "  {who} {op} x{conns}: {} error(s), e.g. {}",
                        side.median.errors,
                        side.error_samples.join(" | ")
                    ));
                }
            };
            for c in &self.cells {
                let (trent, baseline, second) = match c.generator {
                    Generator::Builtin => ("Trent", "baseline", "second Trent"),
                    Generator::Wrk => ("Trent (wrk)", "baseline (wrk)", "second Trent (wrk)"),
                };
                note(trent, &c.operation, c.connections, &c.trent);
                if let Some(b) = &c.baseline {
                    note(baseline, &c.operation, c.connections, b);
                }
                if let Some(u) = &c.unaudited {
                    note(second, &c.operation, c.connections, u);
                }
            }
            if let Some(p) = &self.population {
                for c in &p.cells {
                    note("Trent", "Encrypt (hot key)", c.connections, &c.hot);
                    note("Trent", "Encrypt (random key)", c.connections, &c.random);
                }
            }
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
        }
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientKind;

    fn sample(rps: f64, cpu: f64, errors: u64) -> Sample {
        Sample {
            requests: (rps * 2.0) as u64,
            errors,
            seconds: 2.0,
            req_per_sec: rps,
            p50_ms: 0.25,
            p99_ms: 1.5,
            p999_ms: 12.25,
            server_cpu_us_per_req: Some(cpu),
            generator_cpu_us_per_req: Some(cpu / 10.0),
            server_cores: Some(1.0),
            generator_cores: Some(0.1),
            machine_busy_cores: Some(1.2),
        }
    }

    fn report() -> Report {
        let trent = Side::new(
            vec![sample(9000.0, 100.0, 0), sample(10000.0, 90.0, 1)],
            vec!["HTTP 500 KMSInternalException: boom".into()],
        );
        let baseline = Side::new(vec![sample(20000.0, 50.0, 0)], vec![]);
        Report {
            machine: MachineInfo {
                nproc: 2,
                cpu_model: Some("Test CPU".into()),
                clock_ticks_per_sec: 100,
            },
            settings: Settings {
                duration_secs: 2.0,
                warmup_secs: 0.25,
                repeats: 2,
                connections: vec![16],
                ops: vec!["encrypt".into()],
                client: ClientKind::Raw,
                client_threads: 1,
                keys: 0,
                create_key_cells: false,
                audit_off: false,
                postgres: false,
                load_generators: vec![Generator::Builtin],
                wrk: None,
            },
            trent: ServerInfo {
                url: "http://127.0.0.1:1".into(),
                pid: Some(1),
                started_by_bench: true,
                startup_to_health_ms: Some(42.0),
                rss_kib_after_run: Some(20480),
                peak_rss_kib: Some(30720),
            },
            baseline: None,
            cells: vec![Cell::new("Encrypt".into(), 16, trent, Some(baseline))],
            population: None,
            load_generator: GeneratorCheck {
                median_cpu_us_per_req: Some(9.5),
                max_share_of_server_cpu: Some(0.1),
                median_share_of_server_cpu: Some(0.1),
                max_server_plus_generator_cores: Some(1.1),
                max_other_cores: Some(0.1),
                threads: 1,
                max_generator_cores: Some(0.1),
            },
            wrk_load_generator: None,
            notes: Vec::new(),
            total_errors: 1,
            elapsed_secs: 10.0,
        }
    }

    #[test]
    fn cell_ratios_are_of_medians() {
        let r = report();
        let c = &r.cells[0];
        assert_eq!(c.trent.median.req_per_sec, 9500.0);
        assert_eq!(c.req_per_sec_ratio, Some(9500.0 / 20000.0));
        assert_eq!(c.cpu_per_req_ratio, Some(95.0 / 50.0));
    }

    #[test]
    fn audit_table_compares_audited_with_unaudited() {
        let mut r = report();
        assert!(!r.table().contains("auditing cost"));
        let unaudited = Side::new(vec![sample(10000.0, 80.0, 0)], vec![]);
        r.cells[0] = r.cells[0].clone().with_unaudited(unaudited);
        assert_eq!(r.cells[0].audited_req_per_sec_ratio, Some(0.95));
        let table = r.table();
        let row = table
            .lines()
            .skip_while(|l| !l.starts_with("auditing cost"))
            .find(|l| l.starts_with("Encrypt"))
            .expect("an Encrypt row in the auditing table");
        for needle in ["9,500", "10,000", "80.0", "0.95x"] {
            assert!(row.contains(needle), "{needle} missing from {row:?}");
        }
    }

    #[test]
    fn table_shows_numbers_ratios_and_errors() {
        let table = report().table();
        let row = table
            .lines()
            .find(|l| l.starts_with("Encrypt"))
            .expect("an Encrypt row");
        for needle in [
            "16", "9,500", "0.25", "1.50", "12.2", "95.0", "20,000", "0.47x", "1.90x",
        ] {
            assert!(row.contains(needle), "{needle} missing from {row:?}");
        }
        assert!(table.contains("machine: 2 CPUs, Test CPU"));
        assert!(table.contains("startup to /health 42 ms"));
        assert!(table.contains("RSS after the run 20.0 MiB"));
        assert!(table.contains("ERRORS: 1 failed request(s)"));
        assert!(table.contains("KMSInternalException: boom"));
    }

    #[test]
    fn wrk_cells_get_their_own_labelled_table() {
        let mut r = report();
        let wrk = r.cells[0].clone().with_generator(Generator::Wrk);
        r.cells[0].trent = Side::new(vec![sample(7000.0, 100.0, 0)], vec![]);
        r.cells.push(wrk);
        r.settings.load_generators = vec![Generator::Builtin, Generator::Wrk];
        r.settings.wrk = Some("wrk debian/4.1.0-3+b2 [epoll]".into());
        r.wrk_load_generator = Some(r.load_generator.clone());
        r.notes.push("a note".into());
        let table = r.table();
        let (builtin, wrk) = table.split_at(table.find("With wrk (wrk debian/4.1.0").unwrap());
        let row = |part: &str| {
            part.lines()
                .find(|l| l.starts_with("Encrypt"))
                .unwrap()
                .to_owned()
        };
        assert!(row(builtin).contains("7,000"), "{table}");
        assert!(
            row(wrk).contains("9,500") && row(wrk).contains("0.47x"),
            "{table}"
        );
        assert!(wrk.lines().any(|l| l.starts_with("wrk ")), "{table}");
        assert!(table.contains("\nwrk: 9.5 µs CPU/request"), "{table}");
        assert!(table.contains("note: a note"), "{table}");
        assert!(
            table.contains("Trent (wrk) Encrypt x16: 1 error(s)"),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["cells"][0]["generator"], "builtin");
        assert_eq!(json["cells"][1]["generator"], "wrk");
        assert_eq!(json["settings"]["load_generators"][1], "wrk");
    }

    #[test]
    fn json_has_the_same_numbers() {
        let json: serde_json::Value = serde_json::from_str(&report().json()).unwrap();
        assert_eq!(json["machine"]["nproc"], 2);
        assert_eq!(json["cells"][0]["trent"]["median"]["req_per_sec"], 9500.0);
        assert_eq!(json["cells"][0]["req_per_sec_ratio"], 0.475);
        assert_eq!(
            json["cells"][0]["trent"]["samples"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(json["settings"]["client"], "raw");
    }

    #[test]
    fn rates_get_thousands_separators() {
        assert_eq!(fmt_rate(0.4), "0");
        assert_eq!(fmt_rate(999.0), "999");
        assert_eq!(fmt_rate(1234.0), "1,234");
        assert_eq!(fmt_rate(1234567.0), "1,234,567");
        assert_eq!(fmt_rate(f64::NAN), "-");
    }
}
