use crate::{KEY_COLUMNS, backend, decode_change, decode_tags, encode_tags, parse_uuid, within};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::time::Duration;
use trent_core::trail::{AuditBlock, AuditDigest, AuditTail, Id, KeyUsage, Usage};
use trent_core::{
    AliasRecord, AuditStore, Change, ChangeStore, Credential, DueWork, EntityKind, GrantLimits,
    GrantRecord, IamEntity, IdentityStore, KeyRecord, KeyStore, Limit, RotationRecord,
    SealedMaterial, SessionRecord, StoreError, now_millis,
};
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Key-usage rows in one upsert (5 parameters each, well under SQLite's
/// limit of 32,766).
const USAGE_ROWS_PER_STATEMENT: usize = 500;

/// The embedded store: one SQLite database file.
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection with `synchronous=NORMAL`, for audit batches nobody
    /// waits for (crypto operations, reads): their commit is in the WAL,
    /// which survives the process being killed, without an fsync each;
    /// the next fsync (any `pool` commit or checkpoint) makes them durable
    /// against power loss too.
    audit_pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed, mode 0600) the database at `path` and
    /// applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        create_private_file(path).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Deleted rows (destroyed key material) are overwritten with zeros.
            .pragma("secure_delete", "ON")
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // No ping before each use: a connection to a local file does not go
        // stale, and the ping is a round trip to the connection's thread.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let audit_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await
            .map_err(backend)?;
        Ok(Self { pool, audit_pool })
    }
}

/// What a SQLite store holds beyond what the store traits enumerate, for
/// `trent store copy` (`copy.rs`).
pub(crate) struct Export {
    pub accounts: Vec<String>,
    /// Every access key: roots', users' and sessions'.
    pub credentials: Vec<Credential>,
    /// Deleted keys' ids and when they were deleted.
    pub tombstones: Vec<(String, i64)>,
    /// The server's named values but SQLite's own bookkeeping.
    pub meta: Vec<(String, Vec<u8>)>,
    pub usage: Vec<KeyUsage>,
    pub usage_through: i64,
}

