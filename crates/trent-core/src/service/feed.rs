//! Several nodes on one store: following its change feed
//! ([`ChangeStore`]), so that what another node changed leaves this node's
//! caches (keys, aliases, identities) within a second; and a node that
//! cannot confirm that stops answering from them.
//!
//! [`ChangeFeed::run`] asks the store for the changes after the last one
//! it applied whenever the store says something may have changed
//! (PostgreSQL's NOTIFY) and every [`POLL`] at the latest, and applies
//! them: a key leaves the cache (the next use reads it again), an alias is
//! read again, the identity cache is emptied. A poll that succeeds
//! confirms the caches current as of that poll. When none has succeeded
//! for [`FRESH_FOR`] (the database is unreachable, or slow), the caches
//! are not confirmed any more: with [`Freshness::enforced`], requests that
//! would answer from them fail with a retryable error
//! (`DependencyTimeoutException`) and `/health` says not ready, until a
//! poll succeeds again; then every cache is emptied first (changes may
//! have been pruned meanwhile), and serving resumes.

use super::Kms;
use crate::error::KmsError;
use crate::model::now_millis;
use crate::stats::Histogram;
use crate::store::{Change, Changed, Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, timeout};

/// The longest wait between two polls of the feed.
pub const POLL: Duration = Duration::from_millis(200);
/// How long the caches count as current after a successful poll.
pub const FRESH_FOR: Duration = Duration::from_millis(900);
/// Changes read at once.
const PAGE: usize = 1000;
/// How long a change stays in the feed; a node that lost track for longer
/// empties its caches anyway (see the module's text).
const KEEP_CHANGES: Duration = Duration::from_secs(3600);
/// How often a node prunes the feed.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Whether this node's caches are confirmed current.
#[derive(Debug)]
pub struct Freshness {
    /// Several nodes share the store: answering from unconfirmed caches
    /// could answer stale.
    enforced: bool,
    fresh: AtomicBool,
}

impl Freshness {
    /// For a store this node alone changes (SQLite): its caches follow its
    /// own writes, and they are always current.
    pub fn not_enforced() -> Arc<Self> {
        Arc::new(Self {
            enforced: false,
            fresh: AtomicBool::new(true),
        })
    }

    /// For a store several nodes share: current as of startup, then as of
    /// the feed's last successful poll.
    pub fn enforced() -> Arc<Self> {
        Arc::new(Self {
            enforced: true,
            fresh: AtomicBool::new(true),
        })
    }

    /// One atomic load: on the hot path.
    pub fn is_fresh(&self) -> bool {
        !self.enforced || self.fresh.load(Ordering::Acquire)
    }

    /// Fails when the caches may be stale.
    pub(crate) fn check(&self) -> Result<(), KmsError> {
        if self.is_fresh() {
            Ok(())
        } else {
            Err(KmsError::Unavailable(
                "this node cannot confirm its caches are current: the change feed is not being read"
                    .into(),
            ))
        }
    }
}

/// What `/metrics` shows of the feed.
#[derive(Debug, Default)]
pub struct FeedStats {
    pub polls: AtomicU64,
    /// Reads started by the store's notification (PostgreSQL's NOTIFY)
    /// rather than by the poll period.
    pub notified: AtomicU64,
    pub failed_polls: AtomicU64,
    pub changes: AtomicU64,
    /// From a change's commit (the database's clock) to its application
    /// here.
    pub lag: Histogram,
    /// Times the caches stopped being confirmed current.
    pub stale_spells: AtomicU64,
}

/// A node's reader of the store's change feed.
pub struct ChangeFeed {
    store: Arc<dyn Store>,
    /// The last change applied (or, at start, the newest one before the
    /// caches were loaded).
    last: i64,
    freshness: Arc<Freshness>,
    stats: Arc<FeedStats>,
}

impl ChangeFeed {
    /// Starts where the feed is now: to be called before the caches are
    /// loaded, so that nothing committed between is missed.
    pub async fn start(
        store: Arc<dyn Store>,
        freshness: Arc<Freshness>,
    ) -> Result<Self, StoreError> {
        let last = store.last_change().await?;
        Ok(Self {
            store,
            last,
            freshness,
            stats: Arc::default(),
        })
    }

    pub fn stats(&self) -> Arc<FeedStats> {
        self.stats.clone()
    }

