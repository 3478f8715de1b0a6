//! The open connections: each one's phase (handshake, idle, reading a
//! head, serving a request) and since when, and which one gives way when a
//! new connection arrives at the cap.
//!
//! A connection's phase and its start share one atomic word, so the
//! registry's eviction (another task) and the connection's own transitions
//! race only through compare-and-swap: a connection is never closed once
//! its request has begun.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::Notify;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    /// TLS handshake in progress (from accept).
    Handshake = 1,
    /// No request in progress and no byte of the next one yet.
    Idle = 2,
    /// Bytes of a request head arrived; the head is not complete.
    Head = 3,
    /// A request is being served, from its complete head to the end of its
    /// response.
    Active = 4,
    /// Chosen for eviction: the connection's task closes it.
    Evicted = 5,
}

impl Phase {
    fn from_bits(bits: u64) -> Phase {
        match bits {
            1 => Phase::Handshake,
            2 => Phase::Idle,
            3 => Phase::Head,
            4 => Phase::Active,
            _ => Phase::Evicted,
        }
    }

    /// May be closed to make room for a new connection.
    pub(crate) fn evictable(self) -> bool {
        matches!(self, Phase::Handshake | Phase::Idle | Phase::Head)
    }
}

/// Milliseconds since the transport's clock origin (the first call).
pub(crate) fn now_ms() -> u64 {
    origin().elapsed().as_millis() as u64
}

/// The instant `now_ms()` counts from.
pub(crate) fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

const SINCE_MASK: u64 = (1 << 56) - 1;
/// No watchdog timer armed.
pub(crate) const UNARMED: u64 = u64::MAX;

/// One connection's shared state: written by its own task (IO wrapper,
/// service, watchdog) and read, or evicted, by the registry.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// `phase << 56 | since_ms`.
    word: AtomicU64,
    /// The deadline (ms) the watchdog's timer is set for, or [`UNARMED`].
    /// A phase change whose deadline comes sooner wakes the watchdog; one
    /// whose deadline comes later waits for the armed timer to fire.
    pub(crate) armed: AtomicU64,
    /// Wakes the watchdog: an earlier deadline, eviction, shutdown.
    pub(crate) wake: Notify,
}

impl ConnState {
    pub(crate) fn new(phase: Phase, now: u64) -> ConnState {
        ConnState {
            word: AtomicU64::new(pack(phase, now)),
            armed: AtomicU64::new(UNARMED),
            wake: Notify::new(),
        }
    }

    /// The phase and the time (ms) it began.
    pub(crate) fn load(&self) -> (Phase, u64) {
        unpack(self.word.load(Ordering::Acquire))
    }

