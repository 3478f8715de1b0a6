//! [`PgStore`]: the store on PostgreSQL, for several Trent nodes sharing one
//! database. The same rows as [`crate::SqliteStore`] (schema in
//! `migrations/postgres/`), the same answers: the store suite runs on both.
//!
//! Each method is one transaction, durable when it returns `Ok` (PostgreSQL's
//! default `synchronous_commit = on`: the commit's WAL record is flushed
//! before the commit returns). Uniqueness is the database's: an insert
//! another node got in first fails on a constraint, answered
//! [`StoreError::Conflict`].

use crate::{KEY_COLUMNS, backend, decode_change, decode_tags, encode_tags, parse_uuid, within};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, PgPool, Postgres, Row};
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;
use trent_core::trail::{AuditBlock, AuditDigest, AuditTail, Id, KeyUsage, Usage};
use trent_core::{
    AliasRecord, AuditStore, Change, ChangeStore, Connections, Credential, DueWork, EntityKind,
    GrantLimits, GrantRecord, IamEntity, IdentityStore, KeyRecord, KeyStore, Limit, RotationRecord,
    SealedMaterial, SessionRecord, StoreError, now_millis,
};
use uuid::Uuid;

/// Applied at every open. sqlx's PostgreSQL migrator holds a session-level
/// `pg_advisory_lock` (keyed by the database's name) while it checks and
/// applies migrations (`sqlx-postgres` 0.8.6, `src/migrate.rs`, `lock` and
/// `unlock`, called by `Migrator::run_direct` in `sqlx-core`): nodes that
/// start together apply them one at a time, and the later ones find them
/// applied.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long `open` waits for its first connection, and a call for a
/// connection of the pool.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Key-usage rows in one upsert: 7 parameters each, 35,000 in all, under
/// PostgreSQL's limit of 65,535 a statement.
const USAGE_ROWS_PER_STATEMENT: usize = 5_000;