    /// Follows the feed for as long as the server runs.
    pub async fn run(mut self, kms: &Kms) {
        let mut confirmed = Instant::now();
        let mut pruned = Instant::now();
        let mut lost = false;
        loop {
            // Every store call is bounded: a database that hangs must not
            // keep this loop from noticing that the caches went stale.
            let waited = Instant::now();
            let _ = timeout(POLL, self.store.wait_for_change(POLL)).await;
            if waited.elapsed() < POLL {
                self.stats.notified.fetch_add(1, Ordering::Relaxed);
            }
            match timeout(FRESH_FOR, self.poll(kms, lost)).await {
                Ok(Ok(())) => {
                    lost = false;
                    confirmed = Instant::now();
                    self.freshness.fresh.store(true, Ordering::Release);
                }
                Ok(Err(e)) => {
                    self.stats.failed_polls.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "reading the change feed failed");
                }
                Err(_) => {
                    self.stats.failed_polls.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("reading the change feed took too long");
                }
            }
            if confirmed.elapsed() >= FRESH_FOR && !lost {
                lost = true;
                self.stats.stale_spells.fetch_add(1, Ordering::Relaxed);
                if self.freshness.enforced {
                    tracing::error!(
                        "caches not confirmed current for {} ms: refusing to answer from them until the store answers",
                        FRESH_FOR.as_millis()
                    );
                    self.freshness.fresh.store(false, Ordering::Release);
                }
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                let before = now_millis() - KEEP_CHANGES.as_millis() as i64;
                if let Ok(Err(e)) = timeout(FRESH_FOR, self.store.prune_changes(before)).await {
                    tracing::warn!(error = %e, "pruning the change feed failed");
                }
            }
        }
    }

    /// Reads and applies every change after the last one applied. After a
    /// spell without confirmation (`lost`), empties every cache first.
    async fn poll(&mut self, kms: &Kms, lost: bool) -> Result<(), KmsError> {
        self.stats.polls.fetch_add(1, Ordering::Relaxed);
        if lost {
            // The newest change first: what follows it is applied below, and
            // what came before is in no cache once they are emptied.
            let newest = self.store.last_change().await?;
            kms.forget_cached().await?;
            self.last = newest;
            tracing::info!("change feed read again: caches emptied, serving resumes");
        }
        loop {
            let changes = self.store.changes_after(self.last, PAGE).await?;
            let full = changes.len() == PAGE;
            for change in changes {
                kms.apply_change(&change.changed).await?;
                self.applied(&change);
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn applied(&mut self, change: &Change) {
        self.last = change.id;
        self.stats.changes.fetch_add(1, Ordering::Relaxed);
        let lag_ms = (now_millis() - change.at_ms).max(0) as u64;
        self.stats.lag.observe(Duration::from_millis(lag_ms));
    }
}

impl Kms {
    /// Requires the caches to be confirmed current (several nodes).
    pub fn set_freshness(&mut self, freshness: Arc<Freshness>) {
        self.freshness = freshness;
    }

    /// Forgets what a change (by this node or another) made stale.
    pub async fn apply_change(&self, changed: &Changed) -> Result<(), KmsError> {
        match changed {
            Changed::Key(id) => {
                // Under the key's lock: a load that began before the change
                // committed finishes first, and is then checked. A copy
                // that already holds the change (this node made it, or
                // read it since) stays: forgetting it would cost every
                // change a reload on the node that made it.
                let _guard = self.key_lock(id).lock().await;
                let Some(cached) = self.keys.pin().get(id).cloned() else {
                    return Ok(());
                };
                let current = match self.store.get_key(*id).await? {
                    Some(stored) if stored == cached.record => {
                        *self.store.list_grants(*id).await? == *cached.grants
                    }
                    _ => false,
                };
                if !current {
                    self.keys.pin().remove(id);
                }
            }
            Changed::Alias {
                account,
                region,
                name,
            } => {
                let _guard = self.alias_lock.lock().await;
                let key = (account.clone(), region.clone(), name.clone());
                match self.store.get_alias(account, region, name).await? {
                    Some(alias) => {
                        self.aliases.pin().insert(key, alias);
                    }
                    None => {
                        self.aliases.pin().remove(&key);
                    }
                }
            }
            Changed::Identity { .. } => self.identities.forget_cached(),
        }
        Ok(())
    }

    /// Empties every cache: keys (read again on use), aliases (read again
    /// now), identities.
    pub async fn forget_cached(&self) -> Result<(), KmsError> {
        let mut guards = Vec::with_capacity(self.key_locks.len());
        for lock in &self.key_locks {
            guards.push(lock.lock().await);
        }
        self.keys.pin().clear();
        self.warm.store(false, Ordering::Release);
        drop(guards);
        self.reload_aliases().await?;
        self.identities.forget_cached();
        Ok(())
    }
}
