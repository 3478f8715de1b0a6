//! [`AuditStore`] on SQLite: the trail's blocks and digests, key usage.

use super::*;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(
        &self,
        block: Option<AuditBlock>,
        digest: Option<&AuditDigest>,
        usage: &[KeyUsage],
        usage_through: Option<i64>,
        durable: bool,
    ) -> Result<(), StoreError> {
        let pool = if durable {
            &self.pool
        } else {
            &self.audit_pool
        };
        if digest.is_none() && usage.is_empty() && usage_through.is_none() {
            // The common batch: one statement, its own transaction, without
            // the BEGIN and COMMIT round trips to SQLite's thread.
            if let Some(b) = block {
                insert_block(pool, b).await?;
            }
            return Ok(());
        }
        let mut tx = pool.begin().await.map_err(backend)?;
        if let Some(b) = block {
            insert_block(&mut *tx, b).await?;
        }
        if let Some(d) = digest {
            sqlx::query(
                "INSERT INTO audit_digests (seq, first_event_seq, last_event_seq, last_hash, \
                 created_ms, signature) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(d.seq)
            .bind(d.first_event_seq)
            .bind(d.last_event_seq)
            .bind(&d.last_hash)
            .bind(d.created_ms)
            .bind(&d.signature)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        // Many rows per statement: a batch on 100,000 keys touches hundreds,
        // and each statement is a round trip to SQLite's thread.
        for rows in usage.chunks(USAGE_ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO key_usage (key_id, operation, time_ms, event_id, request_id) ",
            );
            insert.push_values(rows, |mut row, u| {
                row.push_bind(u.key_id.as_bytes().to_vec())
                    .push_bind(u.last.operation())
                    .push_bind(u.last.time_ms)
                    .push_bind(IdColumn(&u.last.event_id))
                    .push_bind(u.last.request_id.as_ref().map(IdColumn));
            });
            insert.push(
                " ON CONFLICT (key_id) DO UPDATE SET \
                 operation = excluded.operation, time_ms = excluded.time_ms, \
                 event_id = excluded.event_id, request_id = excluded.request_id \
                 WHERE key_usage.time_ms <= excluded.time_ms",
            );
            // Not kept prepared: a statement of hundreds of rows is large,
            // and the row count (so the text) varies from write to write.
            insert
                .build()
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        if let Some(seq) = usage_through {
            sqlx::query("INSERT OR REPLACE INTO key_usage_through (id, seq) VALUES (1, ?)")
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn audit_blocks_of_account(
        &self,
        account: &str,
        before_seq: i64,
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditBlock>, StoreError> {
        // Blocks from `audit-accounts-indexed-from` on are indexed by the
        // accounts they hold; older ones (from before migration 0009) may
        // hold any account's events.
        let indexed_from: i64 =
            sqlx::query_scalar("SELECT value FROM meta WHERE name = 'audit-accounts-indexed-from'")
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?
                .unwrap_or(0);
        if before_seq > indexed_from {
            let rows = sqlx::query(
                "SELECT b.first_seq, b.last_seq, b.first_time_ms, b.last_time_ms, b.encoding, \
                 b.events, b.hashes FROM audit_block_accounts a \
                 JOIN audit_blocks b ON b.first_seq = a.first_seq \
                 WHERE a.account = ? AND a.first_seq < ? AND a.first_seq >= ? \
                 AND b.last_time_ms >= ? AND b.first_time_ms <= ? \
                 ORDER BY a.first_seq DESC LIMIT ?",
            )
            .bind(account)
            .bind(before_seq)
            .bind(indexed_from)
            .bind(start_ms)
            .bind(end_ms)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
            if !rows.is_empty() || indexed_from == 0 {
                return Ok(rows.iter().map(block_from_row).collect());
            }
        }
        let rows = sqlx::query(
            "SELECT first_seq, last_seq, first_time_ms, last_time_ms, encoding, events, \
             hashes FROM audit_blocks WHERE first_seq < ? \
             AND last_time_ms >= ? AND first_time_ms <= ? \
             ORDER BY first_seq DESC LIMIT ?",
        )
        .bind(before_seq.min(indexed_from))
        .bind(start_ms)
        .bind(end_ms)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(block_from_row).collect())
    }

    async fn key_last_usage(&self, key_id: Uuid) -> Result<Option<Usage>, StoreError> {
        let row = sqlx::query(
            "SELECT operation, time_ms, event_id, request_id FROM key_usage WHERE key_id = ?",
        )
        .bind(key_id.as_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(r) = row else {
            return Ok(None);
        };
        let operation: String = r.get("operation");
        let usage = Usage::new(
            &operation,
            r.get("time_ms"),
            id_from_row(&r, "event_id")?
                .ok_or_else(|| StoreError::Corrupt(format!("key {key_id}: usage without event")))?,
            id_from_row(&r, "request_id")?,
        );
        usage
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("key {key_id}: usage of {operation}")))
    }

    async fn audit_blocks(
        &self,
        from_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditBlock>, StoreError> {
        let rows = sqlx::query(
            "SELECT first_seq, last_seq, first_time_ms, last_time_ms, encoding, events, hashes \
             FROM audit_blocks WHERE last_seq >= ? ORDER BY first_seq LIMIT ?",
        )
        .bind(from_seq)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(block_from_row).collect())
    }

    async fn audit_digests(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditDigest>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, first_event_seq, last_event_seq, last_hash, created_ms, signature \
             FROM audit_digests WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after_seq)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(digest_from_row).collect())
    }

    async fn audit_tail(&self) -> Result<AuditTail, StoreError> {
        let last_event = sqlx::query(
            "SELECT last_seq, substr(hashes, -32) AS hash FROM audit_blocks \
             ORDER BY first_seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(|r| (r.get("last_seq"), r.get("hash")));
        let last_digest = sqlx::query(
            "SELECT seq, first_event_seq, last_event_seq, last_hash, created_ms, signature \
             FROM audit_digests ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(digest_from_row);
        let usage_through = sqlx::query_scalar("SELECT seq FROM key_usage_through WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .unwrap_or(0);
        Ok(AuditTail {
            last_event,
            last_digest,
            usage_through,
        })
    }
}

/// Appends a batch's block: one row, whatever its size.
async fn insert_block<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Sqlite>,
    b: AuditBlock,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_blocks (first_seq, last_seq, first_time_ms, last_time_ms, \
         encoding, events, hashes, accounts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(b.first_seq)
    .bind(b.last_seq)
    .bind(b.first_time_ms)
    .bind(b.last_time_ms)
    .bind(b.encoding)
    .bind(b.events)
    .bind(b.hashes)
    .bind(serde_json::to_string(&b.accounts).expect("strings serialize"))
    .execute(db)
    .await
    .map_err(backend)?;
    Ok(())
}

/// An event or request id as stored: 16 bytes for a UUID, text otherwise.
struct IdColumn<'a>(&'a Id);

impl sqlx::Type<sqlx::Sqlite> for IdColumn<'_> {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <Vec<u8> as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for IdColumn<'_> {
    fn encode_by_ref(
        &self,
        buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self.0 {
            Id::Uuid(uuid) => {
                <Vec<u8> as sqlx::Encode<sqlx::Sqlite>>::encode(uuid.as_bytes().to_vec(), buf)
            }
            Id::Text(text) => <String as sqlx::Encode<sqlx::Sqlite>>::encode(text.to_string(), buf),
        }
    }
}

/// An id column ([`IdColumn`]) read back.
pub(super) fn id_from_row(row: &SqliteRow, column: &str) -> Result<Option<Id>, StoreError> {
    use sqlx::{TypeInfo, ValueRef};
    let value = row.try_get_raw(column).map_err(backend)?;
    if value.is_null() {
        return Ok(None);
    }
    if value.type_info().name() == "BLOB" {
        let bytes: Vec<u8> = row.get(column);
        let uuid = Uuid::from_slice(&bytes)
            .map_err(|_| StoreError::Corrupt(format!("{column} of {} bytes", bytes.len())))?;
        return Ok(Some(Id::Uuid(uuid)));
    }
    let text: String = row.get(column);
    Ok(Some(Id::parse(&text)))
}

/// The events of an `audit_blocks` row: (seq, JSON, chain hash). A block
/// whose parts disagree in count (tampered) yields what it has, with empty
/// hashes where they are missing, for verification to report.
fn block_from_row(row: &SqliteRow) -> AuditBlock {
    AuditBlock {
        first_seq: row.get("first_seq"),
        last_seq: row.get("last_seq"),
        first_time_ms: row.get("first_time_ms"),
        last_time_ms: row.get("last_time_ms"),
        encoding: row.get("encoding"),
        events: row.get("events"),
        hashes: row.get("hashes"),
        accounts: Vec::new(),
    }
}
