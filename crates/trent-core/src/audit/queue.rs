//! The in-memory queue between requests and the audit writer.
//!
//! Sharded by thread: a request appends its event to its own thread's
//! shard under an uncontended lock on a cache line of its own, instead of
//! every request on every core taking turns on a channel's shared atomics
//! (with `tokio::sync::mpsc` that handoff cost more than encoding the
//! event). The writer wakes once per window, not per event: a push
//! notifies it only when it makes a shard non-empty or when its caller
//! waits for the commit.

use super::{AuditEvent, Done};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::{Notify, oneshot};

/// A queued event.
pub(super) struct Item {
    pub(super) event: AuditEvent,
    /// Where to say the event is committed, for a caller that waits.
    pub(super) done: Option<Done>,
    /// When it was queued: the writer's order across shards.
    queued: Instant,
}

/// The queue is closed: the writer has stopped or is stopping.
#[derive(Debug)]
pub(super) struct Closed;

/// What [`Queue::try_push`] did.
pub(super) enum Pushed {
    Queued,
    Closed,
    /// This thread's shard is full: the event and its waiter, back (boxed:
    /// the rare case keeps the common answer small).
    Full(Box<(AuditEvent, Option<Done>)>),
}

/// Shards: more than the threads that push at once on the machines Trent
/// targets; a shared shard only costs a little contention.
const SHARDS: usize = 8;

/// A shard, alone on its cache lines.
#[repr(align(128))]
struct Shard(Mutex<Vec<Item>>);

pub(super) struct Queue {
    shards: [Shard; SHARDS],
    /// Events at most per shard before pushers wait for the writer.
    shard_capacity: usize,
    /// Something was queued into an empty shard (or the queue closes).
    pub(super) work: Notify,
    /// Someone waits for a commit: the writer ends its window at once.
    pub(super) urgent: Notify,
    /// The writer made room.
    space: Notify,
    closed: AtomicBool,
    /// Set by `close`: answered once everything queued is written.
    closing: Mutex<Option<oneshot::Sender<()>>>,
}

/// This thread's shard, chosen once per thread.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    INDEX.with(|i| *i)
}

impl Queue {
    /// A queue holding at most about `capacity` events.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| Shard(Mutex::new(Vec::new()))),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
            work: Notify::new(),
            urgent: Notify::new(),
            space: Notify::new(),
            closed: AtomicBool::new(false),
            closing: Mutex::new(None),
        }
    }

    fn lock(shard: &Shard) -> MutexGuard<'_, Vec<Item>> {
        // A panic while holding the lock cannot leave a Vec half-pushed.
        shard.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an event; waits while this thread's shard is full. `Err`:
    /// the queue is closed (the event is dropped).
    pub(super) async fn push(&self, event: AuditEvent, done: Option<Done>) -> Result<(), Closed> {
        let mut pending = match self.try_push(event, done) {
            Pushed::Queued => return Ok(()),
            Pushed::Closed => return Err(Closed),
            Pushed::Full(pending) => pending,
        };
        loop {
            // Full: wait for the writer to make room. Registered before
            // looking again, so a drain in between is not missed.
            let space = self.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            let shard = &self.shards[shard_index()];
            if Self::lock(shard).len() >= self.shard_capacity && !self.is_closed() {
                space.await;
            }
            let (event, done) = *pending;
            pending = match self.try_push(event, done) {
                Pushed::Queued => return Ok(()),
                Pushed::Closed => return Err(Closed),
                Pushed::Full(pending) => pending,
            };
        }
    }

    /// Queues the event at once unless the queue is closed or this
    /// thread's shard is full (the common case needs no future state).
    pub(super) fn try_push(&self, event: AuditEvent, done: Option<Done>) -> Pushed {
        if self.is_closed() {
            return Pushed::Closed;
        }
        let mut events = Self::lock(&self.shards[shard_index()]);
        if events.len() >= self.shard_capacity {
            return Pushed::Full(Box::new((event, done)));
        }
        let urgent = done.is_some();
        let first = events.is_empty();
        // Stamped under the lock: a shard's stamps never decrease.
        events.push(Item {
            event,
            done,
            queued: Instant::now(),
        });
        drop(events);
        if first {
            self.work.notify_one();
        }
        if urgent {
            self.urgent.notify_one();
        }
        Pushed::Queued
    }

    /// Moves up to `max` queued items into `out` (empty), in the order
    /// they were queued. Shards and `out` keep their capacity: no
    /// allocation per window once warm.
    pub(super) fn drain(&self, out: &mut Vec<Item>, max: usize) {
        debug_assert!(out.is_empty());
        for shard in &self.shards {
            if out.len() >= max {
                break;
            }
            let mut events = Self::lock(shard);
            let take = events.len().min(max - out.len());
            out.extend(events.drain(..take));
        }
        if !out.is_empty() {
            self.space.notify_waiters();
        }
        // Shards hold runs in order; a call that began after another's
        // answer was queued after it, whatever the threads.
        out.sort_by_key(|item| item.queued);
    }

    /// Whether anything is queued.
    pub(super) fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| Self::lock(s).is_empty())
    }

    /// Events queued.
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| Self::lock(s).len()).sum()
    }

    /// No more pushes; the writer writes what is queued and stops,
    /// answering `done` (if given) when it has.
    pub(super) fn close(&self, done: Option<oneshot::Sender<()>>) {
        *self.closing.lock().unwrap_or_else(|e| e.into_inner()) = done;
        self.closed.store(true, Ordering::Release);
        self.space.notify_waiters();
        self.work.notify_one();
        self.urgent.notify_one();
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The sender `close` left, once.
    pub(super) fn take_closing(&self) -> Option<oneshot::Sender<()>> {
        self.closing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn event(n: i64) -> AuditEvent {
        AuditEvent {
            time_ms: n,
            ..crate::audit::tests::event(1)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pushes_from_many_threads_are_drained_once_and_a_full_queue_waits() {
        let queue = Arc::new(Queue::new(SHARDS * 4));
        let mut tasks = Vec::new();
        for t in 0..4 {
            let queue = queue.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..10 {
                    queue.push(event(t * 100 + n), None).await.unwrap();
                }
            }));
        }
        // 40 pushes into 32 places: someone waits until the drain below.
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while seen.len() < 40 {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of 40 events drained",
                seen.len()
            );
            tokio::time::timeout(std::time::Duration::from_secs(5), queue.work.notified())
                .await
                .ok();
            let mut batch = Vec::new();
            queue.drain(&mut batch, 7);
            seen.extend(batch.into_iter().map(|i| i.event.time_ms));
        }
        for t in tasks {
            t.await.unwrap();
        }
        seen.sort();
        let expected: Vec<i64> = (0..4)
            .flat_map(|t| (0..10).map(move |n| t * 100 + n))
            .collect();
        assert_eq!(seen, expected);
        assert!(queue.is_empty());
        queue.close(None);
        assert!(queue.push(event(0), None).await.is_err());
    }
}