/// The store on a PostgreSQL database.
pub struct PgStore {
    options: PgConnectOptions,
    max_connections: u32,
    /// A pool per tokio runtime that calls the store. A connection's socket
    /// belongs to the runtime it was opened on: used from another, it waits
    /// on that runtime's thread for its I/O, and fails once that runtime
    /// has shut down. Trent calls the store from two: the request workers'
    /// and the audit writer's (a thread and runtime of its own). A pool
    /// opens connections as they are needed, at most `max_connections`;
    /// the pool of a runtime that has ended stays (unused) until the store
    /// is dropped.
    pools: RwLock<Vec<(tokio::runtime::Id, PgPool)>>,
    /// The pool made by `open`, for a call from outside any runtime (which
    /// sqlx refuses anyway).
    first: PgPool,
    /// `wait_for_change`'s LISTEN connection, made on its first call.
    listener: ChangeListener,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host
    /// [:port]/database[?sslmode=verify-full&sslrootcert=...]`), with pools
    /// of at most `max_connections` each (one per tokio runtime that calls
    /// the store: in Trent, two), and applies pending migrations. The
    /// tables are in the first schema of the role's `search_path` (by
    /// default one named after the role if it exists, else `public`, where
    /// PostgreSQL 15 and later let only the database's owner create
    /// tables); `options[search_path]=NAME` in the URL picks another.
    ///
    /// TLS as the URL's `sslmode` says (sqlx's default is `prefer`: TLS if
    /// the server offers it, unverified): `require` encrypts without
    /// checking the server's certificate, `verify-ca` and `verify-full`
    /// check it against the Mozilla roots built in and the `sslrootcert`
    /// file, `verify-full` its host name too.
    ///
    /// A failure names the server (`PostgreSQL at HOST:PORT/DB: reason`),
    /// never the password. A server that refuses the connection fails the
    /// open at once (no retry: the caller, or its supervisor, decides).
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect(url, None, max_connections).await
    }

    /// As [`PgStore::open`], with every connection's `search_path` set to
    /// `schema` (created if absent): tests each use a schema of their own in
    /// one database. `schema` is a plain lower-case identifier (`a-z`,
    /// `0-9`, `_`, not starting with a digit, at most 63 bytes).
    pub async fn open_in_schema(
        url: &str,
        schema: &str,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        Self::connect(url, Some(schema), max_connections).await
    }

    async fn connect(
        url: &str,
        schema: Option<&str>,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        // sqlx's parse errors name the part that is wrong, not the URL.
        let mut options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("PostgreSQL URL: {e}").into()))?;
        let place = describe(&options);
        let fail = |e: &dyn Display| StoreError::Backend(format!("{place}: {e}").into());
        if let Some(schema) = schema {
            if !plain_identifier(schema) {
                return Err(fail(&format_args!(
                    "schema {schema:?} is not a plain lower-case identifier"
                )));
            }
            // Sent at connection start-up (`-c search_path=...`): every
            // connection, the pool's and the migrator's, is in it.
            options = options.options([("search_path", schema)]);
        }

        // One connection of its own first: its error is the reason (the
        // pool retries refused connections until its timeout and then
        // reports only the timeout), and the migrator's session ends with
        // it, which releases the advisory lock even if a migration failed
        // (sqlx unlocks only after success).
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(fail(&e)),
            Err(_) => {
                return Err(fail(&format_args!(
                    "no connection within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
        let prepared = prepare(&mut conn, schema).await;
        let _ = conn.close().await;
        prepared.map_err(|e| fail(&e))?;

        let max_connections = max_connections.max(1);
        let pool = pool_options(max_connections)
            .connect_with(options.clone())
            .await
            .map_err(|e| fail(&e))?;
        Ok(Self {
            options,
            max_connections,
            pools: RwLock::new(vec![(tokio::runtime::Handle::current().id(), pool.clone())]),
            first: pool,
            listener: ChangeListener::default(),
        })
    }

    /// The pool of the runtime this is called on (made on its first call).
    fn pool(&self) -> PgPool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.first.clone();
        };
        let id = runtime.id();
        let find = |pools: &[(tokio::runtime::Id, PgPool)]| {
            pools
                .iter()
                .find(|(runtime, _)| *runtime == id)
                .map(|(_, pool)| pool.clone())
        };
        if let Some(pool) = find(&self.pools.read().unwrap_or_else(PoisonError::into_inner)) {
            return pool;
        }
        let mut pools = self.pools.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = find(&pools) {
            return pool;
        }
        // Its maintenance (idle connections closed) runs on this runtime.
        let pool = pool_options(self.max_connections).connect_lazy_with(self.options.clone());
        pools.push((id, pool.clone()));
        pool
    }
}

