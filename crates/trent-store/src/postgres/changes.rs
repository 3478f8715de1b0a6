//! [`ChangeStore`] on PostgreSQL: the feed the triggers of migration 0002
//! write, and the LISTEN connection that wakes its reader.

use super::*;

/// The change feed: rows the triggers of migration 0002 append, their ids
/// visible in commit order (the migration says how).
#[async_trait]
impl ChangeStore for PgStore {
    async fn last_change(&self) -> Result<i64, StoreError> {
        // The newest committed row, not the sequence's last value (drawn by
        // a transaction that may not have committed yet).
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM changes")
            .fetch_one(&self.pool())
            .await
            .map_err(backend)
    }

    async fn changes_after(&self, after: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, subject, at_ms FROM changes WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                decode_change(
                    col(r, "id")?,
                    &col::<String>(r, "kind")?,
                    &col::<String>(r, "subject")?,
                    col(r, "at_ms")?,
                )
            })
            .collect()
    }

    async fn prune_changes(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM changes WHERE at_ms < $1")
            .bind(before_ms)
            .execute(&self.pool())
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    /// Waits for a notification on `trent_changes` (sent by every commit
    /// that feeds the feed, see migration 0002), on a LISTEN connection
    /// that the first call opens and later calls keep using. Notifications
    /// that arrive between calls wait in the connection: a change committed
    /// after a reader's last read and before its next wait ends that wait
    /// at once. Several pending ones end one wait together.
    ///
    /// Never an error: when the connection cannot be opened or fails, the
    /// call sleeps out its timeout and a later call opens a new one (a
    /// warning per streak of failures). A connection that was lost and
    /// made again ends the wait at once (notifications were lost with it).
    /// Concurrent calls take turns at the connection (a wait ended by a
    /// notification does not end the others).
    ///
    /// The connection belongs to the tokio runtime that made the first
    /// call (a socket waits for its I/O on the runtime that opened it, see
    /// [`PgStore`]'s pools); calls from any other runtime just sleep out
    /// their timeout. In Trent one task follows the feed, on one runtime.
    async fn wait_for_change(&self, timeout: Duration) -> Result<(), StoreError> {
        self.listener.wait(&self.options, timeout).await;
        Ok(())
    }

    /// Every runtime's pool together (the change listener's connection is
    /// not pooled).
    fn connections(&self) -> Option<Connections> {
        let pools = self.pools.read().unwrap_or_else(PoisonError::into_inner);
        Some(
            pools
                .iter()
                .fold(Connections::default(), |total, (_, pool)| Connections {
                    open: total.open + pool.size(),
                    idle: total.idle + pool.num_idle() as u32,
                    max: total.max + self.max_connections,
                }),
        )
    }
}

/// The channel the triggers notify (migration 0002).
const CHANGES_CHANNEL: &str = "trent_changes";

/// Pending notifications taken together by one wait, at most.
const DRAIN_NOTIFICATIONS: usize = 1024;

/// [`PgStore::wait_for_change`]'s LISTEN connection.
#[derive(Default)]
pub(crate) struct ChangeListener {
    /// The runtime of the first call: the only one that uses the
    /// connection.
    runtime: std::sync::OnceLock<tokio::runtime::Id>,
    state: tokio::sync::Mutex<Listening>,
}

#[derive(Default)]
struct Listening {
    /// A pool of one connection (sqlx's `PgListener` reconnects through
    /// it), made on the first call.
    pool: Option<PgPool>,
    connection: Link,
    /// Since the last failure, no connection has listened yet (the
    /// failure was logged).
    failing: bool,
}

#[derive(Default)]
enum Link {
    #[default]
    None,
    /// Connecting and sending LISTEN, in a task of its own (so that a call
    /// whose timeout ends first leaves it to finish for the next).
    Starting(tokio::task::JoinHandle<Result<PgListener, sqlx::Error>>),
    Listening(PgListener),
}

impl ChangeListener {
    pub(crate) async fn wait(&self, options: &PgConnectOptions, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if *self.runtime.get_or_init(|| runtime.id()) != runtime.id() {
            tokio::time::sleep_until(deadline).await;
            return;
        }
        let Ok(mut state) = tokio::time::timeout_at(deadline, self.state.lock()).await else {
            return;
        };
        let state = &mut *state;
        if let Link::None = state.connection {
            let pool = state
                .pool
                .get_or_insert_with(|| {
                    // As `PgListener::connect` makes its own: the connection
                    // stays for as long as it works.
                    PgPoolOptions::new()
                        .max_connections(1)
                        .max_lifetime(None)
                        .idle_timeout(None)
                        .acquire_timeout(CONNECT_TIMEOUT)
                        .connect_lazy_with(options.clone())
                })
                .clone();
            state.connection = Link::Starting(tokio::spawn(async move {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(CHANGES_CHANNEL).await?;
                Ok(listener)
            }));
        }
        if let Link::Starting(started) = &mut state.connection {
            let Ok(started) = tokio::time::timeout_at(deadline, started).await else {
                return;
            };
            match started {
                Ok(Ok(listener)) => {
                    if state.failing {
                        tracing::info!("listening for PostgreSQL change notifications again");
                        state.failing = false;
                    }
                    state.connection = Link::Listening(listener);
                }
                Ok(Err(e)) => return state.failed(&e, deadline).await,
                Err(e) => return state.failed(&e, deadline).await,
            }
        }
        let Link::Listening(listener) = &mut state.connection else {
            return;
        };
        // `try_recv` is cancel-safe: a message half read stays buffered.
        match tokio::time::timeout_at(deadline, listener.try_recv()).await {
            // The timeout: nothing notified.
            Err(_) => {}
            Ok(Ok(Some(_))) => {
                // Those already received end this wait too, not the next
                // ones (a burst of commits is one wake-up).
                for _ in 0..DRAIN_NOTIFICATIONS {
                    match tokio::time::timeout(Duration::ZERO, listener.try_recv()).await {
                        Ok(Ok(Some(_))) => {}
                        _ => break,
                    }
                }
            }
            // The connection was lost and made again: what was notified
            // meanwhile is lost, so the caller should look.
            Ok(Ok(None)) => {}
            Ok(Err(e)) => state.failed(&e, deadline).await,
        }
    }
}

impl Listening {
    /// Drops the connection (the next call makes another) and sleeps out
    /// the timeout.
    async fn failed(&mut self, error: &(dyn Display + Sync), deadline: tokio::time::Instant) {
        if !self.failing {
            tracing::warn!(
                error = %error,
                "listening for PostgreSQL change notifications failed: the change feed is polled until it works again"
            );
            self.failing = true;
        }
        self.connection = Link::None;
        tokio::time::sleep_until(deadline).await;
    }
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        // sqlx's listener sends UNLISTEN from a task it spawns when dropped,
        // which panics outside a runtime: there, the connection is left to
        // close with the process.
        if tokio::runtime::Handle::try_current().is_err()
            && let Link::Listening(listener) = std::mem::take(&mut self.state.get_mut().connection)
        {
            std::mem::forget(listener);
        }
    }
}