impl SqliteStore {
    pub(crate) async fn export(&self) -> Result<Export, StoreError> {
        let accounts = sqlx::query_scalar("SELECT id FROM accounts ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let credentials = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials ORDER BY created_ms, access_key_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(credential_from_row)
        .collect();
        let tombstones = sqlx::query("SELECT id, deleted_ms FROM deleted_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(|r| (r.get("id"), r.get("deleted_ms")))
            .collect();
        let meta = sqlx::query(
            "SELECT name, value FROM meta WHERE name <> 'audit-accounts-indexed-from' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| (r.get("name"), r.get("value")))
        .collect();
        let mut usage = Vec::new();
        for r in
            sqlx::query("SELECT key_id, operation, time_ms, event_id, request_id FROM key_usage")
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?
        {
            let key_id: Vec<u8> = r.get("key_id");
            let key_id = Uuid::from_slice(&key_id).map_err(|_| {
                StoreError::Corrupt("key_usage: a key id of other than 16 bytes".into())
            })?;
            let operation: String = r.get("operation");
            let event_id = id_from_row(&r, "event_id")?
                .ok_or_else(|| StoreError::Corrupt(format!("key {key_id}: usage without event")))?;
            let last = Usage::new(
                &operation,
                r.get("time_ms"),
                event_id,
                id_from_row(&r, "request_id")?,
            )
            .ok_or_else(|| StoreError::Corrupt(format!("key {key_id}: usage of {operation}")))?;
            usage.push(KeyUsage { key_id, last });
        }
        let usage_through = self.audit_tail().await?.usage_through;
        Ok(Export {
            accounts,
            credentials,
            tombstones,
            meta,
            usage,
            usage_through,
        })
    }
}

/// Creates the database file with mode 0600 before SQLite does, so that it
/// is never readable by others (its WAL and SHM files inherit the mode).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether `target`'s aliases, with the one just written (this transaction
/// holds the write lock), are within `max`.
async fn aliases_within(
    tx: &mut sqlx::SqliteConnection,
    target: Uuid,
    max: u64,
) -> Result<(), StoreError> {
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM aliases WHERE target = ?")
        .bind(target.to_string())
        .fetch_one(tx)
        .await
        .map_err(backend)?;
    within(Limit::AliasesOfKey, held, max)
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(
        &self,
        key: &KeyRecord,
        material: &SealedMaterial,
        max_keys: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(&format!(
            "INSERT INTO keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(key.id.to_string())
        .bind(&key.account)
        .bind(&key.region)
        .bind(&key.arn)
        .bind(key.created_ms)
        .bind(&key.description)
        .bind(key.key_usage.as_str())
        .bind(key.key_spec.as_str())
        .bind(key.origin.as_str())
        .bind(key.state.as_str())
        .bind(key.deletion_date_ms)
        .bind(key.pending_window_days)
        .bind(&*key.policy)
        .bind(key.rotation_enabled)
        .bind(key.rotation_period_days)
        .bind(key.next_rotation_ms)
        .bind(i64::from(key.current_material))
        .bind(encode_tags(&key.tags))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO key_materials (key_id, version, sealed, created_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(key.id.to_string())
        .bind(i64::from(material.version))
        .bind(&material.sealed)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        // The insert holds SQLite's write lock to the commit: the count
        // (kept by a trigger) is exact. Over the limit: rolled back.
        let held: i64 =
            sqlx::query_scalar("SELECT n FROM key_counts WHERE account = ? AND region = ?")
                .bind(&key.account)
                .bind(&key.region)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        within(Limit::Keys, held, max_keys)?;
        tx.commit().await.map_err(backend)
    }

    async fn get_key(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn update_key(&self, key: &KeyRecord, previous: &KeyRecord) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE keys SET description = ?, state = ?, deletion_date_ms = ?, pending_window_days = ?, policy = ?, \
             rotation_enabled = ?, rotation_period_days = ?, next_rotation_ms = ?, current_material = ?, tags = ? \
             WHERE id = ? AND description = ? AND state = ? AND deletion_date_ms IS ? \
             AND pending_window_days IS ? AND policy = ? AND rotation_enabled = ? \
             AND rotation_period_days IS ? AND next_rotation_ms IS ? AND current_material = ? AND tags = ?",
        )
        .bind(&key.description)
        .bind(key.state.as_str())
        .bind(key.deletion_date_ms)
        .bind(key.pending_window_days)
        .bind(&*key.policy)
        .bind(key.rotation_enabled)
        .bind(key.rotation_period_days)
        .bind(key.next_rotation_ms)
        .bind(i64::from(key.current_material))
        .bind(encode_tags(&key.tags))
        .bind(key.id.to_string())
        .bind(&previous.description)
        .bind(previous.state.as_str())
        .bind(previous.deletion_date_ms)
        .bind(previous.pending_window_days)
        .bind(&*previous.policy)
        .bind(previous.rotation_enabled)
        .bind(previous.rotation_period_days)
        .bind(previous.next_rotation_ms)
        .bind(i64::from(previous.current_material))
        .bind(encode_tags(&previous.tags))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "key {} changed or went meanwhile",
                key.id
            )));
        }
        Ok(())
    }

    async fn list_keys(
        &self,
        account: &str,
        region: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, arn FROM keys WHERE account = ? AND region = ? \
             AND seq > COALESCE((SELECT seq FROM keys WHERE id = ?), 0) ORDER BY seq LIMIT ?",
        )
        .bind(account)
        .bind(region)
        .bind(after.map(|a| a.to_string()))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| Ok((parse_uuid(r.get::<&str, _>(0))?, r.get::<String, _>(1))))
            .collect()
    }

    async fn key_materials(&self, id: Uuid) -> Result<Vec<SealedMaterial>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, sealed FROM key_materials WHERE key_id = ? ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| SealedMaterial {
                version: r.get::<i64, _>(0) as u32,
                sealed: r.get::<Vec<u8>, _>(1),
            })
            .collect())
    }

    async fn count_keys(&self, account: &str, region: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT n FROM key_counts WHERE account = ? AND region = ?), 0)",
        )
        .bind(account)
        .bind(region)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(n as u64)
    }

    async fn load_keys(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(KeyRecord, Vec<SealedMaterial>, Vec<GrantRecord>)>, StoreError> {
        // One snapshot for the three reads, so a page is consistent.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let page = "SELECT id FROM keys WHERE seq > COALESCE((SELECT seq FROM keys WHERE id = ?1), 0) ORDER BY seq LIMIT ?2";
        let after = after.map(|a| a.to_string());
        let keys = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE id IN ({page}) ORDER BY seq"
        ))
        .bind(&after)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let materials = sqlx::query(&format!(
            "SELECT key_id, version, sealed FROM key_materials WHERE key_id IN ({page}) ORDER BY key_id, version"
        ))
        .bind(&after)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let grants = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE key_id IN ({page}) ORDER BY created_ms, grant_id"))
            .bind(&after)
            .bind(limit as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let mut by_key: std::collections::HashMap<Uuid, (Vec<SealedMaterial>, Vec<GrantRecord>)> =
            std::collections::HashMap::new();
        for row in &materials {
            let id = parse_uuid(row.get::<&str, _>(0))?;
            by_key.entry(id).or_default().0.push(SealedMaterial {
                version: row.get::<i64, _>(1) as u32,
                sealed: row.get::<Vec<u8>, _>(2),
            });
        }
        for row in &grants {
            let grant = grant_from_row(row)?;
            by_key.entry(grant.key_id).or_default().1.push(grant);
        }
        keys.iter()
            .map(|row| {
                let key = key_from_row(row)?;
                let (materials, grants) = by_key.remove(&key.id).unwrap_or_default();
                Ok((key, materials, grants))
            })
            .collect()
    }

    async fn rotate_key(
        &self,
        key: &KeyRecord,
        material: &SealedMaterial,
        rotation: &RotationRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO key_materials (key_id, version, sealed, created_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(key.id.to_string())
        .bind(i64::from(material.version))
        .bind(&material.sealed)
        .bind(rotation.rotated_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("INSERT INTO key_rotations (key_id, version, rotated_ms, on_demand) VALUES (?, ?, ?, ?)")
            .bind(key.id.to_string())
            .bind(i64::from(rotation.version))
            .bind(rotation.rotated_ms)
            .bind(rotation.on_demand)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("UPDATE keys SET current_material = ?, next_rotation_ms = ? WHERE id = ?")
            .bind(i64::from(key.current_material))
            .bind(key.next_rotation_ms)
            .bind(key.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn list_rotations(&self, id: Uuid) -> Result<Vec<RotationRecord>, StoreError> {
        let rows = sqlx::query("SELECT version, rotated_ms, on_demand FROM key_rotations WHERE key_id = ? ORDER BY version")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| RotationRecord {
                key_id: id,
                version: r.get::<i64, _>(0) as u32,
                rotated_ms: r.get(1),
                on_demand: r.get(2),
            })
            .collect())
    }

    async fn delete_key(&self, id: Uuid) -> Result<bool, StoreError> {
        let key = id.to_string();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // Overwrite the sealed material before removing it (secure_delete
        // zeroes the freed pages too), so nothing that could decrypt remains.
        sqlx::query("UPDATE key_materials SET sealed = zeroblob(length(sealed)) WHERE key_id = ?")
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for statement in [
            "DELETE FROM key_materials WHERE key_id = ?",
            "DELETE FROM aliases WHERE target = ?",
            "DELETE FROM grants WHERE key_id = ?",
            "DELETE FROM key_rotations WHERE key_id = ?",
        ] {
            sqlx::query(statement)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        // Last, and counted: of two processes deleting the key at once, one
        // finds it gone (PostgreSQL: the other's row locks held it back).
        let deleted = sqlx::query("DELETE FROM keys WHERE id = ?")
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            > 0;
        // Key usage is keyed by the id's 16 bytes.
        sqlx::query("DELETE FROM key_usage WHERE key_id = ?")
            .bind(id.as_bytes().as_slice())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT OR REPLACE INTO deleted_keys (id, deleted_ms) VALUES (?, ?)")
            .bind(&key)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        // Push the change out of the WAL so old page images go too.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(deleted)
    }

    async fn key_was_deleted(&self, id: Uuid) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM deleted_keys WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn due_work(&self, now_ms: i64) -> Result<Vec<DueWork>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, 1 FROM keys WHERE state = 'PendingDeletion' AND deletion_date_ms <= ?1 \
             UNION ALL \
             SELECT id, 0 FROM keys WHERE state = 'Enabled' AND rotation_enabled = 1 AND next_rotation_ms <= ?1",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let id = parse_uuid(r.get::<&str, _>(0))?;
                Ok(if r.get::<i64, _>(1) == 1 {
                    DueWork::Delete(id)
                } else {
                    DueWork::Rotate(id)
                })
            })
            .collect()
    }

    async fn meta_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        sqlx::query_scalar("SELECT value FROM meta WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn all_aliases(&self) -> Result<Vec<AliasRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT account, region, name, target, created_ms, updated_ms FROM aliases",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(alias_from_row).collect()
    }

    async fn get_alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<AliasRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT account, region, name, target, created_ms, updated_ms FROM aliases \
             WHERE account = ? AND region = ? AND name = ?",
        )
        .bind(account)
        .bind(region)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(alias_from_row).transpose()
    }

    async fn insert_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO aliases (account, region, name, target, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&alias.account)
            .bind(&alias.region)
            .bind(&alias.name)
            .bind(alias.target.to_string())
            .bind(alias.created_ms)
            .bind(alias.updated_ms)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        aliases_within(&mut tx, alias.target, max_per_key).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("UPDATE aliases SET target = ?, updated_ms = ? WHERE account = ? AND region = ? AND name = ?")
            .bind(alias.target.to_string())
            .bind(alias.updated_ms)
            .bind(&alias.account)
            .bind(&alias.region)
            .bind(&alias.name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        aliases_within(&mut tx, alias.target, max_per_key).await?;
        tx.commit().await.map_err(backend)
    }

    async fn delete_alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM aliases WHERE account = ? AND region = ? AND name = ?")
            .bind(account)
            .bind(region)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(backend)
            .map(drop)
    }

    async fn insert_grant(&self, g: &GrantRecord, limits: GrantLimits) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO grants (grant_id, key_id, name, grantee, retiring, operations, context_equals, context_subset, \
             issuing_account, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.grant_id)
        .bind(g.key_id.to_string())
        .bind(&g.name)
        .bind(&g.grantee)
        .bind(&g.retiring)
        .bind(serde_json::to_string(&g.operations).expect("strings serialize"))
        .bind(g.context_equals.as_ref().map(|c| serde_json::to_string(c).expect("map serializes")))
        .bind(g.context_subset.as_ref().map(|c| serde_json::to_string(c).expect("map serializes")))
        .bind(&g.issuing_account)
        .bind(g.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let (of_key, of_grantee): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE grantee = ?) FROM grants WHERE key_id = ?",
        )
        .bind(&g.grantee)
        .bind(g.key_id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        within(Limit::GrantsOfGrantee, of_grantee, limits.per_grantee)?;
        within(Limit::GrantsOfKey, of_key, limits.per_key)?;
        tx.commit().await.map_err(backend)
    }

    async fn list_grants(&self, key_id: Uuid) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE key_id = ? ORDER BY created_ms, grant_id"
        ))
        .bind(key_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn find_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE grant_id = ?"
        ))
        .bind(grant_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn list_retirable_grants(&self, principal: &str) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE retiring = ? ORDER BY created_ms, grant_id"
        ))
        .bind(principal)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn delete_grant(&self, key_id: Uuid, grant_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM grants WHERE key_id = ? AND grant_id = ?")
            .bind(key_id.to_string())
            .bind(grant_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        insert_credential(&mut conn, credential).await
    }

    async fn get_credential(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE access_key_id = ?"
        ))
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.as_ref().map(credential_from_row))
    }

    async fn list_credentials(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<Credential>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE account = ? AND user_name IS ? \
             AND session_token_sha256 IS NULL ORDER BY created_ms"
        ))
        .bind(account)
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(credential_from_row).collect())
    }

    async fn set_credential_active(
        &self,
        access_key_id: &str,
        active: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET active = ? WHERE access_key_id = ?")
            .bind(active)
            .bind(access_key_id)
            .execute(&self.pool)
            .await
            .map_err(backend)
            .map(drop)
    }

    async fn delete_credential(&self, access_key_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM credentials WHERE access_key_id = ?")
            .bind(access_key_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_account(
        &self,
        account: &str,
        root_key: Option<&Credential>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO accounts (id, created_ms) VALUES (?, ?)")
            .bind(account)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if let Some(credential) = root_key {
            insert_credential(&mut tx, credential).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn account_exists(&self, account: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = ?")
            .bind(account)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn insert_entity(&self, e: &IamEntity) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO iam_entities (account, kind, name, id, arn, path, created_ms, trust_policy, description, \
             max_session_duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.account)
        .bind(e.kind.as_str())
        .bind(&e.name)
        .bind(&e.id)
        .bind(&e.arn)
        .bind(&e.path)
        .bind(e.created_ms)
        .bind(&e.trust_policy)
        .bind(&e.description)
        .bind(e.max_session_duration)
        .execute(&self.pool)
        .await
        .map_err(backend)
        .map(drop)
    }

    async fn get_entity(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<Option<IamEntity>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ENTITY_COLUMNS} FROM iam_entities WHERE account = ? AND kind = ? AND name = ?"
        ))
        .bind(account)
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(entity_from_row).transpose()
    }

    async fn list_entities(
        &self,
        account: &str,
        kind: EntityKind,
    ) -> Result<Vec<IamEntity>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENTITY_COLUMNS} FROM iam_entities WHERE account = ? AND kind = ? ORDER BY name"
        ))
        .bind(account)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(entity_from_row).collect()
    }

    async fn delete_entity(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM iam_entities WHERE account = ? AND kind = ? AND name = ?")
                .bind(account)
                .bind(kind.as_str())
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_policy(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
        name: &str,
        document: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO iam_policies (account, owner_kind, owner, name, document) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (account, owner_kind, owner, name) DO UPDATE SET document = excluded.document",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .bind(document)
        .execute(&self.pool)
        .await
        .map_err(backend)
        .map(drop)
    }

    async fn list_policies(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, document FROM iam_policies WHERE account = ? AND owner_kind = ? AND owner = ? ORDER BY name",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn delete_policy(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM iam_policies WHERE account = ? AND owner_kind = ? AND owner = ? AND name = ?")
            .bind(account)
            .bind(kind.as_str())
            .bind(owner)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_group_member(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO iam_group_members (account, group_name, user_name) VALUES (?, ?, ?)",
        )
        .bind(account)
        .bind(group)
        .bind(user)
        .execute(&self.pool)
        .await
        .map_err(backend)
        .map(drop)
    }

    async fn remove_group_member(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM iam_group_members WHERE account = ? AND group_name = ? AND user_name = ?",
        )
        .bind(account)
        .bind(group)
        .bind(user)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn groups_of_user(&self, account: &str, user: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT group_name FROM iam_group_members WHERE account = ? AND user_name = ? ORDER BY group_name")
            .bind(account)
            .bind(user)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn members_of_group(
        &self,
        account: &str,
        group: &str,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT user_name FROM iam_group_members WHERE account = ? AND group_name = ? ORDER BY user_name")
            .bind(account)
            .bind(group)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }
}

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
fn id_from_row(row: &SqliteRow, column: &str) -> Result<Option<Id>, StoreError> {
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

fn alias_from_row(r: &SqliteRow) -> Result<AliasRecord, StoreError> {
    Ok(AliasRecord {
        account: r.get(0),
        region: r.get(1),
        name: r.get(2),
        target: parse_uuid(r.get::<&str, _>(3))?,
        created_ms: r.get(4),
        updated_ms: r.get(5),
    })
}

fn key_from_row(row: &SqliteRow) -> Result<KeyRecord, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    let text = |c: &str| row.try_get::<String, _>(c).map_err(corrupt);
    let int = |c: &str| row.try_get::<i64, _>(c).map_err(corrupt);
    let opt = |c: &str| row.try_get::<Option<i64>, _>(c).map_err(corrupt);
    Ok(KeyRecord {
        id: parse_uuid(&text("id")?)?,
        account: text("account")?,
        region: text("region")?,
        arn: text("arn")?,
        created_ms: int("created_ms")?,
        description: text("description")?,
        key_usage: text("key_usage")?.as_str().into(),
        key_spec: text("key_spec")?.as_str().into(),
        origin: text("origin")?.as_str().into(),
        state: text("state")?.as_str().into(),
        deletion_date_ms: opt("deletion_date_ms")?,
        pending_window_days: opt("pending_window_days")?.map(|d| d as i32),
        policy: text("policy")?.into(),
        rotation_enabled: row
            .try_get::<bool, _>("rotation_enabled")
            .map_err(corrupt)?,
        rotation_period_days: opt("rotation_period_days")?.map(|d| d as i32),
        next_rotation_ms: opt("next_rotation_ms")?,
        current_material: int("current_material")? as u32,
        tags: decode_tags(&text("tags")?)?,
    })
}