impl PgStore {
    /// Whether the database holds anything of Trent's (an account, a key, an
    /// event or a server secret): `trent store copy` writes only into an
    /// empty one unless told.
    pub(crate) async fn is_empty(&self) -> Result<bool, StoreError> {
        let used: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM keys) \
             OR EXISTS (SELECT 1 FROM audit_blocks) OR EXISTS (SELECT 1 FROM meta)",
        )
        .fetch_one(&self.pool())
        .await
        .map_err(backend)?;
        Ok(!used)
    }

    /// Deleted keys' tombstones, as another store kept them.
    pub(crate) async fn import_tombstones(&self, rows: &[(String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        for (id, deleted_ms) in rows {
            sqlx::query(
                "INSERT INTO deleted_keys (id, deleted_ms) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET deleted_ms = EXCLUDED.deleted_ms",
            )
            .bind(id)
            .bind(deleted_ms)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(CONNECT_TIMEOUT)
}

/// Creates the schema (if given and absent) and applies the migrations.
async fn prepare(conn: &mut PgConnection, schema: Option<&str>) -> Result<(), String> {
    if let Some(schema) = schema {
        // Two opens creating one schema at once: `IF NOT EXISTS` alone can
        // still fail on the catalog's unique index, so one at a time (a
        // transaction-scoped lock in a key space of Trent's own).
        let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('trent-schema'), hashtext($1))")
            .bind(schema)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    MIGRATOR
        .run(&mut *conn)
        .await
        .map_err(|e| format!("migrations: {e}"))?;
    // Durable on `Ok` takes the server's flush at commit. Trent does not
    // override `synchronous_commit` (an operator's `remote_apply` is
    // stronger than `on`), but says so when the server gives less.
    let (synchronous_commit, fsync): (String, String) =
        sqlx::query_as("SELECT current_setting('synchronous_commit'), current_setting('fsync')")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
    if synchronous_commit == "off" || fsync == "off" {
        tracing::warn!(
            synchronous_commit,
            fsync,
            "PostgreSQL does not flush commits: a change Trent acknowledged can be lost if the database server crashes"
        );
    }
    Ok(())
}

/// `PostgreSQL at HOST:PORT/DB` (or the socket's path): where, never who
/// with which password.
fn describe(options: &PgConnectOptions) -> String {
    let database = options
        .get_database()
        .unwrap_or_else(|| options.get_username());
    match options.get_socket() {
        Some(socket) => format!("PostgreSQL at {}/{database}", socket.display()),
        None => format!(
            "PostgreSQL at {}:{}/{database}",
            options.get_host(),
            options.get_port()
        ),
    }
}

fn plain_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && name.len() <= 63
}

fn corrupt(e: sqlx::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A column, a decoding failure as [`StoreError::Corrupt`].
fn col<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(corrupt)
}

/// A BIGINT column holding a `u32` (material versions).
fn u32_col(row: &PgRow, column: &str) -> Result<u32, StoreError> {
    let value: i64 = col(row, column)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value}")))
}

/// A nullable BIGINT column holding an `i32` (days, seconds).
fn i32_col(row: &PgRow, column: &str) -> Result<Option<i32>, StoreError> {
    let value: Option<i64> = col(row, column)?;
    value
        .map(|v| i32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{column} = {v}"))))
        .transpose()
}

/// A row count as SQL's LIMIT takes it.
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Locks a key's row for the rest of the transaction, so that inserts
/// counted against the key's quotas (aliases, grants) from several nodes
/// queue: each counts, under READ COMMITTED, what the ones before it
/// committed. (A key that is gone: nothing to lock; the insert's foreign
/// key refuses it.)
async fn lock_key(tx: &mut PgConnection, key: Uuid) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 FROM keys WHERE id = $1 FOR NO KEY UPDATE")
        .bind(key.to_string())
        .fetch_optional(tx)
        .await
        .map_err(backend)
        .map(drop)
}

/// Whether `target`'s aliases, with the one just written, are within `max`
/// (the target's row is locked: see [`lock_key`]).
async fn aliases_within(tx: &mut PgConnection, target: Uuid, max: u64) -> Result<(), StoreError> {
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM aliases WHERE target = $1")
        .bind(target.to_string())
        .fetch_one(tx)
        .await
        .map_err(backend)?;
    within(Limit::AliasesOfKey, held, max)
}

#[async_trait]
impl KeyStore for PgStore {
    async fn insert_key(
        &self,
        key: &KeyRecord,
        material: &SealedMaterial,
        max_keys: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        sqlx::query(&format!(
            "INSERT INTO keys ({KEY_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
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
        .bind(key.pending_window_days.map(i64::from))
        .bind(&*key.policy)
        .bind(key.rotation_enabled)
        .bind(key.rotation_period_days.map(i64::from))
        .bind(key.next_rotation_ms)
        .bind(i64::from(key.current_material))
        .bind(encode_tags(&key.tags))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO key_materials (key_id, version, sealed, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(key.id.to_string())
        .bind(i64::from(material.version))
        .bind(&material.sealed)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        // The insert's trigger (migration 0003) counted the key under the
        // scope's row lock, held to the commit: another node's insert into
        // the scope waits for it, then counts this key too.
        let held: i64 =
            sqlx::query_scalar("SELECT n FROM key_counts WHERE account = $1 AND region = $2")
                .bind(&key.account)
                .bind(&key.region)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        within(Limit::Keys, held, max_keys)?;
        tx.commit().await.map_err(backend)
    }

    async fn get_key(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool())
            .await
            .map_err(backend)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn update_key(&self, key: &KeyRecord, previous: &KeyRecord) -> Result<(), StoreError> {
        // Written only over the row as the caller read it (a compare and
        // set under the row's lock): another writer's change in between
        // leaves no row to update.
        let done = sqlx::query(
            "UPDATE keys SET description = $1, state = $2, deletion_date_ms = $3, pending_window_days = $4, \
             policy = $5, rotation_enabled = $6, rotation_period_days = $7, next_rotation_ms = $8, \
             current_material = $9, tags = $10 WHERE id = $11 \
             AND description = $12 AND state = $13 AND deletion_date_ms IS NOT DISTINCT FROM $14 \
             AND pending_window_days IS NOT DISTINCT FROM $15 AND policy = $16 AND rotation_enabled = $17 \
             AND rotation_period_days IS NOT DISTINCT FROM $18 AND next_rotation_ms IS NOT DISTINCT FROM $19 \
             AND current_material = $20 AND tags = $21",
        )
        .bind(&key.description)
        .bind(key.state.as_str())
        .bind(key.deletion_date_ms)
        .bind(key.pending_window_days.map(i64::from))
        .bind(&*key.policy)
        .bind(key.rotation_enabled)
        .bind(key.rotation_period_days.map(i64::from))
        .bind(key.next_rotation_ms)
        .bind(i64::from(key.current_material))
        .bind(encode_tags(&key.tags))
        .bind(key.id.to_string())
        .bind(&previous.description)
        .bind(previous.state.as_str())
        .bind(previous.deletion_date_ms)
        .bind(previous.pending_window_days.map(i64::from))
        .bind(&*previous.policy)
        .bind(previous.rotation_enabled)
        .bind(previous.rotation_period_days.map(i64::from))
        .bind(previous.next_rotation_ms)
        .bind(i64::from(previous.current_material))
        .bind(encode_tags(&previous.tags))
        .execute(&self.pool())
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
            "SELECT id, arn FROM keys WHERE account = $1 AND region = $2 \
             AND seq > COALESCE((SELECT seq FROM keys WHERE id = $3), 0) ORDER BY seq LIMIT $4",
        )
        .bind(account)
        .bind(region)
        .bind(after.map(|a| a.to_string()))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| Ok((parse_uuid(&col::<String>(r, "id")?)?, col(r, "arn")?)))
            .collect()
    }

    async fn key_materials(&self, id: Uuid) -> Result<Vec<SealedMaterial>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, sealed FROM key_materials WHERE key_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(material_from_row).collect()
    }

    async fn count_keys(&self, account: &str, region: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT n FROM key_counts WHERE account = $1 AND region = $2), 0)",
        )
        .bind(account)
        .bind(region)
        .fetch_one(&self.pool())
        .await
        .map_err(backend)?;
        Ok(n.unsigned_abs())
    }

    async fn load_keys(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(KeyRecord, Vec<SealedMaterial>, Vec<GrantRecord>)>, StoreError> {
        // One snapshot for the three reads, so a page is consistent: under
        // READ COMMITTED (PostgreSQL's default) each statement would see
        // the commits made since the one before.
        let mut tx = self
            .pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(backend)?;
        let page = "SELECT id FROM keys WHERE seq > COALESCE((SELECT seq FROM keys WHERE id = $1), 0) \
                    ORDER BY seq LIMIT $2";
        let after = after.map(|a| a.to_string());
        let limit = sql_limit(limit);
        let keys = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE id IN ({page}) ORDER BY seq"
        ))
        .bind(&after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let materials = sqlx::query(&format!(
            "SELECT key_id, version, sealed FROM key_materials WHERE key_id IN ({page}) \
             ORDER BY key_id, version"
        ))
        .bind(&after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let grants = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE key_id IN ({page}) ORDER BY created_ms, grant_id"
        ))
        .bind(&after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let mut by_key: HashMap<Uuid, (Vec<SealedMaterial>, Vec<GrantRecord>)> = HashMap::new();
        for row in &materials {
            let id = parse_uuid(&col::<String>(row, "key_id")?)?;
            by_key
                .entry(id)
                .or_default()
                .0
                .push(material_from_row(row)?);
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
        let mut tx = self.pool().begin().await.map_err(backend)?;
        // First: of rotations racing to one version, the later ones wait
        // here for the first to commit and fail on its row (`Conflict`),
        // before they change anything.
        sqlx::query(
            "INSERT INTO key_materials (key_id, version, sealed, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(key.id.to_string())
        .bind(i64::from(material.version))
        .bind(&material.sealed)
        .bind(rotation.rotated_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO key_rotations (key_id, version, rotated_ms, on_demand) VALUES ($1, $2, $3, $4)",
        )
        .bind(key.id.to_string())
        .bind(i64::from(rotation.version))
        .bind(rotation.rotated_ms)
        .bind(rotation.on_demand)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("UPDATE keys SET current_material = $1, next_rotation_ms = $2 WHERE id = $3")
            .bind(i64::from(key.current_material))
            .bind(key.next_rotation_ms)
            .bind(key.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn list_rotations(&self, id: Uuid) -> Result<Vec<RotationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, rotated_ms, on_demand FROM key_rotations WHERE key_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(RotationRecord {
                    key_id: id,
                    version: u32_col(r, "version")?,
                    rotated_ms: col(r, "rotated_ms")?,
                    on_demand: col(r, "on_demand")?,
                })
            })
            .collect()
    }

    async fn delete_key(&self, id: Uuid) -> Result<bool, StoreError> {
        let key = id.to_string();
        let mut tx = self.pool().begin().await.map_err(backend)?;
        // Overwrite the sealed material before removing it, as SQLite does.
        // Under MVCC an UPDATE writes new row versions: the zeros are what
        // any later reader (or a dump) sees, but the old versions, with the
        // sealed bytes, stay in the table's pages until VACUUM reclaims
        // their space and later writes reuse it (the VACUUM after the
        // commit, below, makes the space reusable at once instead of at
        // autovacuum's next visit), and in the WAL until its segments are
        // recycled, in base backups and on replicas. What stays is sealed
        // under the root key (AES-256-GCM, bound to key id and version),
        // never plaintext: it is useless without the root key, and a copy
        // of the database from before the deletion, with the root key,
        // holds the material anyway.
        sqlx::query(
            "UPDATE key_materials SET sealed = decode(repeat('00', octet_length(sealed)), 'hex') \
             WHERE key_id = $1",
        )
        .bind(&key)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for statement in [
            "DELETE FROM key_materials WHERE key_id = $1",
            "DELETE FROM aliases WHERE target = $1",
            "DELETE FROM grants WHERE key_id = $1",
            "DELETE FROM key_rotations WHERE key_id = $1",
        ] {
            sqlx::query(statement)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        // Last, and counted: of two processes deleting the key at once, one
        // finds it gone (PostgreSQL: the other's row locks held it back).
        let deleted = sqlx::query("DELETE FROM keys WHERE id = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            > 0;
        // Key usage is keyed by the id's 16 bytes.
        sqlx::query("DELETE FROM key_usage WHERE key_id = $1")
            .bind(id.as_bytes().as_slice())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO deleted_keys (id, deleted_ms) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET deleted_ms = EXCLUDED.deleted_ms",
        )
        .bind(&key)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        // Free the old row versions' space now (VACUUM cannot run in a
        // transaction). It removes only versions no open transaction can
        // still see, does not zero the freed bytes (later rows overwrite
        // them), and needs the table's owner; the deletion has committed
        // whatever it does, so its failure is logged, not returned.
        if let Err(e) = sqlx::query("VACUUM key_materials")
            .execute(&self.pool())
            .await
        {
            tracing::warn!(error = %e, "VACUUM key_materials after a key deletion failed");
        }
        Ok(deleted)
    }

    async fn key_was_deleted(&self, id: Uuid) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_keys WHERE id = $1)")
            .bind(id.to_string())
            .fetch_one(&self.pool())
            .await
            .map_err(backend)
    }

    async fn due_work(&self, now_ms: i64) -> Result<Vec<DueWork>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, TRUE AS deletion FROM keys WHERE state = 'PendingDeletion' AND deletion_date_ms <= $1 \
             UNION ALL \
             SELECT id, FALSE FROM keys WHERE state = 'Enabled' AND rotation_enabled AND next_rotation_ms <= $1",
        )
        .bind(now_ms)
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let id = parse_uuid(&col::<String>(r, "id")?)?;
                Ok(if col(r, "deletion")? {
                    DueWork::Delete(id)
                } else {
                    DueWork::Rotate(id)
                })
            })
            .collect()
    }

    async fn meta_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        // Of several processes at once, the first INSERT wins; the others
        // wait for its commit and insert nothing. READ COMMITTED (whatever
        // the server's default): the SELECT, a statement of its own, then
        // sees the winner's row.
        let mut tx = self
            .pool()
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let value = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(value)
    }

    async fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool())
            .await
            .map_err(backend)
    }

    async fn all_aliases(&self) -> Result<Vec<AliasRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT account, region, name, target, created_ms, updated_ms FROM aliases \
             ORDER BY account, region, name",
        )
        .fetch_all(&self.pool())
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
             WHERE account = $1 AND region = $2 AND name = $3",
        )
        .bind(account)
        .bind(region)
        .bind(name)
        .fetch_optional(&self.pool())
        .await
        .map_err(backend)?;
        row.as_ref().map(alias_from_row).transpose()
    }

    async fn insert_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        lock_key(&mut tx, alias.target).await?;
        sqlx::query(
            "INSERT INTO aliases (account, region, name, target, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
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
        let mut tx = self.pool().begin().await.map_err(backend)?;
        lock_key(&mut tx, alias.target).await?;
        sqlx::query(
            "UPDATE aliases SET target = $1, updated_ms = $2 WHERE account = $3 AND region = $4 AND name = $5",
        )
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
        sqlx::query("DELETE FROM aliases WHERE account = $1 AND region = $2 AND name = $3")
            .bind(account)
            .bind(region)
            .bind(name)
            .execute(&self.pool())
            .await
            .map_err(backend)
            .map(drop)
    }

    async fn insert_grant(&self, g: &GrantRecord, limits: GrantLimits) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        lock_key(&mut tx, g.key_id).await?;
        sqlx::query(
            "INSERT INTO grants (grant_id, key_id, name, grantee, retiring, operations, context_equals, \
             context_subset, issuing_account, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&g.grant_id)
        .bind(g.key_id.to_string())
        .bind(&g.name)
        .bind(&g.grantee)
        .bind(&g.retiring)
        .bind(serde_json::to_string(&g.operations).expect("strings serialize"))
        .bind(
            g.context_equals
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("map serializes")),
        )
        .bind(
            g.context_subset
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("map serializes")),
        )
        .bind(&g.issuing_account)
        .bind(g.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let (of_key, of_grantee): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE grantee = $1) FROM grants WHERE key_id = $2",
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
            "SELECT {GRANT_COLUMNS} FROM grants WHERE key_id = $1 ORDER BY created_ms, grant_id"
        ))
        .bind(key_id.to_string())
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn find_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE grant_id = $1"
        ))
        .bind(grant_id)
        .fetch_optional(&self.pool())
        .await
        .map_err(backend)?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn list_retirable_grants(&self, principal: &str) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE retiring = $1 ORDER BY created_ms, grant_id"
        ))
        .bind(principal)
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn delete_grant(&self, key_id: Uuid, grant_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM grants WHERE key_id = $1 AND grant_id = $2")
            .bind(key_id.to_string())
            .bind(grant_id)
            .execute(&self.pool())
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
        insert_credential(&mut conn, credential).await
    }

    async fn get_credential(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE access_key_id = $1"
        ))
        .bind(access_key_id)
        .fetch_optional(&self.pool())
        .await
        .map_err(backend)?;
        row.as_ref().map(credential_from_row).transpose()
    }

    async fn list_credentials(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<Credential>, StoreError> {
        // Ties in creation time by id (SQLite's by insertion, its rowid:
        // PostgreSQL keeps no insertion order).
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE account = $1 \
             AND user_name IS NOT DISTINCT FROM $2 AND session_token_sha256 IS NULL \
             ORDER BY created_ms, access_key_id"
        ))
        .bind(account)
        .bind(user)
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(credential_from_row).collect()
    }

    async fn set_credential_active(
        &self,
        access_key_id: &str,
        active: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET active = $1 WHERE access_key_id = $2")
            .bind(active)
            .bind(access_key_id)
            .execute(&self.pool())
            .await
            .map_err(backend)
            .map(drop)
    }

    async fn delete_credential(&self, access_key_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM credentials WHERE access_key_id = $1")
            .bind(access_key_id)
            .execute(&self.pool())
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_account(
        &self,
        account: &str,
        root_key: Option<&Credential>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO accounts (id, created_ms) VALUES ($1, $2)")
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
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)")
            .bind(account)
            .fetch_one(&self.pool())
            .await
            .map_err(backend)
    }

    async fn insert_entity(&self, e: &IamEntity) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO iam_entities (account, kind, name, id, arn, path, created_ms, trust_policy, description, \
             max_session_duration) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        .bind(e.max_session_duration.map(i64::from))
        .execute(&self.pool())
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
            "SELECT {ENTITY_COLUMNS} FROM iam_entities WHERE account = $1 AND kind = $2 AND name = $3"
        ))
        .bind(account)
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool())
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
            "SELECT {ENTITY_COLUMNS} FROM iam_entities WHERE account = $1 AND kind = $2 ORDER BY name"
        ))
        .bind(account)
        .bind(kind.as_str())
        .fetch_all(&self.pool())
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
            sqlx::query("DELETE FROM iam_entities WHERE account = $1 AND kind = $2 AND name = $3")
                .bind(account)
                .bind(kind.as_str())
                .bind(name)
                .execute(&self.pool())
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
            "INSERT INTO iam_policies (account, owner_kind, owner, name, document) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account, owner_kind, owner, name) DO UPDATE SET document = EXCLUDED.document",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .bind(document)
        .execute(&self.pool())
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
            "SELECT name, document FROM iam_policies WHERE account = $1 AND owner_kind = $2 AND owner = $3 \
             ORDER BY name",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(owner)
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| Ok((col(r, "name")?, col(r, "document")?)))
            .collect()
    }

    async fn delete_policy(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM iam_policies WHERE account = $1 AND owner_kind = $2 AND owner = $3 AND name = $4",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .execute(&self.pool())
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
            "INSERT INTO iam_group_members (account, group_name, user_name) VALUES ($1, $2, $3)",
        )
        .bind(account)
        .bind(group)
        .bind(user)
        .execute(&self.pool())
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
            "DELETE FROM iam_group_members WHERE account = $1 AND group_name = $2 AND user_name = $3",
        )
        .bind(account)
        .bind(group)
        .bind(user)
        .execute(&self.pool())
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn groups_of_user(&self, account: &str, user: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT group_name FROM iam_group_members WHERE account = $1 AND user_name = $2 \
             ORDER BY group_name",
        )
        .bind(account)
        .bind(user)
        .fetch_all(&self.pool())
        .await
        .map_err(backend)
    }

    async fn members_of_group(
        &self,
        account: &str,
        group: &str,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT user_name FROM iam_group_members WHERE account = $1 AND group_name = $2 \
             ORDER BY user_name",
        )
        .bind(account)
        .bind(group)
        .fetch_all(&self.pool())
        .await
        .map_err(backend)
    }
}

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

