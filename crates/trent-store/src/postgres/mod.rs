//! [`PgStore`]: the store on PostgreSQL, for several Trent nodes sharing one
//! database. The same rows as [`crate::SqliteStore`] (schema in
//! `migrations/postgres/`), the same answers: the store suite runs on both.
//!
//! Each method is one transaction, durable when it returns `Ok` (PostgreSQL's
//! default `synchronous_commit = on`: the commit's WAL record is flushed
//! before the commit returns). Uniqueness is the database's: an insert
//! another node got in first fails on a constraint, answered
//! [`StoreError::Conflict`].
//!
//! One module a store trait (`keys.rs`, `identities.rs`, `audit.rs`,
//! `changes.rs`); `rows.rs` decodes rows; here: opening, migrations and
//! the pools.

use crate::{
    KEY_COLUMNS, backend, check_copied, check_family, check_imported, decode_change,
    decode_imported, decode_tags, encode_tags, grant_principal, in_id_order, parse_uuid, within,
};
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
    GrantLimits, GrantPrincipal, GrantRecord, IamEntity, IdentityStore, ImportedWrite, KeyRecord,
    KeyStore, Limit, RotationRecord, SealedMaterial, SessionRecord, StoreError, now_millis,
};
use uuid::Uuid;

mod audit;
mod changes;
mod identities;
mod keys;
mod rows;

pub(crate) use changes::ChangeListener;
use rows::*;

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
