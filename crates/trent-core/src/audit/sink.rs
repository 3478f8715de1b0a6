//! What the audit writer does besides the store: the JSON-lines stream
//! (`trent serve --audit-stream PATH|-`) and the health and counters that
//! `/metrics` shows and that decide whether Trent still accepts calls.
//!
//! The store is the authoritative trail; the stream is a copy, written
//! after each batch commits, one CloudTrail record per line. A failing
//! stream keeps its unwritten bytes (up to [`MAX_PENDING_BYTES`]) and
//! retries them first with the next batch, so a stream that recovers has
//! every event, none twice and no torn line. While the stream fails,
//! [`AuditStats::accepts`] refuses mutations (reads and crypto calls are
//! still recorded in the store); while the store fails it refuses
//! everything.

use crate::stats::Histogram;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Unwritten stream bytes kept for a retry; beyond this they are dropped
/// (and counted), since the store has them.
pub const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// Where the JSON lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamTarget {
    Stdout,
    /// Appended to; created with mode 0600; reopened if it is removed or
    /// replaced (log rotation).
    File(PathBuf),
}

impl StreamTarget {
    /// `-` is stdout.
    pub fn parse(arg: &str) -> Self {
        if arg == "-" {
            StreamTarget::Stdout
        } else {
            StreamTarget::File(arg.into())
        }
    }
}

/// The JSON-lines stream of committed events.
pub struct JsonLinesSink {
    target: StreamTarget,
    out: Box<dyn Write + Send>,
    /// (device, inode) of the open file, to notice removal or rotation.
    identity: Option<(u64, u64)>,
    pending: Vec<u8>,
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("target", &self.target)
            .field("pending", &self.pending.len())
            .finish()
    }
}

fn open_append(path: &Path) -> io::Result<(std::fs::File, (u64, u64))> {
    let file = crate::files::open_private_append(path)?;
    let meta = file.metadata()?;
    Ok((file, (meta.dev(), meta.ino())))
}

impl JsonLinesSink {
    pub fn open(target: StreamTarget) -> io::Result<Self> {
        let (out, identity): (Box<dyn Write + Send>, _) = match &target {
            StreamTarget::Stdout => (Box::new(io::stdout()), None),
            StreamTarget::File(path) => {
                let (file, identity) = open_append(path)?;
                (Box::new(file), Some(identity))
            }
        };
        Ok(Self {
            target,
            out,
            identity,
            pending: Vec::new(),
        })
    }

    /// A sink on any writer (tests: a writer that fails on cue).
    #[cfg(test)]
    pub(crate) fn with_writer(out: Box<dyn Write + Send>) -> Self {
        Self {
            target: StreamTarget::Stdout,
            out,
            identity: None,
            pending: Vec::new(),
        }
    }

    /// Appends the records' lines (after what earlier failures left) and
    /// writes as much as the stream takes. `Err`: some bytes are still
    /// pending, for the next call.
    pub fn write(&mut self, lines: &[String], stats: &AuditStats) -> io::Result<()> {
        for line in lines {
            if self.pending.len() + line.len() >= MAX_PENDING_BYTES {
                stats.stream_dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.pending.extend_from_slice(line.as_bytes());
            self.pending.push(b'\n');
        }
        self.reopen_if_replaced()?;
        let mut written = 0;
        let result = loop {
            if written == self.pending.len() {
                break self.out.flush();
            }
            match self.out.write(&self.pending[written..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.pending.drain(..written);
        result
    }

    /// A file removed or moved away (rotation) is created anew at its path.
    fn reopen_if_replaced(&mut self) -> io::Result<()> {
        let StreamTarget::File(path) = &self.target else {
            return Ok(());
        };
        let current = match std::fs::metadata(path) {
            Ok(meta) => Some((meta.dev(), meta.ino())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if current.is_some() && current == self.identity {
            return Ok(());
        }
        let (file, identity) = open_append(path)?;
        tracing::warn!(path = %path.display(), "audit stream file was removed or replaced; reopened");
        self.out = Box::new(file);
        self.identity = Some(identity);
        Ok(())
    }
}

/// The audit writer's counters and health, shared with the server.
#[derive(Debug, Default)]
pub struct AuditStats {
    /// Store commit time per batch.
    pub write_seconds: Histogram,
    pub events_written: AtomicU64,
    /// Batches the store failed to commit (their events are lost).
    pub store_failures: AtomicU64,
    /// Stream writes that failed (their lines wait for a retry).
    pub stream_failures: AtomicU64,
    /// Events the stream gave up on (backlog over [`MAX_PENDING_BYTES`]).
    pub stream_dropped: AtomicU64,
    store_failing: AtomicBool,
    stream_failing: AtomicBool,
}

impl AuditStats {
    /// Whether Trent may serve a call now: nothing while the store fails,
    /// no mutation while the stream fails.
    pub fn accepts(&self, mutation: bool) -> bool {
        let refused = self.store_failing.load(Ordering::Relaxed)
            || (mutation && self.stream_failing.load(Ordering::Relaxed));
        !refused
    }

    pub fn store_failing(&self) -> bool {
        self.store_failing.load(Ordering::Relaxed)
    }

    pub fn stream_failing(&self) -> bool {
        self.stream_failing.load(Ordering::Relaxed)
    }

    /// The store answered the writer's probe after a failed write.
    pub(crate) fn store_reachable(&self) {
        self.store_failing.store(false, Ordering::Relaxed);
    }

    /// The writer's report on one batch.
    pub(crate) fn store_result(&self, events: usize, ok: bool) {
        if ok {
            self.events_written
                .fetch_add(events as u64, Ordering::Relaxed);
        } else {
            self.store_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.store_failing.store(!ok, Ordering::Relaxed);
    }

    pub(crate) fn stream_result(&self, ok: bool) {
        if !ok {
            self.stream_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.stream_failing.store(!ok, Ordering::Relaxed);
    }
}

/// After a committed batch: streams it, if there is a stream.
pub(crate) fn after_commit(sink: &mut Option<JsonLinesSink>, lines: &[String], stats: &AuditStats) {
    let Some(sink) = sink else {
        return;
    };
    match sink.write(lines, stats) {
        Ok(()) => stats.stream_result(true),
        Err(e) => {
            tracing::error!(
                error = %e,
                pending_bytes = sink.pending.len(),
                "audit stream write failed; mutations are refused until it works again"
            );
            stats.stream_result(false);
        }
    }
}