fn alias_from_row(r: &PgRow) -> Result<AliasRecord, StoreError> {
    Ok(AliasRecord {
        account: col(r, "account")?,
        region: col(r, "region")?,
        name: col(r, "name")?,
        target: parse_uuid(&col::<String>(r, "target")?)?,
        created_ms: col(r, "created_ms")?,
        updated_ms: col(r, "updated_ms")?,
    })
}

fn material_from_row(row: &PgRow) -> Result<SealedMaterial, StoreError> {
    Ok(SealedMaterial {
        version: u32_col(row, "version")?,
        sealed: col(row, "sealed")?,
    })
}

fn key_from_row(row: &PgRow) -> Result<KeyRecord, StoreError> {
    let text = |c: &str| col::<String>(row, c);
    Ok(KeyRecord {
        id: parse_uuid(&text("id")?)?,
        account: text("account")?,
        region: text("region")?,
        arn: text("arn")?,
        created_ms: col(row, "created_ms")?,
        description: text("description")?,
        key_usage: text("key_usage")?.as_str().into(),
        key_spec: text("key_spec")?.as_str().into(),
        origin: text("origin")?.as_str().into(),
        state: text("state")?.as_str().into(),
        deletion_date_ms: col(row, "deletion_date_ms")?,
        pending_window_days: i32_col(row, "pending_window_days")?,
        policy: text("policy")?.into(),
        rotation_enabled: col(row, "rotation_enabled")?,
        rotation_period_days: i32_col(row, "rotation_period_days")?,
        next_rotation_ms: col(row, "next_rotation_ms")?,
        current_material: u32_col(row, "current_material")?,
        tags: decode_tags(&text("tags")?)?,
    })
}

