//! The process's file-descriptor limit, the connection cap it allows, and
//! what to do when `accept` fails.

use std::io;
use std::time::Duration;

/// Descriptors kept for everything but client connections: the store's
/// SQLite connections (database, WAL and shared-memory files each), the
/// audit stream, the listener, stdio, the runtime's own (epoll, eventfd),
/// certificate files being read.
pub(crate) const HEADROOM: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and answers the soft
/// limit now in force (`None`: unlimited or unknown).
pub(crate) fn raise_nofile_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::debug!(
                    from = limit.current,
                    to = limit.maximum,
                    "raised the open-file limit"
                );
                return limit.maximum;
            }
            Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
        }
    }
    limit.current
}

/// The connection cap: `wanted`, lowered so that connections and
/// [`HEADROOM`] fit under the open-file limit.
pub(crate) fn connection_cap(wanted: usize, nofile: Option<u64>) -> usize {
    let Some(nofile) = nofile else {
        return wanted.max(1);
    };
    let allowed = nofile.saturating_sub(HEADROOM).max(1);
    wanted
        .min(usize::try_from(allowed).unwrap_or(usize::MAX))
        .max(1)
}

/// Whether an `accept` error concerns only the connection being accepted
/// (the peer gave up, a firewall said no): accept the next one at once.
/// Anything else (out of descriptors, buffers or memory) would fail again
/// immediately: back off.
pub(crate) fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::PermissionDenied
    )
}

/// Back-off after an `accept` error that is not the connection's: 10 ms,
/// doubling to 1 s; reset by a successful accept.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next.unwrap_or(Self::FIRST);
        self.next = Some((delay * 2).min(Self::MAX));
        delay
    }

    pub(crate) fn reset(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_headroom_under_the_file_limit() {
        assert_eq!(connection_cap(4096, Some(1024)), 1024 - 256);
        assert_eq!(connection_cap(4096, Some(1_048_576)), 4096);
        assert_eq!(connection_cap(4096, None), 4096);
        assert_eq!(connection_cap(100, Some(20_000)), 100);
        // A limit below the headroom still serves someone.
        assert_eq!(connection_cap(4096, Some(100)), 1);
        assert_eq!(connection_cap(0, None), 1);
    }

    #[test]
    fn back_off_doubles_to_a_second_and_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..9).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(10));
    }

    #[test]
    fn out_of_descriptors_is_not_the_connection_s_fault() {
        let emfile = io::Error::from_raw_os_error(24);
        assert!(!is_connection_error(&emfile));
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert!(is_connection_error(&aborted));
    }

    #[test]
    fn raising_the_limit_answers_the_limit_in_force() {
        let limit = raise_nofile_limit();
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(limit, now.current);
    }
}
