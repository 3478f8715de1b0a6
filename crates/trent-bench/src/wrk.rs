//! The second load generator: [wrk](https://github.com/wg/wrk) (the Debian
//! package, 4.1), replaying one pre-signed request per cell.
//!
//! Why: the built-in generator signs every request as it sends it and runs
//! in the bench process, costing the shared machine about 9-11 µs per
//! request, which compresses every Trent/baseline ratio toward 1. wrk with
//! one thread and no per-request Lua (only a `done()` hook, run once at the
//! end) costs a fraction of that, so its cells show the servers' difference
//! with less of the generator in it.
//!
//! A cell: sign one request for the server (SigV4 with `trent-sigv4`, as
//! [`crate::client`] signs, fresh for each cell since a signature is valid
//! for 15 minutes), send it once with a plain socket to check that it
//! answers 200 (else the cell fails with the server's error message), write
//! a Lua script that sets `wrk.method`, `wrk.body` and `wrk.headers` to it,
//! and run `wrk -t1 -cN -d… --latency --timeout … -s SCRIPT URL`: first for
//! the warm-up, then for the measured window. wrk takes whole seconds for
//! `-d`, so each run is given a little more than it needs and stopped with
//! SIGINT (through `kill(1)`) the exact duration after wrk installed its
//! SIGINT handler (seen in `/proc/PID/status`; before that a SIGINT would
//! kill it): wrk then stops its loop within 0.1 s and prints its report
//! over the time it actually ran. Requests per
//! second and the p50 and p99 latencies come from wrk's report; the request
//! count, the error counters and p99.9 from the `done()` hook's line. The
//! server's CPU time is read from `/proc` right after wrk starts and right
//! after it exits (the server is idle outside wrk's run), wrk's own CPU
//! time once it has exited (a zombie until reaped).
//!
//! Errors: wrk counts a response with a status above 399 as an error
//! ("Non-2xx or 3xx responses"), and socket errors and timeouts; all of them
//! fail the cell as the built-in generator's failed requests do. (A 1xx,
//! 3xx or non-200 2xx would not be counted: neither server sends one to
//! these requests, and catching them would need a per-request `response()`
//! hook, which would make wrk several times as expensive.)

use crate::client::{CONTENT_TYPE, Credentials};
use crate::load::{Bodies, CellOptions, CellOutcome, Endpoint, describe_error};
use crate::procfs::CpuClock;
use crate::stats::Sample;
use anyhow::{Context, anyhow, bail};
use http::{HeaderMap, HeaderValue};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use trent_sigv4::{RequestParts, SigningKey, X_AMZ_DATE, format_amz_date};

/// The first line of the `done()` hook's output.
const DONE_PREFIX: &str = "trent-bench-wrk";

/// `wrk` on `PATH`, if there is one.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("wrk"))
        .find(|p| p.is_file())
}

/// `wrk -v`'s first line (`wrk debian/4.1.0-3+b2 [epoll] …`), for the report.
pub fn version(wrk: &Path) -> Option<String> {
    // wrk -v prints its version and usage and exits with status 1.
    let out = Command::new(wrk)
        .arg("-v")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .next()
        .map(|l| l.split(" Copyright").next().unwrap_or(l).trim().to_owned())
        .filter(|l| l.starts_with("wrk"))
}