const CREDENTIAL_COLUMNS: &str = "access_key_id, account, principal_arn, sealed_secret, created_ms, user_name, active, \
     session_token_sha256, expires_ms, role_name, role_id, session_name";

fn credential_from_row(r: &PgRow) -> Result<Credential, StoreError> {
    let token: Option<Vec<u8>> = col(r, "session_token_sha256")?;
    let session = match token {
        None => None,
        Some(token_sha256) => Some(SessionRecord {
            token_sha256,
            expires_ms: col::<Option<i64>>(r, "expires_ms")?.unwrap_or(0),
            role_name: col::<Option<String>>(r, "role_name")?.unwrap_or_default(),
            role_id: col::<Option<String>>(r, "role_id")?.unwrap_or_default(),
            session_name: col::<Option<String>>(r, "session_name")?.unwrap_or_default(),
        }),
    };
    Ok(Credential {
        access_key_id: col(r, "access_key_id")?,
        account: col(r, "account")?,
        principal_arn: col(r, "principal_arn")?,
        sealed_secret: col(r, "sealed_secret")?,
        created_ms: col(r, "created_ms")?,
        user_name: col(r, "user_name")?,
        active: col(r, "active")?,
        session,
    })
}

const ENTITY_COLUMNS: &str = "account, kind, name, id, arn, path, created_ms, trust_policy, description, max_session_duration";