const CREDENTIAL_COLUMNS: &str = "access_key_id, account, principal_arn, sealed_secret, created_ms, user_name, active, \
     session_token_sha256, expires_ms, role_name, role_id, session_name";

fn credential_from_row(r: &SqliteRow) -> Credential {
    let token: Option<Vec<u8>> = r.get("session_token_sha256");
    Credential {
        access_key_id: r.get("access_key_id"),
        account: r.get("account"),
        principal_arn: r.get("principal_arn"),
        sealed_secret: r.get("sealed_secret"),
        created_ms: r.get("created_ms"),
        user_name: r.get("user_name"),
        active: r.get("active"),
        session: token.map(|token_sha256| SessionRecord {
            token_sha256,
            expires_ms: r.get::<Option<i64>, _>("expires_ms").unwrap_or(0),
            role_name: r.get::<Option<String>, _>("role_name").unwrap_or_default(),
            role_id: r.get::<Option<String>, _>("role_id").unwrap_or_default(),
            session_name: r
                .get::<Option<String>, _>("session_name")
                .unwrap_or_default(),
        }),
    }
}

const ENTITY_COLUMNS: &str = "account, kind, name, id, arn, path, created_ms, trust_policy, description, max_session_duration";

fn entity_from_row(r: &SqliteRow) -> Result<IamEntity, StoreError> {
    let kind: String = r.get("kind");
    Ok(IamEntity {
        account: r.get("account"),
        kind: EntityKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("entity kind {kind:?}")))?,
        name: r.get("name"),
        id: r.get("id"),
        arn: r.get("arn"),
        path: r.get("path"),
        created_ms: r.get("created_ms"),
        trust_policy: r.get("trust_policy"),
        description: r.get("description"),
        max_session_duration: r.get("max_session_duration"),
    })
}

