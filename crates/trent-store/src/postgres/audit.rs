//! [`AuditStore`] on PostgreSQL: the trail's blocks and digests, key usage.

use super::*;

/// The columns of an `audit_blocks` row, as [`block_from_row`] reads them.
const BLOCK_COLUMNS: &str =
    "first_seq, last_seq, first_time_ms, last_time_ms, encoding, events, hashes";

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(
        &self,
        block: Option<AuditBlock>,
        digest: Option<&AuditDigest>,
        usage: &[KeyUsage],
        usage_through: Option<i64>,
        durable: bool,
    ) -> Result<(), StoreError> {
        if digest.is_none() && usage.is_empty() && usage_through.is_none() {
            let Some(b) = &block else { return Ok(()) };
            if durable {
                // The common batch a mutation waits for: one statement
                // (block and account index together), its own transaction.
                return insert_block(&self.pool(), b).await;
            }
        }
        let mut tx = if durable {
            self.pool().begin().await
        } else {
            // Nobody waits for these events (crypto operations, reads): the
            // commit returns without waiting for its WAL flush, which the
            // WAL writer does soon after (at most three `wal_writer_delay`s,
            // 600 ms by default).
            // The batch survives Trent being killed (it is committed in
            // PostgreSQL) and is lost only if PostgreSQL itself crashes in
            // that window: the promise of SQLite's `synchronous=NORMAL`
            // path. The setting lasts for this transaction only.
            self.pool()
                .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
                .await
        }
        .map_err(backend)?;
        if let Some(b) = &block {
            insert_block(&mut *tx, b).await?;
        }
        if let Some(d) = digest {
            sqlx::query(
                "INSERT INTO audit_digests (seq, first_event_seq, last_event_seq, last_hash, \
                 created_ms, signature) VALUES ($1, $2, $3, $4, $5, $6)",
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
        // One row per key: PostgreSQL refuses a statement that upserts a
        // row twice, where SQLite lets the later one win, as here.
        let mut last = HashMap::with_capacity(usage.len());
        for (i, u) in usage.iter().enumerate() {
            last.insert(u.key_id, i);
        }
        let rows: Vec<&KeyUsage> = usage
            .iter()
            .enumerate()
            .filter(|(i, u)| last[&u.key_id] == *i)
            .map(|(_, u)| u)
            .collect();
        // Many rows per statement: a batch on 100,000 keys touches hundreds,
        // and each statement is a round trip.
        for rows in rows.chunks(USAGE_ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::<Postgres>::new(
                "INSERT INTO key_usage (key_id, operation, time_ms, event_uuid, event_text, \
                 request_uuid, request_text) ",
            );
            insert.push_values(rows, |mut row, u| {
                let (event_uuid, event_text) = id_columns(Some(&u.last.event_id));
                let (request_uuid, request_text) = id_columns(u.last.request_id.as_ref());
                row.push_bind(u.key_id.as_bytes().to_vec())
                    .push_bind(u.last.operation())
                    .push_bind(u.last.time_ms)
                    .push_bind(event_uuid)
                    .push_bind(event_text)
                    .push_bind(request_uuid)
                    .push_bind(request_text);
            });
            insert.push(
                " ON CONFLICT (key_id) DO UPDATE SET \
                 operation = EXCLUDED.operation, time_ms = EXCLUDED.time_ms, \
                 event_uuid = EXCLUDED.event_uuid, event_text = EXCLUDED.event_text, \
                 request_uuid = EXCLUDED.request_uuid, request_text = EXCLUDED.request_text \
                 WHERE key_usage.time_ms <= EXCLUDED.time_ms",
            );
            // Not kept prepared: the row count (so the text) varies.
            insert
                .build()
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        if let Some(seq) = usage_through {
            sqlx::query(
                "INSERT INTO key_usage_through (id, seq) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq",
            )
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn audit_blocks(
        &self,
        from_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditBlock>, StoreError> {
        // The blocks with last_seq >= from_seq are those starting at or
        // after it (by the primary key, from `from_seq` on) and those
        // spanning it (by `audit_blocks_span`): no scan of the blocks
        // before, wherever the read starts.
        let rows = sqlx::query(&format!(
            "SELECT {BLOCK_COLUMNS} FROM ( \
               (SELECT {BLOCK_COLUMNS} FROM audit_blocks WHERE first_seq >= $1 AND last_seq >= $1 \
                ORDER BY first_seq LIMIT $2) \
               UNION ALL \
               (SELECT {BLOCK_COLUMNS} FROM audit_blocks \
                WHERE int8range(first_seq, GREATEST(first_seq, last_seq), '[]') @> $1::BIGINT \
                AND first_seq < $1 AND last_seq >= $1) \
             ) AS b ORDER BY first_seq LIMIT $2"
        ))
        .bind(from_seq)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(block_from_row).collect()
    }

    async fn audit_blocks_of_account(
        &self,
        account: &str,
        before_seq: i64,
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditBlock>, StoreError> {
        // Every block is in the account index (there are none from before
        // it on PostgreSQL). The account's index rows newest first, each
        // block fetched by its key: `OFFSET 0` keeps the planner from
        // turning the lateral lookup into a merge join, which scans the
        // blocks of every account back to the ones of a rare account.
        let rows = sqlx::query(&format!(
            "SELECT b.first_seq, b.last_seq, b.first_time_ms, b.last_time_ms, b.encoding, b.events, \
             b.hashes FROM audit_block_accounts a CROSS JOIN LATERAL ( \
               SELECT {BLOCK_COLUMNS} FROM audit_blocks \
               WHERE first_seq = a.first_seq AND last_time_ms >= $3 AND first_time_ms <= $4 \
               OFFSET 0) AS b \
             WHERE a.account = $1 AND a.first_seq < $2 \
             ORDER BY a.first_seq DESC LIMIT $5"
        ))
        .bind(account)
        .bind(before_seq)
        .bind(start_ms)
        .bind(end_ms)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(block_from_row).collect()
    }

    async fn key_last_usage(&self, key_id: Uuid) -> Result<Option<Usage>, StoreError> {
        let row = sqlx::query(
            "SELECT operation, time_ms, event_uuid, event_text, request_uuid, request_text \
             FROM key_usage WHERE key_id = $1",
        )
        .bind(key_id.as_bytes().as_slice())
        .fetch_optional(&self.pool())
        .await
        .map_err(backend)?;
        let Some(r) = row else {
            return Ok(None);
        };
        let operation: String = col(&r, "operation")?;
        let usage = Usage::new(
            &operation,
            col(&r, "time_ms")?,
            id_from_row(&r, "event")?
                .ok_or_else(|| StoreError::Corrupt(format!("key {key_id}: usage without event")))?,
            id_from_row(&r, "request")?,
        );
        usage
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("key {key_id}: usage of {operation}")))
    }

    async fn audit_digests(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditDigest>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, first_event_seq, last_event_seq, last_hash, created_ms, signature \
             FROM audit_digests WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(digest_from_row).collect()
    }

    async fn audit_tail(&self) -> Result<AuditTail, StoreError> {
        // One snapshot for the three reads.
        let mut tx = self
            .pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(backend)?;
        // The last 32 bytes of `hashes` (all of it if shorter, as SQLite's
        // substr(hashes, -32)).
        let last_event = sqlx::query(
            "SELECT last_seq, substring(hashes FROM GREATEST(octet_length(hashes) - 31, 1)) AS hash \
             FROM audit_blocks ORDER BY first_seq DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .map(|r| Ok::<_, StoreError>((col(&r, "last_seq")?, col(&r, "hash")?)))
        .transpose()?;
        let last_digest = sqlx::query(
            "SELECT seq, first_event_seq, last_event_seq, last_hash, created_ms, signature \
             FROM audit_digests ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .as_ref()
        .map(digest_from_row)
        .transpose()?;
        let usage_through = sqlx::query_scalar("SELECT seq FROM key_usage_through WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?
            .unwrap_or(0);
        tx.commit().await.map_err(backend)?;
        Ok(AuditTail {
            last_event,
            last_digest,
            usage_through,
        })
    }
}

/// Appends a batch's block and files it under its accounts, in one
/// statement (so one transaction even outside an explicit one).
async fn insert_block<'c>(
    db: impl sqlx::Executor<'c, Database = Postgres>,
    b: &AuditBlock,
) -> Result<(), StoreError> {
    sqlx::query(
        "WITH block AS ( \
           INSERT INTO audit_blocks (first_seq, last_seq, first_time_ms, last_time_ms, encoding, \
           events, hashes) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING first_seq) \
         INSERT INTO audit_block_accounts (account, first_seq) \
         SELECT DISTINCT a.account, block.first_seq FROM block, unnest($8::TEXT[]) AS a (account) \
         ON CONFLICT DO NOTHING",
    )
    .bind(b.first_seq)
    .bind(b.last_seq)
    .bind(b.first_time_ms)
    .bind(b.last_time_ms)
    .bind(b.encoding)
    .bind(&b.events)
    .bind(&b.hashes)
    .bind(&b.accounts)
    .execute(db)
    .await
    .map_err(backend)?;
    Ok(())
}

/// An event or request id as stored: (16 bytes, NULL) for a UUID, (NULL,
/// text) otherwise, (NULL, NULL) for none.
fn id_columns(id: Option<&Id>) -> (Option<Vec<u8>>, Option<&str>) {
    match id {
        Some(Id::Uuid(uuid)) => (Some(uuid.as_bytes().to_vec()), None),
        Some(Id::Text(text)) => (None, Some(text)),
        None => (None, None),
    }
}

/// An id stored by [`id_columns`] in `{prefix}_uuid` and `{prefix}_text`.
fn id_from_row(row: &PgRow, prefix: &str) -> Result<Option<Id>, StoreError> {
    let bytes: Option<Vec<u8>> = col(row, &format!("{prefix}_uuid"))?;
    let text: Option<String> = col(row, &format!("{prefix}_text"))?;
    match (bytes, text) {
        (None, None) => Ok(None),
        (Some(bytes), None) => Uuid::from_slice(&bytes)
            .map(|uuid| Some(Id::Uuid(uuid)))
            .map_err(|_| StoreError::Corrupt(format!("{prefix} id of {} bytes", bytes.len()))),
        (None, Some(text)) => Ok(Some(Id::parse(&text))),
        (Some(_), Some(_)) => Err(StoreError::Corrupt(format!(
            "{prefix} id both as bytes and as text"
        ))),
    }
}

fn block_from_row(row: &PgRow) -> Result<AuditBlock, StoreError> {
    Ok(AuditBlock {
        first_seq: col(row, "first_seq")?,
        last_seq: col(row, "last_seq")?,
        first_time_ms: col(row, "first_time_ms")?,
        last_time_ms: col(row, "last_time_ms")?,
        encoding: col(row, "encoding")?,
        events: col(row, "events")?,
        hashes: col(row, "hashes")?,
        accounts: Vec::new(),
    })
}