fn entity_from_row(r: &PgRow) -> Result<IamEntity, StoreError> {
    let kind: String = col(r, "kind")?;
    Ok(IamEntity {
        account: col(r, "account")?,
        kind: EntityKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("entity kind {kind:?}")))?,
        name: col(r, "name")?,
        id: col(r, "id")?,
        arn: col(r, "arn")?,
        path: col(r, "path")?,
        created_ms: col(r, "created_ms")?,
        trust_policy: col(r, "trust_policy")?,
        description: col(r, "description")?,
        max_session_duration: i32_col(r, "max_session_duration")?,
    })
}

const GRANT_COLUMNS: &str = "grant_id, key_id, name, grantee, retiring, operations, context_equals, context_subset, \
     issuing_account, created_ms";

fn grant_from_row(r: &PgRow) -> Result<GrantRecord, StoreError> {
    let json = |e: serde_json::Error| StoreError::Corrupt(format!("grant column: {e}"));
    let map = |c: Option<String>| {
        c.map(|s| serde_json::from_str(&s).map_err(json))
            .transpose()
    };
    Ok(GrantRecord {
        grant_id: col(r, "grant_id")?,
        key_id: parse_uuid(&col::<String>(r, "key_id")?)?,
        name: col(r, "name")?,
        grantee: col(r, "grantee")?,
        retiring: col(r, "retiring")?,
        operations: serde_json::from_str(&col::<String>(r, "operations")?).map_err(json)?,
        context_equals: map(col(r, "context_equals")?)?,
        context_subset: map(col(r, "context_subset")?)?,
        issuing_account: col(r, "issuing_account")?,
        created_ms: col(r, "created_ms")?,
    })
}

fn digest_from_row(r: &PgRow) -> Result<AuditDigest, StoreError> {
    Ok(AuditDigest {
        seq: col(r, "seq")?,
        first_event_seq: col(r, "first_event_seq")?,
        last_event_seq: col(r, "last_event_seq")?,
        last_hash: col(r, "last_hash")?,
        created_ms: col(r, "created_ms")?,
        signature: col(r, "signature")?,
    })
}

/// Inserts a credential row (in whatever transaction `conn` is in).
async fn insert_credential(
    conn: &mut PgConnection,
    credential: &Credential,
) -> Result<(), StoreError> {
    let session = credential.session.as_ref();
    sqlx::query(
        "INSERT INTO credentials (access_key_id, account, principal_arn, sealed_secret, created_ms, user_name, \
         active, session_token_sha256, expires_ms, role_name, role_id, session_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
