//! The next root key of a store, for `trent root-key rotate`: made by the
//! provider a spec names without writing to the store. What the provider
//! keeps in the store (a passphrase's parameters, a KMS's wrapped data key)
//! is handed back, to be written in the transaction that re-seals every
//! value (`trent_store::SqliteStore::reseal`), with the old provider's
//! values to delete. What a provider makes outside the store is found
//! again by a second run: a key file (reused if it exists), an HSM key
//! (found by its label).

use crate::{FileRootKey, InMemoryRootKey, RootKeyError, RootKeySpec, kms, passphrase, pkcs11};
use std::sync::Arc;
use trent_core::{RootKey, RootKeyCheck, Store};

/// Every `meta` value in which a provider keeps its public parameters.
pub const PROVIDER_META: [&str; 2] = [passphrase::META, kms::META];

/// `meta` values by name.
pub type MetaValues = Vec<(String, Vec<u8>)>;

/// A store's next root key, and how the provider's `meta` values change
/// with it.
pub struct NextRootKey {
    pub root: Arc<dyn RootKey>,
    /// The new provider's public parameters.
    pub meta_set: MetaValues,
    /// The provider values the store keeps but the new key does not use.
    pub meta_delete: Vec<&'static str>,
}

/// Makes the root key `spec` names as the next root key of `store`, which
/// is read, never written: a new key file (an existing one is used as it
/// is), a new passphrase with fresh parameters (the passphrase from
/// `passphrase:file:PATH` or [`passphrase::NEW_ENV`], asked twice on a
/// terminal), the token's key of that label (made if absent), a new data
/// key of the KMS. `SameKey` when it is the key `store` is sealed under
/// already (the same key file, the same passphrase, the same HSM key).
pub async fn prepare_rotation(
    spec: &RootKeySpec,
    store: &dyn Store,
) -> Result<NextRootKey, RootKeyError> {
    let provider = spec.to_string();
    let (root, meta_set): (Arc<dyn RootKey>, MetaValues) = match spec {
        RootKeySpec::File(path) => (Arc::new(FileRootKey::open_or_create(path)?), Vec::new()),
        RootKeySpec::Passphrase(source) => {
            let new = passphrase::read_passphrase(source, passphrase::NEW_ENV, true)?;
            // The same passphrase under the store's parameters would be the
            // same key: refused, as a fresh salt would hide it.
            if let Some(stored) = store.meta(passphrase::META).await? {
                let current = passphrase::KdfParams::decode(&stored)?;
                let same = InMemoryRootKey::new(&*current.derive(&new)?)?;
                if opens(store, &same).await? {
                    return Err(RootKeyError::SameKey { provider });
                }
            }
            let params = passphrase::KdfParams::new_random()?;
            let root = InMemoryRootKey::new(&*params.derive(&new)?)?;
            let meta = vec![(passphrase::META.to_owned(), params.encode().into_bytes())];
            (Arc::new(root), meta)
        }
        RootKeySpec::Pkcs11(spec) => (
            Arc::new(pkcs11::Pkcs11RootKey::open(spec, true)?),
            Vec::new(),
        ),
        RootKeySpec::Kms(spec) => {
            let (root, blob) = kms::new_key(spec).await?;
            (Arc::new(root), vec![(kms::META.to_owned(), blob)])
        }
    };
    if opens(store, root.as_ref()).await? {
        return Err(RootKeyError::SameKey { provider });
    }
    let meta_delete = PROVIDER_META
        .into_iter()
        .filter(|name| !meta_set.iter().any(|(set, _)| set == name))
        .collect();
    Ok(NextRootKey {
        root,
        meta_set,
        meta_delete,
    })
}

/// Opens the root key `spec` names against a store a rotation to it has
/// committed to, making nothing (no key file, no HSM key, no parameters):
/// tells a rotation that finished from one that did not begin. A
/// passphrase from the environment is [`passphrase::NEW_ENV`]'s.
pub async fn open_rotated(
    spec: &RootKeySpec,
    store: &dyn Store,
) -> Result<Arc<dyn RootKey>, RootKeyError> {
    let provider = spec.to_string();
    let root: Arc<dyn RootKey> = match spec {
        RootKeySpec::File(path) => {
            if !path.exists() {
                return Err(RootKeyError::Io {
                    what: "root key file",
                    path: path.clone(),
                    source: std::io::ErrorKind::NotFound.into(),
                });
            }
            Arc::new(FileRootKey::open_or_create(path)?)
        }
        RootKeySpec::Passphrase(source) => Arc::new(
            passphrase::open_from(source, passphrase::NEW_ENV, &provider, store, false).await?,
        ),
        RootKeySpec::Pkcs11(spec) => Arc::new(pkcs11::Pkcs11RootKey::open(spec, false)?),
        RootKeySpec::Kms(spec) => Arc::new(kms::open(spec, &provider, store, false).await?),
    };
    if !opens(store, root.as_ref()).await? {
        return Err(RootKeyError::Mismatch {
            provider,
            why: "it is not the key this store is sealed under",
        });
    }
    Ok(root)
}