/// One signed request, as wrk will replay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// `(name, value)`: host, content-type, x-amz-target, x-amz-date,
    /// authorization. wrk adds `Content-Length` (not signed, as the
    /// built-in generator does not sign it either).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl SignedRequest {
    /// Signs `POST /` with `body` to `target` for the server at `addr`, at
    /// `now` (Unix seconds).
    pub fn sign(
        addr: SocketAddr,
        creds: &Credentials,
        target: &HeaderValue,
        body: &[u8],
        now: i64,
    ) -> anyhow::Result<SignedRequest> {
        let amz_date = format_amz_date(now);
        let host = addr.to_string();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_str(&host)?);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE),
        );
        headers.insert("x-amz-target", target.clone());
        headers.insert(X_AMZ_DATE, HeaderValue::from_str(&amz_date)?);
        let key = SigningKey::derive(
            creds.secret_access_key.as_bytes(),
            &amz_date[..8],
            &creds.region,
            "kms",
        );
        let authorization = trent_sigv4::sign(
            &RequestParts {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body,
            },
            &creds.access_key_id,
            &key,
            &creds.region,
            "kms",
            &amz_date,
        );
        let body = String::from_utf8(body.to_vec()).context("the request body is not UTF-8")?;
        Ok(SignedRequest {
            headers: vec![
                ("Host".into(), host),
                ("Content-Type".into(), CONTENT_TYPE.into()),
                ("X-Amz-Target".into(), target.to_str()?.to_owned()),
                ("X-Amz-Date".into(), amz_date),
                ("Authorization".into(), authorization),
            ],
            body,
        })
    }

    /// The request as bytes on the wire (what wrk sends, header order aside).
    fn to_http(&self) -> Vec<u8> {
        let mut out = b"POST / HTTP/1.1\r\n".to_vec();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(self.body.as_bytes());
        out
    }

    /// Sends the request once on a new connection: the status and body.
    pub fn probe(&self, addr: SocketAddr) -> std::io::Result<(u16, Vec<u8>)> {
        let timeout = Some(Duration::from_secs(10));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        stream.write_all(&self.to_http())?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((status, head, length)) = crate::client::parse_response_head(&buf)?
                && buf.len() >= head + length
            {
                return Ok((status, buf[head..head + length].to_vec()));
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 || buf.len() > 1024 * 1024 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "no complete response",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// `s` as a double-quoted Lua string literal (printable ASCII as is, `"`
/// and `\` escaped, every other byte as a decimal escape).
pub fn lua_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// The Lua script for `wrk -s`: the request to replay, and a `done()` hook
/// printing one parseable line (see [`parse_output`]).
pub fn lua_script(request: &SignedRequest, label: &str) -> String {
    let mut s = format!(
        "-- Written by trent bench: {} replayed as is (pre-signed).\n",
        label.replace('\n', " ")
    );
    s.push_str("wrk.method = \"POST\"\nwrk.path = \"/\"\n");
    s.push_str(&format!("wrk.body = {}\n", lua_quote(&request.body)));
    for (name, value) in &request.headers {
        s.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_quote(name),
            lua_quote(value)
        ));
    }
    s.push_str(&format!(
        r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{DONE_PREFIX} requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p99_us=%d p999_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#
    ));
    s
}

/// What one wrk run reported.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkOutput {
    /// `Requests/sec:` of wrk's report.
    pub req_per_sec: f64,
    /// The `Latency Distribution` of wrk's report (`--latency`), in ms.
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// From the `done()` line: completed requests, wrk's run time.
    pub requests: u64,
    pub duration_secs: f64,
    /// Responses with a status above 399.
    pub status_errors: u64,
    /// Socket errors (connect, read, write) and timeouts.
    pub socket_errors: u64,
    /// p50, p99 and p99.9 from the `done()` line: the same histogram as the
    /// report's, in whole microseconds rather than 2 decimals of a unit.
    pub exact_p50_ms: f64,
    pub exact_p99_ms: f64,
    pub p999_ms: f64,
}

impl WrkOutput {
    pub fn errors(&self) -> u64 {
        self.status_errors + self.socket_errors
    }
}

/// A wrk duration (`812.00us`, `1.31ms`, `2.00s`, `1.00m`) in milliseconds.
fn parse_time_ms(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = s.split_at(split);
    let x: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        _ => return None,
    };
    Some(x * scale)
}

/// Parses wrk's report (`--latency`) and the `done()` hook's line of
/// [`lua_script`].
pub fn parse_output(text: &str) -> anyhow::Result<WrkOutput> {
    let mut req_per_sec = None;
    let mut percentiles = [None; 4];
    let mut done: Option<std::collections::HashMap<&str, u64>> = None;
    let mut in_distribution = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            req_per_sec = v.trim().parse::<f64>().ok();
        } else if t == "Latency Distribution" {
            in_distribution = true;
            continue;
        } else if let Some(rest) = t.strip_prefix(DONE_PREFIX) {
            done = Some(
                rest.split_ascii_whitespace()
                    .filter_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        Some((k, v.parse().ok()?))
                    })
                    .collect(),
            );
        }
        if in_distribution {
            let mut parts = t.split_ascii_whitespace();
            let slot = match parts.next() {
                Some("50%") => 0,
                Some("75%") => 1,
                Some("90%") => 2,
                Some("99%") => 3,
                _ => {
                    in_distribution = false;
                    continue;
                }
            };
            percentiles[slot] = parts.next().and_then(parse_time_ms);
        }
    }
    let req_per_sec =
        req_per_sec.ok_or_else(|| anyhow!("no 'Requests/sec:' in wrk's output:\n{text}"))?;
    let [Some(p50_ms), Some(p75_ms), Some(p90_ms), Some(p99_ms)] = percentiles else {
        bail!("no complete 'Latency Distribution' in wrk's output:\n{text}");
    };
    let done = done.ok_or_else(|| anyhow!("no '{DONE_PREFIX}' line in wrk's output:\n{text}"))?;
    let get = |k: &str| {
        done.get(k)
            .copied()
            .ok_or_else(|| anyhow!("no {k}= in wrk's '{DONE_PREFIX}' line"))
    };
    Ok(WrkOutput {
        req_per_sec,
        p50_ms,
        p75_ms,
        p90_ms,
        p99_ms,
        requests: get("requests")?,
        duration_secs: get("duration_us")? as f64 / 1e6,
        status_errors: get("status_errors")?,
        socket_errors: get("connect_errors")?
            + get("read_errors")?
            + get("write_errors")?
            + get("timeouts")?,
        exact_p50_ms: get("p50_us")? as f64 / 1e3,
        exact_p99_ms: get("p99_us")? as f64 / 1e3,
        p999_ms: get("p999_us")? as f64 / 1e3,
    })
}

