//! Servers the benchmark starts itself: `trent serve` and `trent
//! bench-baseline`, each a child process on a free 127.0.0.1 port, killed
//! when its [`ManagedServer`] is dropped (so also on error and panic).

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to print its address and answer `/health`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop (SIGTERM) may take before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A child server process.
pub struct ManagedServer {
    child: Child,
    /// Kept open so the child never writes to a closed pipe.
    _stdout: Option<BufReader<ChildStdout>>,
    pub addr: SocketAddr,
    pub pid: u32,
    /// From spawn to the first 200 on `GET /health`.
    pub startup: Duration,
    log: PathBuf,
}

impl ManagedServer {
    /// Starts `exe args…` with `envs`, stderr to `log`; waits for the
    /// `listening on http://ADDR` line and then for `/health`.
    pub async fn start(
        exe: &Path,
        args: &[&std::ffi::OsStr],
        envs: &[(&str, &str)],
        log: PathBuf,
    ) -> anyhow::Result<ManagedServer> {
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let started = Instant::now();
        let mut command = Command::new(exe);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout is piped");
        // Reading the first line blocks: do it on a thread, with a timeout.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let result = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send((result, reader));
        });
        // From here on, `server` kills the child if anything fails.
        let mut server = ManagedServer {
            child,
            _stdout: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pid,
            startup: Duration::ZERO,
            log,
        };
        let rx_result = tokio::task::spawn_blocking(move || rx.recv_timeout(START_TIMEOUT))
            .await
            .context("waiting for the server's first line")?;
        let (line, reader) = match rx_result {
            Ok((Ok(line), reader)) => (line, reader),
            Ok((Err(e), _)) => bail!("reading the server's stdout: {e}{}", server.log_tail()),
            Err(_) => bail!(
                "the server printed no address within {START_TIMEOUT:?}{}",
                server.log_tail()
            ),
        };
        server._stdout = Some(reader);
        let addr = parse_listening_line(&line).with_context(|| {
            format!(
                "unexpected first line {line:?} from the server{}",
                server.log_tail()
            )
        })?;
        server.addr = addr;
        let deadline = started + START_TIMEOUT;
        loop {
            if crate::client::health(addr).await {
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!("the server exited ({status}){}", server.log_tail());
            }
            if Instant::now() > deadline {
                bail!(
                    "/health not ready within {START_TIMEOUT:?}{}",
                    server.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.startup = started.elapsed();
        Ok(server)
    }

    /// The last lines of the server's stderr, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("\n--- server log ({}) ---\n{tail}", self.log.display())
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM (through `kill(1)`: sending signals directly needs `unsafe`),
    /// then SIGKILL if it has not exited within [`STOP_TIMEOUT`].
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !self.is_running() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Drop kills.
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in `listening on http://ADDR`.
pub fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    line.trim()
        .strip_prefix("listening on http://")?
        .trim_end_matches('/')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line() {
        assert_eq!(
            parse_listening_line("listening on http://127.0.0.1:4599\n"),
            Some("127.0.0.1:4599".parse().unwrap())
        );
        assert_eq!(parse_listening_line("listening on 127.0.0.1:1"), None);
        assert_eq!(parse_listening_line("hello"), None);
    }
}