const GRANT_COLUMNS: &str = "grant_id, key_id, name, grantee, retiring, operations, context_equals, context_subset, \
     issuing_account, created_ms";

fn grant_from_row(r: &SqliteRow) -> Result<GrantRecord, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("grant column: {e}"));
    let map = |c: Option<String>| {
        c.map(|s| serde_json::from_str(&s).map_err(corrupt))
            .transpose()
    };
    Ok(GrantRecord {
        grant_id: r.get("grant_id"),
        key_id: parse_uuid(r.get::<&str, _>("key_id"))?,
        name: r.get("name"),
        grantee: r.get("grantee"),
        retiring: r.get("retiring"),
        operations: serde_json::from_str(r.get::<&str, _>("operations")).map_err(corrupt)?,
        context_equals: map(r.get("context_equals"))?,
        context_subset: map(r.get("context_subset"))?,
        issuing_account: r.get("issuing_account"),
        created_ms: r.get("created_ms"),
    })
}

fn digest_from_row(r: &SqliteRow) -> AuditDigest {
    AuditDigest {
        seq: r.get("seq"),
        first_event_seq: r.get("first_event_seq"),
        last_event_seq: r.get("last_event_seq"),
        last_hash: r.get("last_hash"),
        created_ms: r.get("created_ms"),
        signature: r.get("signature"),
    }
}

/// Inserts a credential row (in whatever transaction `conn` is in).
async fn insert_credential(
    conn: &mut sqlx::SqliteConnection,
    credential: &Credential,
) -> Result<(), StoreError> {
    let session = credential.session.as_ref();
    sqlx::query(
        "INSERT INTO credentials (access_key_id, account, principal_arn, sealed_secret, created_ms, user_name, active, \
         session_token_sha256, expires_ms, role_name, role_id, session_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&credential.access_key_id)
    .bind(&credential.account)
    .bind(&credential.principal_arn)
    .bind(&credential.sealed_secret)
    .bind(credential.created_ms)
    .bind(&credential.user_name)
    .bind(credential.active)
    .bind(session.map(|s| s.token_sha256.clone()))
    .bind(session.map(|s| s.expires_ms))
    .bind(session.map(|s| s.role_name.clone()))
    .bind(session.map(|s| s.role_id.clone()))
    .bind(session.map(|s| s.session_name.clone()))
    .execute(&mut *conn)
    .await
    .map_err(backend)
    .map(drop)
}