/// Whether a `/proc/PID/status` says the process catches SIGINT (bit 2 of
/// `SigCgt`). wrk installs its handler only once its threads are up; a
/// SIGINT before that would kill it.
fn catches_sigint(status: &str) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

/// Whether a `/proc/PID/stat` line is a zombie's (state `Z`, the field
/// after the command name).
fn is_zombie(stat: &str) -> bool {
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_ascii_whitespace().next())
        == Some("Z")
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs wrk for `duration` (stopped by SIGINT), returning its stdout and
/// its CPU time over the run.
fn run_wrk(
    wrk: &Path,
    script: &Path,
    url: &str,
    connections: usize,
    duration: Duration,
    timeout: Duration,
    clock: CpuClock,
) -> anyhow::Result<(String, Option<Duration>)> {
    // Whole seconds, with room: the SIGINT ends the run, not -d.
    let d = duration.as_secs() + 2;
    let mut child = Command::new(wrk)
        .args(["-t1", &format!("-c{connections}"), &format!("-d{d}s")])
        .args([
            "--latency",
            &format!("--timeout={}s", timeout.as_secs().max(1)),
        ])
        .arg("-s")
        .arg(script)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", wrk.display()))?;
    let pid = child.id();
    // The window starts once wrk can be stopped (its threads are running).
    let ready_by = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| catches_sigint(&s))
        && Instant::now() < ready_by
        && matches!(child.try_wait(), Ok(None))
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(duration);
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    // wrk's CPU time over its whole run, requests after the SIGINT
    // included: read once it has exited but is not yet reaped (a zombie
    // keeps its final times in /proc/PID/stat). Its report is a few hundred
    // bytes, well within the pipes' buffers, so it does not block exiting.
    let exited_by = Instant::now() + Duration::from_secs(d + 10);
    let mut cpu = None;
    while Instant::now() < exited_by {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) if is_zombie(&stat) => {
                cpu = clock.process(Some(pid));
                break;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => break,
        }
    }
    let out = child.wait_with_output().context("waiting for wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((stdout, cpu))
}

fn failed(message: String) -> CellOutcome {
    CellOutcome {
        sample: Sample {
            requests: 0,
            errors: 1,
            seconds: 0.0,
            req_per_sec: 0.0,
            p50_ms: f64::NAN,
            p99_ms: f64::NAN,
            p999_ms: f64::NAN,
            server_cpu_us_per_req: None,
            generator_cpu_us_per_req: None,
            server_cores: None,
            generator_cores: None,
            machine_busy_cores: None,
        },
        error_samples: vec![message],
    }
}

