//! What `trent root-key rotate` needs of a SQLite store: every sealed value
//! rewritten, and the root-key provider's `meta` values changed, in one
//! transaction.

use super::SqliteStore;
use crate::{backend, parse_uuid};
use sqlx::Row;
use trent_core::StoreError;
use trent_core::rotation::Sealed;

/// How many values a [`SqliteStore::reseal`] rewrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Key material versions.
    pub materials: usize,
    /// Access keys' secrets.
    pub credentials: usize,
    /// Sealed `meta` values.
    pub meta: usize,
}

impl SqliteStore {
    /// Rewrites every value that may be sealed under the root key with what
    /// `reseal` makes of it (`None`: leave it, e.g. a public `meta` value),
    /// then sets the `meta` values of `meta_set` and deletes those of
    /// `meta_delete` (a root-key provider's public parameters), all in one
    /// transaction, committed with `synchronous=FULL`: before the commit
    /// the store is as it was, after it entirely rewritten. When `reseal`
    /// fails, nothing is written and its error is returned.
    pub async fn reseal<E: From<StoreError>>(
        &self,
        mut reseal: impl FnMut(Sealed<'_>, &[u8]) -> Result<Option<Vec<u8>>, E>,
        meta_set: &[(String, Vec<u8>)],
        meta_delete: &[&str],
    ) -> Result<Resealed, E> {
        // IMMEDIATE: the write lock from the start, so nothing changes
        // between the reads and the writes.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let mut count = Resealed::default();

        let materials = sqlx::query("SELECT key_id, version, sealed FROM key_materials")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        for row in &materials {
            let key_id: &str = row.get("key_id");
            let version: i64 = row.get("version");
            let what = Sealed::Material {
                key_id: parse_uuid(key_id)?,
                version: u32::try_from(version).map_err(|_| {
                    StoreError::Corrupt(format!("key {key_id}: material version {version}"))
                })?,
            };
            if let Some(resealed) = reseal(what, row.get("sealed"))? {
                sqlx::query("UPDATE key_materials SET sealed = ? WHERE key_id = ? AND version = ?")
                    .bind(resealed)
                    .bind(key_id)
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                count.materials += 1;
            }
        }

        let credentials = sqlx::query("SELECT access_key_id, sealed_secret FROM credentials")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        for row in &credentials {
            let access_key_id: &str = row.get("access_key_id");
            let what = Sealed::Credential { access_key_id };
            if let Some(resealed) = reseal(what, row.get("sealed_secret"))? {
                sqlx::query("UPDATE credentials SET sealed_secret = ? WHERE access_key_id = ?")
                    .bind(resealed)
                    .bind(access_key_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                count.credentials += 1;
            }
        }

        let meta = sqlx::query("SELECT name, CAST(value AS BLOB) AS value FROM meta")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        for row in &meta {
            let name: &str = row.get("name");
            if let Some(resealed) = reseal(Sealed::Meta { name }, row.get("value"))? {
                sqlx::query("UPDATE meta SET value = ? WHERE name = ?")
                    .bind(resealed)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                count.meta += 1;
            }
        }

        for name in meta_delete {
            sqlx::query("DELETE FROM meta WHERE name = ?")
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        for (name, value) in meta_set {
            sqlx::query(
                "INSERT INTO meta (name, value) VALUES (?, ?) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        // The old sealed values' pages are still in the database file (the
        // new ones in the WAL): a checkpoint writes the new ones over them
        // now rather than at some later write. Best effort: the rotation
        // has committed either way.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{key, material};
    use trent_core::{Credential, IdentityStore, KeyStore};

    #[derive(Debug)]
    enum Failure {
        Store,
        Refused,
    }

    impl From<StoreError> for Failure {
        fn from(_: StoreError) -> Self {
            Failure::Store
        }
    }

    /// Every sealed value of the store, by what it is.
    async fn everything(store: &SqliteStore) -> Vec<(String, Vec<u8>)> {
        let mut all = Vec::new();
        store
            .reseal(
                |what, sealed| {
                    all.push((what.to_string(), sealed.to_vec()));
                    // Refusing at the end leaves the store as it was.
                    Ok::<_, Failure>(None)
                },
                &[],
                &[],
            )
            .await
            .unwrap();
        all.sort();
        all
    }

    async fn filled() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("trent.db"))
            .await
            .unwrap();
        for _ in 0..3 {
            let record = key("111122223333");
            store
                .insert_key(&record, &material(1), crate::tests::NO_LIMIT)
                .await
                .unwrap();
            let mut rotated = record.clone();
            rotated.current_material = 2;
            let rotation = trent_core::RotationRecord {
                key_id: record.id,
                version: 2,
                rotated_ms: 1_000,
                on_demand: true,
            };
            store
                .rotate_key(&rotated, &material(2), &rotation)
                .await
                .unwrap();
        }
        store
            .insert_account(
                "111122223333",
                Some(&Credential {
                    access_key_id: "AKIAEXAMPLE".into(),
                    account: "111122223333".into(),
                    principal_arn: "arn:aws:iam::111122223333:root".into(),
                    sealed_secret: vec![9; 40],
                    user_name: None,
                    active: true,
                    created_ms: 1,
                    session: None,
                }),
            )
            .await
            .unwrap();
        store.meta_secret("marker-key", b"sealed").await.unwrap();
        store
            .meta_secret("root-key-passphrase", b"$argon2id$old")
            .await
            .unwrap();
        store.meta_secret("root-key-kms", b"blob").await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn rewrites_every_value_and_the_provider_parameters_at_once() {
        let (_dir, store) = filled().await;
        let before = everything(&store).await;
        let count = store
            .reseal(
                |what, sealed| {
                    Ok::<_, Failure>(match what {
                        Sealed::Meta { name } if name != "marker-key" => None,
                        _ => Some([b"new:".as_slice(), sealed].concat()),
                    })
                },
                &[("root-key-passphrase".into(), b"$argon2id$new".to_vec())],
                &["root-key-kms"],
            )
            .await
            .unwrap();
        assert_eq!(
            count,
            Resealed {
                materials: 6,
                credentials: 1,
                meta: 1
            }
        );
        let after = everything(&store).await;
        // Every value but the deleted one is there; the parameters changed,
        // the values the closure left (the store's own, public) did not.
        let mut before = before;
        before.retain(|(what, _)| !what.contains("root-key-kms"));
        assert_eq!(after.len(), before.len());
        for ((what, sealed), (was, old)) in after.iter().zip(&before) {
            assert_eq!(what, was);
            if what.contains("root-key-passphrase") {
                assert_eq!(sealed, b"$argon2id$new");
            } else if what.contains("material")
                || what.contains("access key")
                || what.contains("marker-key")
            {
                assert_eq!(sealed, &[b"new:".as_slice(), old].concat(), "{what}");
            } else {
                assert_eq!(sealed, old, "{what}");
            }
        }
        assert_eq!(store.meta("root-key-kms").await.unwrap(), None);
        let key_id = store.load_keys(None, 10).await.unwrap()[0].0.id;
        let rows = store.key_materials(key_id).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|m| m.sealed.starts_with(b"new:")));
    }

    #[tokio::test]
    async fn a_failure_midway_leaves_every_row_as_it_was() {
        let (_dir, store) = filled().await;
        let before = everything(&store).await;
        for fail_at in [0, 3, 6, 9] {
            let mut seen = 0;
            let result = store
                .reseal(
                    |_, sealed| {
                        seen += 1;
                        if seen > fail_at {
                            return Err(Failure::Refused);
                        }
                        Ok(Some([b"new:".as_slice(), sealed].concat()))
                    },
                    &[("root-key-passphrase".into(), b"$argon2id$new".to_vec())],
                    &["root-key-kms"],
                )
                .await;
            assert!(matches!(result, Err(Failure::Refused)), "{result:?}");
            assert_eq!(everything(&store).await, before, "failed at {fail_at}");
        }
    }
}
