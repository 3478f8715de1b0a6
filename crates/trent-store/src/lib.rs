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
//! The change feed ([`trent_core::ChangeStore`]) is written by the
//! database itself: triggers (SQLite's migration 0010, PostgreSQL's 0002)
//! append a row for every write another process's cache may hold stale.
//!
//! Both pass the one suite (`tests.rs`); PostgreSQL's run needs
//! `TRENT_TEST_POSTGRES_URL` and says plainly when it is skipped.

pub mod copy;
mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::{Resealed, SqliteStore};

#[doc(hidden)]
pub mod test_support;

use trent_core::{
    Change, Changed, ImportedMaterial, ImportedWrite, KeyRecord, Limit, SealedMaterial, StoreError,
    Tag,
};

fn backend(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        _ => StoreError::Backend(Box::new(e)),
    }
}

/// `Full` when a scope holds more than `max` with the row just written
/// (`held` counts it): the caller's transaction is then dropped, rolled
/// back.
fn within(limit: Limit, held: i64, max: u64) -> Result<(), StoreError> {
    let held = held.unsigned_abs();
    if held > max {
        return Err(StoreError::Full {
            limit,
            held: held - 1,
        });
    }
    Ok(())
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

/// A grant's grantee or retiring principal from its column and the flag
/// saying whether it names a service principal.
fn grant_principal(name: String, service: bool) -> trent_core::GrantPrincipal {
    if service {
        trent_core::GrantPrincipal::Service(name)
    } else {
        trent_core::GrantPrincipal::Iam(name)
    }
}

fn parse_uuid(s: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::try_parse(s).map_err(|_| StoreError::Corrupt(format!("bad key id {s:?}")))
}

/// A row of the `changes` table (the migrations say what its kind and
/// subject hold). A kind this version does not know, or a subject that is
/// not of its kind's form, is [`StoreError::Corrupt`].
fn decode_change(id: i64, kind: &str, subject: &str, at_ms: i64) -> Result<Change, StoreError> {
    let malformed = || StoreError::Corrupt(format!("change {id}: {kind} {subject:?}"));
    let changed = match kind {
        "key" => Changed::Key(uuid::Uuid::try_parse(subject).map_err(|_| malformed())?),
        // `account/region/alias/name`: the name, which holds `/` itself,
        // is all after the second `/`.
        "alias" => {
            let mut parts = subject.splitn(3, '/');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(account), Some(region), Some(name))
                    if !account.is_empty() && !region.is_empty() && !name.is_empty() =>
                {
                    Changed::Alias {
                        account: account.into(),
                        region: region.into(),
                        name: name.into(),
                    }
                }
                _ => return Err(malformed()),
            }
        }
        "identity" if !subject.is_empty() => Changed::Identity {
            account: subject.into(),
        },
        "identity" => return Err(malformed()),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "change {id}: unknown kind {kind:?}"
            )));
        }
    };
    Ok(Change { id, at_ms, changed })
}

/// A key's multi-Region columns decoded: both set, or neither.
fn multi_region(
    family: Option<String>,
    primary_region: Option<String>,
) -> Result<Option<trent_core::MultiRegion>, StoreError> {
    match (family, primary_region) {
        (None, None) => Ok(None),
        (Some(family), Some(primary_region)) => Ok(Some(trent_core::MultiRegion {
            family: parse_uuid(&family)?,
            primary_region,
        })),
        _ => Err(StoreError::Corrupt(
            "a key with only one of mrk_family and primary_region".into(),
        )),
    }
}

