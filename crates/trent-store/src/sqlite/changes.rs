//! [`ChangeStore`] on SQLite: the feed the triggers of migration 0010
//! write.

use super::*;

/// The change feed: rows the triggers of migration 0010 append. Ids grow
/// in commit order because SQLite has one writer at a time.
#[async_trait]
impl ChangeStore for SqliteStore {
    async fn last_change(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM changes")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn changes_after(&self, after: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, subject, at_ms FROM changes WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let corrupt = |e: sqlx::Error| StoreError::Corrupt(format!("changes row: {e}"));
                decode_change(
                    r.try_get("id").map_err(corrupt)?,
                    r.try_get("kind").map_err(corrupt)?,
                    r.try_get("subject").map_err(corrupt)?,
                    r.try_get("at_ms").map_err(corrupt)?,
                )
            })
            .collect()
    }

    async fn prune_changes(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM changes WHERE at_ms < ?")
            .bind(before_ms)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    // `wait_for_change`: the trait's, a sleep (SQLite has no notifications).
}