    /// Moves from one of `from` to `to`, stamped `now`; false (and no
    /// change) when the phase is none of `from`.
    pub(crate) fn transition(&self, from: &[Phase], to: Phase, now: u64) -> bool {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            if !from.contains(&unpack(current).0) {
                return false;
            }
            match self.word.compare_exchange_weak(
                current,
                pack(to, now),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Wakes the watchdog if a phase whose deadline is `deadline` needs
    /// it sooner than its timer.
    pub(crate) fn wake_for(&self, deadline: u64) {
        if deadline < self.armed.load(Ordering::Relaxed) {
            self.wake.notify_one();
        }
    }

    /// Evicts the connection if it is still exactly as observed
    /// (`phase`, `since`), which must be evictable.
    fn evict(&self, observed: u64) -> bool {
        debug_assert!(unpack(observed).0.evictable());
        let evicted = self
            .word
            .compare_exchange(
                observed,
                pack(Phase::Evicted, unpack(observed).1),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if evicted {
            self.wake.notify_one();
        }
        evicted
    }
}

fn pack(phase: Phase, since: u64) -> u64 {
    (phase as u64) << 56 | (since & SINCE_MASK)
}

fn unpack(word: u64) -> (Phase, u64) {
    (Phase::from_bits(word >> 56), word & SINCE_MASK)
}

/// What [`Registry::admit`] decided about a new connection.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Serve it; `evicted` says whether another connection was closed to
    /// make room.
    Admitted {
        id: u64,
        state: Arc<ConnState>,
        evicted: bool,
    },
    /// At the cap with every connection serving a request: close it.
    Refused,
}

/// The open connections, at most `cap` of them.
#[derive(Debug)]
pub(crate) struct Registry {
    cap: usize,
    conns: Mutex<Conns>,
    shutting_down: AtomicBool,
}

#[derive(Debug, Default)]
struct Conns {
    by_id: HashMap<u64, Arc<ConnState>>,
    next_id: u64,
}

impl Registry {
    pub(crate) fn new(cap: usize) -> Registry {
        Registry {
            cap: cap.max(1),
            conns: Mutex::new(Conns::default()),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Registers a new connection starting in `phase` at `now`. At the cap,
    /// first evicts the connection that has been idle, handshaking or
    /// reading a head the longest; refuses when every one is serving a
    /// request.
    pub(crate) fn admit(&self, phase: Phase, now: u64) -> Admission {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let mut evicted = false;
        if conns.by_id.len() >= self.cap {
            match evict_oldest(&mut conns.by_id) {
                Some(id) => {
                    conns.by_id.remove(&id);
                    evicted = true;
                }
                None => return Admission::Refused,
            }
        }
        let id = conns.next_id;
        conns.next_id += 1;
        let state = Arc::new(ConnState::new(phase, now));
        conns.by_id.insert(id, state.clone());
        Admission::Admitted { id, state, evicted }
    }

    /// Forgets a closed connection (a no-op for an evicted one).
    pub(crate) fn remove(&self, id: u64) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.by_id.remove(&id);
    }

    /// Open connections (evicted ones no longer count).
    pub(crate) fn len(&self) -> usize {
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .len()
    }

    /// Tells every connection's watchdog that the server is shutting down.
    pub(crate) fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
        let conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        for state in conns.by_id.values() {
            state.wake.notify_one();
        }
    }

    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// Evicts the evictable connection with the oldest phase start; `None` when
/// none is evictable. A connection that changes phase between the scan and
/// the eviction is skipped and the scan repeated.
fn evict_oldest(conns: &mut HashMap<u64, Arc<ConnState>>) -> Option<u64> {
    // Each failed attempt means a connection moved on meanwhile; a few
    // attempts are plenty, and refusing is always safe.
    for _ in 0..8 {
        let (id, state, observed) = conns
            .iter()
            .filter_map(|(id, state)| {
                let word = state.word.load(Ordering::Acquire);
                unpack(word).0.evictable().then_some((*id, state, word))
            })
            .min_by_key(|(_, _, word)| unpack(*word).1)?;
        if state.evict(observed) {
            return Some(id);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(admission: Admission) -> (u64, Arc<ConnState>, bool) {
        match admission {
            Admission::Admitted { id, state, evicted } => (id, state, evicted),
            Admission::Refused => panic!("refused"),
        }
    }

    #[test]
    fn phase_and_start_round_trip() {
        for phase in [
            Phase::Handshake,
            Phase::Idle,
            Phase::Head,
            Phase::Active,
            Phase::Evicted,
        ] {
            let state = ConnState::new(phase, 123_456_789);
            assert_eq!(state.load(), (phase, 123_456_789));
        }
    }

    #[test]
    fn transitions_only_from_the_named_phases() {
        let state = ConnState::new(Phase::Idle, 1);
        assert!(!state.transition(&[Phase::Head], Phase::Active, 2));
        assert_eq!(state.load(), (Phase::Idle, 1));
        assert!(state.transition(&[Phase::Idle], Phase::Head, 3));
        assert!(state.transition(&[Phase::Idle, Phase::Head], Phase::Active, 4));
        assert_eq!(state.load(), (Phase::Active, 4));
    }

    #[test]
    fn under_the_cap_nothing_is_evicted() {
        let registry = Registry::new(3);
        for now in 0..3 {
            let (_, _, evicted) = admitted(registry.admit(Phase::Idle, now));
            assert!(!evicted);
        }
        assert_eq!(registry.len(), 3);
    }

    #[test]
    fn at_the_cap_the_longest_idle_or_reading_gives_way() {
        let registry = Registry::new(3);
        let (_, a, _) = admitted(registry.admit(Phase::Idle, 10));
        let (_, b, _) = admitted(registry.admit(Phase::Idle, 20));
        let (_, c, _) = admitted(registry.admit(Phase::Idle, 30));
        // a serves a request; b started a head at 25, c idles since 5.
        assert!(a.transition(&[Phase::Idle], Phase::Active, 40));
        assert!(b.transition(&[Phase::Idle], Phase::Head, 25));
        assert!(c.transition(&[Phase::Idle], Phase::Idle, 5));

        let (_, _, evicted) = admitted(registry.admit(Phase::Idle, 50));
        assert!(evicted);
        assert_eq!(c.load().0, Phase::Evicted, "idle since 5: the oldest");
        assert_eq!(registry.len(), 3);

        let (_, _, evicted) = admitted(registry.admit(Phase::Idle, 60));
        assert!(evicted);
        assert_eq!(b.load().0, Phase::Evicted, "reading a head since 25");
        assert_eq!(a.load().0, Phase::Active, "never the one serving");
    }

    #[test]
    fn a_request_in_progress_is_never_evicted_and_the_newcomer_is_refused() {
        let registry = Registry::new(2);
        let (_, a, _) = admitted(registry.admit(Phase::Idle, 1));
        let (_, b, _) = admitted(registry.admit(Phase::Handshake, 2));
        assert!(a.transition(&[Phase::Idle], Phase::Active, 3));
        assert!(b.transition(&[Phase::Handshake], Phase::Idle, 4));
        assert!(b.transition(&[Phase::Idle], Phase::Active, 5));
        assert!(matches!(registry.admit(Phase::Idle, 6), Admission::Refused));
        assert_eq!(registry.len(), 2);
        // A finished request makes its connection evictable again.
        assert!(b.transition(&[Phase::Active], Phase::Idle, 7));
        let (_, _, evicted) = admitted(registry.admit(Phase::Idle, 8));
        assert!(evicted);
        assert_eq!(b.load().0, Phase::Evicted);
        assert_eq!(a.load().0, Phase::Active);
    }

    #[test]
    fn an_evicted_connection_cannot_start_a_request() {
        let registry = Registry::new(1);
        let (_, a, _) = admitted(registry.admit(Phase::Head, 1));
        admitted(registry.admit(Phase::Idle, 2));
        assert!(!a.transition(&[Phase::Idle, Phase::Head], Phase::Active, 3));
        assert_eq!(a.load().0, Phase::Evicted);
    }

    #[test]
    fn a_connection_that_moved_on_since_the_scan_is_not_evicted() {
        let state = ConnState::new(Phase::Idle, 1);
        let observed = state.word.load(Ordering::Acquire);
        assert!(state.transition(&[Phase::Idle], Phase::Active, 2));
        assert!(!state.evict(observed));
        assert_eq!(state.load(), (Phase::Active, 2));
    }

    #[test]
    fn removing_frees_a_place_and_removing_twice_is_harmless() {
        let registry = Registry::new(1);
        let (id, _, _) = admitted(registry.admit(Phase::Idle, 1));
        registry.remove(id);
        registry.remove(id);
        let (_, _, evicted) = admitted(registry.admit(Phase::Idle, 2));
        assert!(!evicted);
    }

    #[test]
    fn shutting_down_wakes_every_watchdog() {
        let registry = Registry::new(4);
        let (_, a, _) = admitted(registry.admit(Phase::Idle, 1));
        let (_, b, _) = admitted(registry.admit(Phase::Active, 1));
        registry.shut_down();
        assert!(registry.shutting_down());
        // A stored permit: the next `notified()` completes at once.
        for state in [a, b] {
            let notified = state.wake.notified();
            futures_util::FutureExt::now_or_never(notified).expect("woken");
        }
    }

    #[test]
    fn a_later_deadline_does_not_wake_the_watchdog() {
        let state = ConnState::new(Phase::Idle, 0);
        state.armed.store(1_000, Ordering::Relaxed);
        state.wake_for(2_000);
        assert!(futures_util::FutureExt::now_or_never(state.wake.notified()).is_none());
        state.wake_for(500);
        assert!(futures_util::FutureExt::now_or_never(state.wake.notified()).is_some());
    }
}
