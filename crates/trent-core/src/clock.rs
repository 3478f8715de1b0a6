//! Time for the key lifecycle (creation dates, rotation and deletion dates).
//!
//! Production uses [`SystemClock`]. [`AdjustableClock`] adds an offset that
//! tests move forward to make rotations and deletions fall due without
//! sleeping; the server exposes it only behind `trent serve
//! --unsafe-test-clock`. SigV4 always checks signatures against real time.

use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync + 'static {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::now_millis()
    }
}

/// Real time plus an offset that only grows.
#[derive(Default)]
pub struct AdjustableClock {
    offset_ms: AtomicI64,
}

impl AdjustableClock {
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
    }
}

impl Clock for AdjustableClock {
    fn now_ms(&self) -> i64 {
        crate::now_millis() + self.offset_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustable_clock_moves_forward_only() {
        let clock = AdjustableClock::default();
        let before = clock.now_ms();
        clock.advance(86_400_000);
        assert!(clock.now_ms() >= before + 86_400_000);
        clock.advance(-5);
        assert!(clock.now_ms() >= before + 86_400_000);
    }
}
