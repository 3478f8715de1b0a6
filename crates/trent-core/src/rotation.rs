//! Root-key rotation, the domain's part: which values of a store are sealed
//! under the root key, with which AAD, and how one is re-sealed under a new
//! root key. The store reads and rewrites every sealed row in one
//! transaction (`trent-store`, `SqliteStore::reseal`), the providers make
//! the new key (`trent-seal`, `prepare_rotation`), and `trent root-key
//! rotate` runs the whole.

use crate::store::{ROOT_KEY_CHECK, ROOT_KEY_CHECK_AAD};
use crate::{RootKey, SealError, audit};
use std::fmt;
use uuid::Uuid;

/// Name of the sealed pagination-marker key in the store's `meta` table.
pub const MARKER_KEY_META: &str = "marker-key";
/// AAD of the sealed pagination-marker key.
pub const MARKER_KEY_AAD: &[u8] = b"meta:marker-key";

/// Name of the sealed key of imported material's digests (the one that
/// tells the same material imported again from another) in `meta`.
pub const IMPORT_DIGEST_KEY_META: &str = "import-digest-key";
/// AAD of the sealed import-digest key.
pub const IMPORT_DIGEST_KEY_AAD: &[u8] = b"meta:import-digest-key";

/// The `meta` values sealed under the root key, with their AAD. Every other
/// `meta` value is public (a provider's parameters, bookkeeping).
pub const SEALED_META: [(&str, &[u8]); 4] = [
    (ROOT_KEY_CHECK, ROOT_KEY_CHECK_AAD),
    (MARKER_KEY_META, MARKER_KEY_AAD),
    (IMPORT_DIGEST_KEY_META, IMPORT_DIGEST_KEY_AAD),
    (audit::SIGNING_KEY_META, audit::SIGNING_KEY_AAD),
];

/// The `meta` values Trent keeps in the clear (besides a root-key
/// provider's parameters, which `trent-seal` names): a rotation leaves
/// them. Any other name not in [`SEALED_META`] stops a rotation, so that a
/// value sealed under the old root key is never left behind unknown.
pub const PUBLIC_META: [&str; 2] = [
    // SQLite's bookkeeping of the audit blocks' account index.
    "audit-accounts-indexed-from",
    audit::usage::TRACKING_START_META,
];

/// A value of the store that may be sealed under the root key, named by
/// what identifies it (and so its AAD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sealed<'a> {
    /// A key's material version (`key_materials.sealed`).
    Material { key_id: Uuid, version: u32 },
    /// An access key's secret (`credentials.sealed_secret`): roots',
    /// users' and sessions'.
    Credential { access_key_id: &'a str },
    /// A value of the `meta` table: sealed if [`SEALED_META`] names it.
    Meta { name: &'a str },
}

impl Sealed<'_> {
    /// The AAD the value is sealed with; `None`: a `meta` value that is not
    /// sealed.
    pub fn aad(&self) -> Option<Vec<u8>> {
        match self {
            Sealed::Material { key_id, version } => {
                Some(crate::service::material_aad(key_id, *version))
            }
            Sealed::Credential { access_key_id } => Some(crate::iam::credential_aad(access_key_id)),
            Sealed::Meta { name } => SEALED_META
                .iter()
                .find(|(sealed, _)| sealed == name)
                .map(|(_, aad)| aad.to_vec()),
        }
    }
}

/// Names the value, never its contents.
impl fmt::Display for Sealed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sealed::Material { key_id, version } => {
                write!(f, "key {key_id}'s material version {version}")
            }
            Sealed::Credential { access_key_id } => {
                write!(f, "access key {access_key_id}'s secret")
            }
            Sealed::Meta { name } => write!(f, "the store's {name:?} value"),
        }
    }
}

/// A value that could not be re-sealed, and why.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("re-sealing {what}: {source}")]
    Seal {
        what: String,
        #[source]
        source: SealError,
    },
    #[error(
        "the store's {name:?} value is not one this Trent knows (sealed or not), so it cannot re-seal it; nothing was changed"
    )]
    UnknownMeta { name: String },
}

