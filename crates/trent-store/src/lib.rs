//! [`trent_core::Store`] backends.
//!
//! * [`SqliteStore`]: the embedded default. WAL journal with
//!   `synchronous=FULL`, so a write is on disk when it is acknowledged; each
//!   method is one transaction.
//!
//! * [`PgStore`]: PostgreSQL, for several Trent nodes on one database
//!   (`--database-url`); its own migrations, applied under sqlx's advisory
//!   lock.
//!
//! Both pass the one suite (`tests.rs`); PostgreSQL's run needs
//! `TRENT_TEST_POSTGRES_URL` and says plainly when it is skipped.

mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[doc(hidden)]
pub mod test_support;

use trent_core::{StoreError, Tag};

fn backend(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        _ => StoreError::Backend(Box::new(e)),
    }
}

fn encode_tags(tags: &[Tag]) -> String {
    let pairs: Vec<[&str; 2]> = tags
        .iter()
        .map(|t| [t.key.as_str(), t.value.as_str()])
        .collect();
    serde_json::to_string(&pairs).expect("string pairs always serialize")
}

fn decode_tags(json: &str) -> Result<Vec<Tag>, StoreError> {
    let pairs: Vec<[String; 2]> =
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("tags column: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|[key, value]| Tag { key, value })
        .collect())
}

fn parse_uuid(s: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::try_parse(s).map_err(|_| StoreError::Corrupt(format!("bad key id {s:?}")))
}

/// Columns of `keys` every backend reads, in this order.
const KEY_COLUMNS: &str = "id, account, region, arn, created_ms, description, key_usage, key_spec, origin, state, \
     deletion_date_ms, pending_window_days, policy, rotation_enabled, rotation_period_days, next_rotation_ms, \
     current_material, tags";

#[cfg(test)]
mod postgres_tests;
#[cfg(test)]
mod tests;