/// Whether `root` opens the store's check value (which the store has: its
/// current root key was checked first, so nothing is written).
async fn opens(store: &dyn Store, root: &dyn RootKey) -> Result<bool, RootKeyError> {
    match trent_core::verify_root_key(store, root).await {
        Ok(()) => Ok(true),
        Err(RootKeyCheck::Mismatch) => Ok(false),
        Err(RootKeyCheck::Store(e)) => Err(e.into()),
        Err(RootKeyCheck::Seal(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PassphraseSource, open_root_key};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use trent_core::KeyStore;
    use trent_store::SqliteStore;

    async fn rotate(store: &SqliteStore, old: &dyn RootKey, next: &NextRootKey) {
        store
            .reseal(
                |what, sealed| match what {
                    trent_core::rotation::Sealed::Meta { name }
                        if PROVIDER_META.contains(&name) =>
                    {
                        Ok(None)
                    }
                    _ => trent_core::rotation::reseal(old, next.root.as_ref(), what, sealed)
                        .map_err(|e| trent_core::StoreError::Corrupt(e.to_string())),
                },
                &next.meta_set,
                &next.meta_delete,
            )
            .await
            .unwrap();
    }

    fn passphrase_file(path: &Path, text: &str) -> RootKeySpec {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        RootKeySpec::Passphrase(PassphraseSource::File(path.to_owned()))
    }

    /// file A → file B → passphrase → another passphrase: each next key
    /// is made without writing to the store, and after the re-seal only it
    /// opens the store; the current key, or the same passphrase, is
    /// refused as the next one.
    #[tokio::test]
    async fn makes_the_next_key_without_writing_and_refuses_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("trent.db"))
            .await
            .unwrap();
        let file_a = RootKeySpec::File(dir.path().join("a.key"));
        let a = open_root_key(&file_a, &store, true).await.unwrap();
        let check = store.meta("root-key-check").await.unwrap().unwrap();

        let error = prepare_rotation(&file_a, &store).await.err().unwrap();
        assert!(matches!(error, RootKeyError::SameKey { .. }), "{error}");

        let file_b = RootKeySpec::File(dir.path().join("b.key"));
        let next = prepare_rotation(&file_b, &store).await.unwrap();
        assert!(next.meta_set.is_empty());
        assert_eq!(next.meta_delete, PROVIDER_META);
        assert_eq!(store.meta("root-key-check").await.unwrap().unwrap(), check);
        // Made again (a second run): the same key file, the same key.
        let again = prepare_rotation(&file_b, &store).await.unwrap();
        let sealed = next.root.seal(b"aad", b"x").unwrap();
        assert_eq!(&again.root.unseal(b"aad", &sealed).unwrap()[..], b"x");
        assert!(open_rotated(&file_b, &store).await.is_err());
        rotate(&store, a.as_ref(), &next).await;
        let error = open_root_key(&file_a, &store, false).await.err().unwrap();
        assert!(matches!(error, RootKeyError::Mismatch { .. }), "{error}");
        let b = open_root_key(&file_b, &store, false).await.unwrap();
        open_rotated(&file_b, &store).await.unwrap();

        let first = passphrase_file(&dir.path().join("first"), "first passphrase");
        let next = prepare_rotation(&first, &store).await.unwrap();
        assert_eq!(next.meta_set[0].0, passphrase::META);
        assert_eq!(next.meta_delete, [kms::META]);
        assert_eq!(store.meta(passphrase::META).await.unwrap(), None);
        rotate(&store, b.as_ref(), &next).await;
        let p1 = open_root_key(&first, &store, false).await.unwrap();
        assert!(open_root_key(&file_b, &store, false).await.is_err());

        // The same passphrase again: refused, nothing written.
        let params = store.meta(passphrase::META).await.unwrap();
        let same = passphrase_file(&dir.path().join("same"), "first passphrase");
        let error = prepare_rotation(&same, &store).await.err().unwrap();
        assert!(
            error
                .to_string()
                .contains("is the store's current root key: nothing to rotate"),
            "{error}"
        );
        let second = passphrase_file(&dir.path().join("second"), "second passphrase");
        let next = prepare_rotation(&second, &store).await.unwrap();
        assert_ne!(Some(&next.meta_set[0].1), params.as_ref());
        assert_eq!(store.meta(passphrase::META).await.unwrap(), params);
        rotate(&store, p1.as_ref(), &next).await;
        assert!(open_root_key(&first, &store, false).await.is_err());
        open_root_key(&second, &store, false).await.unwrap();
        open_rotated(&second, &store).await.unwrap();
    }
}
