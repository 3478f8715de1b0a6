//! [`SqliteStore`]: the embedded default store, one file in the data
//! directory. One module a store trait (`keys.rs`, `identities.rs`,
//! `audit.rs`, `changes.rs`); `rows.rs` decodes rows; here: opening, the
//! pools and what `trent store copy` reads beyond the traits.

use crate::{
    KEY_COLUMNS, backend, check_copied, check_family, check_imported, decode_change,
    decode_imported, decode_tags, encode_tags, grant_principal, in_id_order, parse_uuid, within,
};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::time::Duration;
use trent_core::trail::{AuditBlock, AuditDigest, AuditTail, Id, KeyUsage, Usage};
use trent_core::{
    AliasRecord, AuditStore, Change, ChangeStore, Credential, DueWork, EntityKind, GrantLimits,
    GrantPrincipal, GrantRecord, IamEntity, IdentityStore, ImportedWrite, KeyRecord, KeyStore,
    Limit, RotationRecord, SealedMaterial, SessionRecord, StoreError, now_millis,
};
use uuid::Uuid;

mod audit;
mod changes;
mod identities;
mod keys;
mod reseal;
mod rows;

pub use reseal::Resealed;

use audit::id_from_row;
use rows::*;

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

/// What `trent backup` needs of a SQLite store.
impl SqliteStore {
    /// Writes a consistent copy of the database into `path`, a new file
    /// made 0600: SQLite's `VACUUM INTO`, one read transaction, so the copy
    /// holds what was committed when it began while writers go on (WAL).
    /// The copy has no free pages and no WAL: nothing deleted survives in
    /// it.
    pub async fn snapshot_into(&self, path: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |e: std::io::Error| StoreError::Backend(Box::new(e));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let name = path
            .to_str()
            .ok_or_else(|| io(std::io::Error::other("the snapshot's path is not UTF-8")))?;
        sqlx::query("VACUUM INTO ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        std::fs::File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(io)
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): `None`
    /// when sound, else what it found.
    pub async fn integrity_problems(&self) -> Result<Option<String>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok((rows != ["ok"]).then(|| rows.join("; ")))
    }

    /// Every account's id.
    pub async fn accounts(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT id FROM accounts ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }
}

impl SqliteStore {
    pub(crate) async fn export(&self) -> Result<Export, StoreError> {
        let accounts = self.accounts().await?;
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