/// One wrk cell on the calling thread (which it blocks): the first body of
/// `bodies`, signed now, replayed over `options.connections` connections.
pub fn run_cell_blocking(
    wrk: &Path,
    endpoint: &Endpoint,
    bodies: &Bodies,
    options: CellOptions,
    clock: CpuClock,
) -> anyhow::Result<CellOutcome> {
    let body = bodies
        .bodies
        .first()
        .ok_or_else(|| anyhow!("no request body"))?;
    let request = SignedRequest::sign(
        endpoint.addr,
        &endpoint.creds,
        &bodies.target,
        body,
        unix_now(),
    )?;
    match request.probe(endpoint.addr) {
        Ok((200, _)) => {}
        Ok((status, body)) => {
            return Ok(failed(format!(
                "the pre-signed request: {}",
                describe_error(status, &body)
            )));
        }
        Err(e) => return Ok(failed(format!("the pre-signed request: {e}"))),
    }
    let label = format!(
        "{} to {}",
        bodies.target.to_str().unwrap_or("?"),
        endpoint.addr
    );
    let mut script = tempfile::Builder::new()
        .prefix("trent-bench-wrk-")
        .suffix(".lua")
        .tempfile()
        .context("creating wrk's script file")?;
    script
        .write_all(lua_script(&request, &label).as_bytes())
        .context("writing wrk's script")?;
    script.flush()?;
    let url = format!("http://{}/", endpoint.addr);
    let run = |duration| {
        run_wrk(
            wrk,
            script.path(),
            &url,
            options.connections,
            duration,
            options.request_timeout,
            clock,
        )
    };
    if options.warmup > Duration::ZERO {
        let (text, _) = run(options.warmup)?;
        let warm = parse_output(&text)?;
        if warm.errors() > 0 {
            return Ok(failed(format!(
                "wrk warm-up: {} error response(s), {} socket error(s)",
                warm.status_errors, warm.socket_errors
            )));
        }
    }

    let server0 = endpoint.pid.and_then(|p| clock.process(Some(p)));
    let machine0 = clock.machine();
    let t0 = Instant::now();
    let (text, wrk_cpu) = run(options.duration)?;
    let server1 = endpoint.pid.and_then(|p| clock.process(Some(p)));
    let machine1 = clock.machine();
    let wall = t0.elapsed().as_secs_f64();
    let w = parse_output(&text)?;

    let mut error_samples = Vec::new();
    if w.status_errors > 0 {
        // wrk does not say what the errors were: ask once more.
        error_samples.push(match request.probe(endpoint.addr) {
            Ok((status, body)) => format!(
                "{} response(s) above 399 under wrk; the same request now: {}",
                w.status_errors,
                describe_error(status, &body)
            ),
            Err(e) => format!("{} response(s) above 399 under wrk; {e}", w.status_errors),
        });
    }
    if w.socket_errors > 0 {
        error_samples.push(format!(
            "{} socket error(s) or timeout(s) under wrk",
            w.socket_errors
        ));
    }
    let per_req = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if w.requests > 0 => {
            Some(b.saturating_sub(a).as_secs_f64() * 1e6 / w.requests as f64)
        }
        _ => None,
    };
    let cores = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if wall > 0.0 => Some(b.saturating_sub(a).as_secs_f64() / wall),
        _ => None,
    };
    Ok(CellOutcome {
        sample: Sample {
            requests: w.requests,
            errors: w.errors(),
            seconds: w.duration_secs,
            req_per_sec: w.req_per_sec,
            // The done() line's percentiles: the report's, with more digits
            // (and so never out of order with its p99.9).
            p50_ms: w.exact_p50_ms,
            p99_ms: w.exact_p99_ms,
            p999_ms: w.p999_ms,
            server_cpu_us_per_req: per_req(server0, server1),
            generator_cpu_us_per_req: per_req(Some(Duration::ZERO), wrk_cpu),
            server_cores: cores(server0, server1),
            generator_cores: cores(Some(Duration::ZERO), wrk_cpu),
            machine_busy_cores: cores(machine0.map(|m| m.0), machine1.map(|m| m.0)),
        },
        error_samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real run: `wrk -t1 -c16 -d1s --latency -s SCRIPT` with this
    /// module's script (one signed Encrypt) against a debug build of the
    /// baseline in a test process (hence the low rate), on the 2-core
    /// development machine.
    const SAMPLE: &str = include_str!("../tests/data/wrk-encrypt.txt");

    #[test]
    fn parses_a_real_wrk_report() {
        let w = parse_output(SAMPLE).unwrap();
        assert_eq!(w.status_errors, 0);
        assert_eq!(w.socket_errors, 0);
        assert!(w.requests > 1000, "{w:?}");
        assert!(w.req_per_sec > 1000.0, "{w:?}");
        assert!(w.duration_secs > 0.5 && w.duration_secs < 5.0, "{w:?}");
        assert!(w.p50_ms <= w.p75_ms && w.p75_ms <= w.p90_ms && w.p90_ms <= w.p99_ms);
        assert!(w.exact_p99_ms <= w.p999_ms, "{w:?}");
        // The done() line's percentiles are the report's, to its rounding.
        assert!((w.exact_p50_ms - w.p50_ms).abs() <= 0.01, "{w:?}");
        assert!(
            (w.exact_p99_ms - w.p99_ms).abs() / w.p99_ms <= 0.01,
            "{w:?}"
        );
        // Requests/sec is wrk's count over its run time.
        let rate = w.requests as f64 / w.duration_secs;
        assert!((rate - w.req_per_sec).abs() / rate < 0.01, "{w:?}");
    }

    #[test]
    fn parses_units_errors_and_refuses_incomplete_output() {
        let text = "Running 1s test @ http://127.0.0.1:1/
  1 threads and 4 connections
  Latency Distribution
     50%  812.00us
     75%    5.29ms
     90%   10.32ms
     99%    2.00s
  1502 requests in 1.00s, 814.07KB read
  Non-2xx or 3xx responses: 1502
Requests/sec:   1497.90
Transfer/sec:    811.85KB
trent-bench-wrk requests=1502 duration_us=1002735 status_errors=1502 connect_errors=0 read_errors=2 write_errors=0 timeouts=1 p50_us=812 p99_us=2000000 p999_us=2100000
";
        let w = parse_output(text).unwrap();
        assert_eq!(w.p50_ms, 0.812);
        assert_eq!(w.p75_ms, 5.29);
        assert_eq!(w.p99_ms, 2000.0);
        assert_eq!(w.p999_ms, 2100.0);
        assert_eq!((w.exact_p50_ms, w.exact_p99_ms), (0.812, 2000.0));
        assert_eq!(w.req_per_sec, 1497.9);
        assert_eq!(
            (w.status_errors, w.socket_errors, w.errors()),
            (1502, 3, 1505)
        );
        assert!(parse_output(&text.replace("Requests/sec", "Req")).is_err());
        assert!(parse_output(&text.replace("     99%    2.00s\n", "")).is_err());
        assert!(parse_output(&text.replace("trent-bench-wrk", "x")).is_err());
        assert_eq!(parse_time_ms("1.5m"), Some(90_000.0));
        assert_eq!(parse_time_ms("1.5"), None);
    }

    #[test]
    fn sigint_handler_from_proc_status() {
        let status =
            |mask: &str| format!("Name:\twrk\nSigIgn:\t0000000000001002\nSigCgt:\t{mask}\n");
        assert!(catches_sigint(&status("0000000100000002")));
        assert!(!catches_sigint(&status("0000000000000000")));
        assert!(!catches_sigint(&status("0000000100000001")));
        assert!(!catches_sigint("Name:\twrk\n"));
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(own.contains("SigCgt:"));
        assert!(is_zombie("4242 (wrk) Z 1 2 3"));
        assert!(!is_zombie("4242 (a) Z) S 1 2 3"));
        assert!(!is_zombie(
            &std::fs::read_to_string("/proc/self/stat").unwrap()
        ));
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_quote(r#"{"a":"b\c"}"#), r#""{\"a\":\"b\\c\"}""#);
        assert_eq!(lua_quote("x\ny\u{e9}"), "\"x\\010y\\195\\169\"");
    }

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "AKIATEST".into(),
            secret_access_key: "secret".to_owned().into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn the_script_replays_the_signed_request() {
        let addr: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let body = br#"{"KeyId":"k","Plaintext":"AAAA"}"#;
        let target = HeaderValue::from_static("TrentService.Encrypt");
        let request = SignedRequest::sign(addr, &creds(), &target, body, 1_700_000_000).unwrap();
        let script = lua_script(&request, "Encrypt");
        assert!(script.contains("wrk.method = \"POST\"\n"));
        assert!(script.contains(r#"wrk.body = "{\"KeyId\":\"k\",\"Plaintext\":\"AAAA\"}""#));
        for line in [
            r#"wrk.headers["Host"] = "127.0.0.1:4242""#,
            r#"wrk.headers["Content-Type"] = "application/x-amz-json-1.1""#,
            r#"wrk.headers["X-Amz-Target"] = "TrentService.Encrypt""#,
            r#"wrk.headers["X-Amz-Date"] = "20231114T221320Z""#,
            r#"wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIATEST/20231114/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="#,
        ] {
            assert!(script.contains(line), "{line} missing from\n{script}");
        }
        assert!(script.contains("function done(summary, latency, requests)"));
        assert!(script.contains("trent-bench-wrk requests=%d"));

        // The signature is the one the server checks: verify it as one.
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            headers.insert(
                http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let auth = trent_sigv4::parse_request_authorization(&headers).unwrap();
        let key = SigningKey::derive(b"secret", "20231114", "us-east-1", "kms");
        let parts = RequestParts {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        trent_sigv4::verify(&parts, &auth, &key, 1_700_000_000, "kms").unwrap();
        let wire = String::from_utf8(request.to_http()).unwrap();
        assert!(wire.starts_with("POST / HTTP/1.1\r\nHost: 127.0.0.1:4242\r\n"));
        assert!(
            wire.ends_with("Content-Length: 32\r\n\r\n{\"KeyId\":\"k\",\"Plaintext\":\"AAAA\"}")
        );
    }
}