/// `Conflict` unless the primary of a replica `key` being inserted is
/// still its family's primary (`primary_region` as its row says; an
/// UpdatePrimaryRegion committed meanwhile) and its newest material
/// version (`newest`) is the newest of those `copied` (a rotation
/// committed meanwhile).
fn check_copied(
    key: &KeyRecord,
    primary: uuid::Uuid,
    newest: Option<i64>,
    primary_region: Option<String>,
    copied: &[SealedMaterial],
) -> Result<(), StoreError> {
    let expected = key.multi_region.as_ref().map(|mr| &mr.primary_region);
    if primary_region.as_ref() != expected {
        return Err(StoreError::Conflict(format!(
            "key {primary} is no longer the primary of its family"
        )));
    }
    // Imported material is not copied: each related key takes its own import.
    let external = key.origin == trent_wire::OriginType::External;
    let copied_newest = copied.iter().map(|m| i64::from(m.version)).max();
    if !external && newest != copied_newest {
        return Err(StoreError::Conflict(format!(
            "primary {primary} has material versions its replica lacks"
        )));
    }
    Ok(())
}

/// `Conflict` unless a family rotation covers all `held` keys of the family.
fn check_family(key: &KeyRecord, held: i64, count: usize) -> Result<(), StoreError> {
    if held != count as i64 {
        return Err(StoreError::Conflict(format!(
            "the family of key {} has {held} keys, {count} rotated",
            key.id
        )));
    }
    Ok(())
}

/// Columns of `keys` every backend reads, in this order.
const KEY_COLUMNS: &str = "id, account, region, arn, created_ms, description, key_usage, key_spec, origin, state, \
     deletion_date_ms, pending_window_days, policy, rotation_enabled, rotation_period_days, next_rotation_ms, \
     current_material, tags, mrk_family, primary_region";

/// An imported material as a backend's JSON aggregate of its
/// `imported_materials` rows gives it (the same fields on both: text and
/// integers only).
#[derive(serde::Deserialize)]
struct ImportedRow {
    version: i64,
    /// Hex.
    digest: String,
    description: Option<String>,
    expiration_model: Option<String>,
    valid_to_ms: Option<i64>,
    import_state: String,
    material_state: String,
    rotated_ms: Option<i64>,
    rotation_type: Option<String>,
}

/// A key's imported materials from the JSON array of its rows (`None`: no
/// row), in version order.
fn decode_imported(json: Option<&str>) -> Result<Vec<ImportedMaterial>, StoreError> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let rows: Vec<ImportedRow> = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("imported materials: {e}")))?;
    let mut materials = rows
        .into_iter()
        .map(|r| {
            let digest = decode_hex(&r.digest).ok_or_else(|| {
                StoreError::Corrupt(format!("imported material digest {:?}", r.digest))
            })?;
            Ok(ImportedMaterial {
                version: u32::try_from(r.version)
                    .map_err(|_| StoreError::Corrupt(format!("material version {}", r.version)))?,
                digest,
                description: r.description,
                expiration_model: r.expiration_model.as_deref().map(Into::into),
                valid_to_ms: r.valid_to_ms,
                import_state: r.import_state.as_str().into(),
                state: r.material_state.as_str().into(),
                rotation: r
                    .rotated_ms
                    .map(|at| (at, r.rotation_type.as_deref().unwrap_or("ON_DEMAND").into())),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    materials.sort_by_key(|m| m.version);
    Ok(materials)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The writes of `write_imported` in the order of their keys' ids.
fn in_id_order<'w, 'a>(writes: &'w [ImportedWrite<'a>]) -> Vec<&'w ImportedWrite<'a>> {
    let mut ordered: Vec<_> = writes.iter().collect();
    ordered.sort_by_key(|w| w.key.id);
    ordered
}

/// `Conflict` unless the imported materials stored are `previous`'s
/// (read in the writing transaction, after the key's row was written).
fn check_imported(
    key: &KeyRecord,
    stored: Option<&str>,
    previous: &KeyRecord,
) -> Result<(), StoreError> {
    if decode_imported(stored)? != previous.imported {
        return Err(StoreError::Conflict(format!(
            "the imported materials of key {} changed meanwhile",
            key.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod postgres_tests;
#[cfg(test)]
mod tests;
