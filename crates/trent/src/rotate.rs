//! `trent root-key rotate`: every value sealed under a data directory's
//! root key (key material, access keys' secrets, the server's sealed
//! values) re-sealed under a new root key, of the same provider or
//! another, with the server stopped.
//!
//! Crash-safe by one transaction: the new key is made first without
//! writing to the store (`trent_seal::prepare_rotation`: a key file or an
//! HSM key made then is found again by a second run), then
//! `SqliteStore::reseal` rewrites every sealed row and the providers'
//! `meta` values at once. Before its commit the store is entirely under
//! the old key, after it entirely under the new one. A second run after a
//! crash either rotates (nothing had committed) or finds that the new key
//! opens the store and the current one does not, and says so.

use crate::admin::{StoreArgs, lock_data_dir};
use anyhow::Context;
use std::time::Instant;
use trent_core::rotation::Sealed;
use trent_seal::RootKeySpec;
use trent_seal::rotation::PROVIDER_META;
use trent_store::SqliteStore;

/// `trent root-key rotate --data-dir DIR [--root-key CURRENT] --to NEW`.
pub async fn rotate(at: &StoreArgs, to: &RootKeySpec) -> anyhow::Result<()> {
    anyhow::ensure!(
        at.database_url.is_none(),
        "trent root-key rotate works on a data directory's SQLite store; rotating the root key of a PostgreSQL store (--database-url) is not supported yet"
    );
    let db = at.data_dir.join("trent.db");
    anyhow::ensure!(
        db.exists(),
        "{} holds no Trent data (no trent.db)",
        at.data_dir.display()
    );
    let _lock = lock_data_dir(
        &at.data_dir,
        &format!(
            "{} is in use; stop the server first: the root key is rotated with the server stopped",
            at.data_dir.display()
        ),
    )?;
    let current = at.root_key_spec();
    // A new key file needs a path of its own (the current key's file is
    // not overwritten: a crash would lose the key the store is sealed
    // under). Other providers' current key is told by prepare_rotation.
    if let (RootKeySpec::File(old), RootKeySpec::File(new)) = (&current, to)
        && (old == new
            || (new.exists() && std::fs::canonicalize(old)? == std::fs::canonicalize(new)?))
    {
        anyhow::bail!(
            "--to {to} is the current root key file: a new root key file needs another path (then start Trent with --root-key {to})"
        );
    }
    if let RootKeySpec::File(path) = &current {
        anyhow::ensure!(
            path.exists(),
            "the current root key file {} is missing (give the current key with --root-key)",
            path.display()
        );
    }
    let store = SqliteStore::open(&db).await.context("opening the store")?;
    let old = match trent_seal::open_root_key(&current, &store, false).await {
        Ok(old) => old,
        Err(refused) => {
            // A second run after the rotation committed: the new key opens
            // the store, the current one no longer does.
            if trent_seal::open_rotated(to, &store).await.is_ok() {
                println!(
                    "the root key of {} was already rotated: {to} opens it and {current} no longer does; start Trent with --root-key {to}",
                    db.display()
                );
                print_old_key_advice(&current);
                return Ok(());
            }
            return Err(refused).with_context(|| {
                format!(
                    "opening the current root key ({current}) of {} (after an interrupted rotation, run it again with the same --to: it says whether the rotation committed)",
                    db.display()
                )
            });
        }
    };
    if let RootKeySpec::File(path) = to
        && path.exists()
    {
        // What a second run after an interrupted one needs; else a path
        // that does not exist yet is the one to give.
        println!("{} exists: its key is the new root key", path.display());
    }
    let next = trent_seal::prepare_rotation(to, &store)
        .await
        .with_context(|| format!("making the new root key ({to})"))?;
    let started = Instant::now();
    let resealed = store
        .reseal(
            |what, sealed| match what {
                // Set or deleted after the loop, in the same transaction.
                Sealed::Meta { name } if PROVIDER_META.contains(&name) => Ok(None),
                _ => trent_core::rotation::reseal(old.as_ref(), next.root.as_ref(), what, sealed)
                    .map_err(anyhow::Error::from),
            },
            &next.meta_set,
            &next.meta_delete,
        )
        .await
        .context("re-sealing the store (nothing was changed)")?;
    let took = started.elapsed();
    // The store as committed opens with the new key.
    trent_seal::open_rotated(to, &store)
        .await
        .context("the rotated store does not open with the new root key")?;
    println!(
        "rotated the root key of {}: {} key material versions, {} access keys and {} server values re-sealed under {to} in {} ms; start Trent with --root-key {to}",
        db.display(),
        resealed.materials,
        resealed.credentials,
        resealed.meta,
        took.as_millis()
    );
    if let RootKeySpec::Passphrase(trent_seal::PassphraseSource::EnvironmentOrPrompt) = to {
        println!(
            "(give the new passphrase in {} from now on)",
            trent_seal::passphrase::ENV
        );
    }
    print_old_key_advice(&current);
    record_rotation(store, next.root.clone(), &current, to).await
}

/// Records the rotation in every account's trail (`RotateRootKey`, a
/// service event naming both specs, which name places, never secrets),
/// signed with the trail's key as re-sealed. After the commit: a crash
/// before it leaves the rotation without its event (a second run says the
/// rotation happened, and records nothing).
async fn record_rotation(
    store: SqliteStore,
    root: std::sync::Arc<dyn trent_core::RootKey>,
    from: &RootKeySpec,
    to: &RootKeySpec,
) -> anyhow::Result<()> {
    let accounts = store.accounts().await?;
    let store: std::sync::Arc<dyn trent_core::Store> = std::sync::Arc::new(store);
    let parameters = serde_json::json!({
        "from": from.to_string(),
        "to": to.to_string(),
    });
    crate::admin::record_operator_event(store, &root, accounts, "RotateRootKey", parameters)
        .await
        .context("the rotation itself is done")
}

/// What the operator does with the old key: it opens no longer the store,
/// but backups from before the rotation are sealed under it.
fn print_old_key_advice(old: &RootKeySpec) {
    let what = match old {
        RootKeySpec::File(path) => format!("the old key file {}", path.display()),
        RootKeySpec::Passphrase(_) => "the old passphrase".to_owned(),
        RootKeySpec::Pkcs11(spec) => {
            format!("the old HSM key {:?} on token {:?}", spec.key, spec.token)
        }
        RootKeySpec::Kms(spec) => format!("the old data key (wrapped by {})", spec.key_id),
    };
    println!(
        "{what} no longer opens this store; backups taken before the rotation are still sealed under it: keep it as long as you keep them, then destroy it"
    );
}