/// Re-seals one value: unsealed under `old` (into a zeroizing buffer) and
/// sealed under `new` with the same AAD. `Ok(None)`: a public `meta` value
/// ([`PUBLIC_META`]), to be left as it is. A `meta` value neither sealed
/// nor public is refused (a root-key provider's parameters are the
/// caller's to leave).
pub fn reseal(
    old: &dyn RootKey,
    new: &dyn RootKey,
    what: Sealed<'_>,
    sealed: &[u8],
) -> Result<Option<Vec<u8>>, ResealError> {
    let aad = match what {
        Sealed::Meta { name } => match what.aad() {
            Some(aad) => aad,
            None if PUBLIC_META.contains(&name) => return Ok(None),
            None => {
                return Err(ResealError::UnknownMeta {
                    name: name.to_owned(),
                });
            }
        },
        Sealed::Material { key_id, version } => crate::service::material_aad(&key_id, version),
        Sealed::Credential { access_key_id } => crate::iam::credential_aad(access_key_id),
    };
    let fail = |source| ResealError::Seal {
        what: what.to_string(),
        source,
    };
    let plaintext = old.unseal(&aad, sealed).map_err(fail)?;
    new.seal(&aad, &plaintext).map(Some).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trent_crypto::SymmetricKey;
    use zeroize::Zeroizing;

    struct TestRoot(SymmetricKey);

    impl TestRoot {
        fn new(byte: u8) -> Self {
            TestRoot(SymmetricKey::from_bytes(&[byte; 32]).unwrap())
        }
    }

    impl RootKey for TestRoot {
        fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
            trent_crypto::seal::seal(&self.0, aad, plaintext)
                .map_err(|_| SealError::Unavailable("sealing".into()))
        }
        fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
            trent_crypto::seal::open(&self.0, aad, sealed).map_err(|_| SealError::Unauthentic)
        }
    }

    #[test]
    fn reseals_each_kind_under_its_own_aad() {
        let (old, new) = (TestRoot::new(1), TestRoot::new(2));
        let id = Uuid::new_v4();
        let cases = [
            (
                Sealed::Material {
                    key_id: id,
                    version: 3,
                },
                crate::service::material_aad(&id, 3),
            ),
            (
                Sealed::Credential {
                    access_key_id: "AKIAEXAMPLE",
                },
                b"credential:AKIAEXAMPLE".to_vec(),
            ),
            (
                Sealed::Meta {
                    name: "root-key-check",
                },
                b"meta:root-key-check".to_vec(),
            ),
            (
                Sealed::Meta { name: "marker-key" },
                b"meta:marker-key".to_vec(),
            ),
            (
                Sealed::Meta {
                    name: "audit-signing-key",
                },
                b"audit-signing-key".to_vec(),
            ),
        ];
        for (what, aad) in cases {
            let sealed = old.seal(&aad, b"secret").unwrap();
            let resealed = reseal(&old, &new, what, &sealed).unwrap().unwrap();
            assert_eq!(&new.unseal(&aad, &resealed).unwrap()[..], b"secret");
            assert!(old.unseal(&aad, &resealed).is_err(), "{what}");
            // Under another identity's AAD it does not open: nothing swapped.
            assert!(new.unseal(b"other", &resealed).is_err());
        }
    }

    #[test]
    fn leaves_public_values_and_refuses_what_the_old_key_did_not_seal() {
        let (old, new) = (TestRoot::new(1), TestRoot::new(2));
        let public = Sealed::Meta {
            name: "key-usage-tracking-start",
        };
        assert_eq!(reseal(&old, &new, public, b"1700000000000").unwrap(), None);
        let unknown = Sealed::Meta {
            name: "some-later-secret",
        };
        let error = reseal(&old, &new, unknown, b"sealed").unwrap_err();
        assert!(
            matches!(&error, ResealError::UnknownMeta { name } if name == "some-later-secret"),
            "{error}"
        );
        let what = Sealed::Credential {
            access_key_id: "AKIAEXAMPLE",
        };
        let foreign = new.seal(b"credential:AKIAEXAMPLE", b"secret").unwrap();
        let error = reseal(&old, &new, what, &foreign).unwrap_err();
        assert!(matches!(
            error,
            ResealError::Seal {
                source: SealError::Unauthentic,
                ..
            }
        ));
        assert_eq!(
            error.to_string(),
            "re-sealing access key AKIAEXAMPLE's secret: sealed data failed authentication under the root key"
        );
    }
}
