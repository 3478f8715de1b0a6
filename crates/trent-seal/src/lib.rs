//! Root keys: what seals every key's material at rest, and where it comes
//! from (`--root-key SPEC`, parsed in [`spec`]). One module per provider:
//!
//! - [`file`]: 32 random bytes in a file (`DATA_DIR/root.key` by default).
//! - [`passphrase`]: derived with Argon2id from a passphrase; salt and
//!   parameters in the store's `meta` table.
//! - [`pkcs11`]: a non-extractable AES-256 key in an HSM; every seal and
//!   unseal is AES-GCM inside the HSM.
//! - [`kms`]: a data key of another KMS (Trent or AWS KMS), kept wrapped in
//!   the store's `meta` table and unwrapped with `Decrypt` at every start.
//!
//! [`open_root_key`] opens the provider a spec names against a store and
//! checks, with the store's sealed check value
//! ([`trent_core::verify_root_key`]), that it is the store's root key.
//! A provider writes to the store only when it gives a new installation
//! its root key; an open that is refused has written nothing.
//! [`prepare_rotation`] makes a store's next root key without writing to
//! it (`trent root-key rotate`).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trent_core::{RootKey, RootKeyCheck, SealError, Store, StoreError};
use trent_crypto::{KEY_LEN, SymmetricKey};
use zeroize::Zeroizing;

pub mod file;
pub mod kms;
pub mod passphrase;
pub mod pkcs11;
pub mod rotation;
pub mod spec;

pub use file::FileRootKey;
pub use rotation::{NextRootKey, open_rotated, prepare_rotation};
pub use spec::{KmsSpec, PassphraseSource, Pkcs11Spec, RootKeySpec, SpecError};

/// Why a root key could not be had, or is not the store's. Never holds a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("root key file {path} must hold exactly {KEY_LEN} bytes")]
    BadLength { path: PathBuf },
    #[error("{what} {path} is readable by others (mode {mode:o}); it must be 0600")]
    Permissions {
        what: &'static str,
        path: PathBuf,
        mode: u32,
    },
    #[error("cryptographic failure building the root key")]
    Crypto,
    /// The provider gave a key, and it is not the one the store was sealed
    /// under.
    #[error("the root key from {provider} does not open this store: {why}")]
    Mismatch { provider: String, why: &'static str },
    /// The store holds sealed data but not what the provider needs to find
    /// its key (its parameters, its wrapped key): it was sealed under a
    /// root key from elsewhere.
    #[error(
        "the root key from {provider} does not open this store: the store has no {missing} (its root key did not come from {kind}), and it already holds data sealed under a root key, so Trent will not make a new one"
    )]
    NotFromProvider {
        provider: String,
        missing: &'static str,
        kind: &'static str,
    },
    #[error(
        "no passphrase for the root key: set {env}, use passphrase:file:PATH, or start Trent on a terminal to be asked for it"
    )]
    NoPassphrase { env: &'static str },
    /// `trent root-key rotate` was given the key the store is sealed under.
    #[error("the new root key ({provider}) is the store's current root key: nothing to rotate")]
    SameKey { provider: String },
    #[error("the root key's passphrase ({from}) is empty")]
    EmptyPassphrase { from: String },
    #[error("the passphrases typed differ")]
    PassphrasesDiffer,
    #[error("the store's passphrase parameters (meta {name:?}) are not usable: {reason}")]
    PassphraseParameters { name: &'static str, reason: String },
    #[error("no PIN for the PKCS#11 token {token:?}: set TRENT_PKCS11_PIN or give pin-file=PATH")]
    NoPin { token: String },
    #[error("loading the PKCS#11 module {module}: {reason}")]
    Pkcs11Module { module: PathBuf, reason: String },
    #[error("no PKCS#11 token labelled {token:?} in {module} (tokens: {found})")]
    Pkcs11NoToken {
        token: String,
        module: PathBuf,
        found: String,
    },
    #[error("the PKCS#11 token {token:?} refused the PIN ({reason})")]
    Pkcs11PinRefused { token: String, reason: String },
    #[error(
        "the PKCS#11 token {token:?} has no key labelled {key:?}: this store already holds data sealed under a root key, so Trent will not make a new key; check the token and key labels, or restore the HSM's key"
    )]
    Pkcs11NoKey { token: String, key: String },
    #[error(
        "the PKCS#11 token {token:?} has {count} keys labelled {key:?}: Trent cannot tell which is the root key"
    )]
    Pkcs11AmbiguousKey {
        token: String,
        key: String,
        count: usize,
    },
    #[error("PKCS#11 token {token:?}: {action}: {reason}")]
    Pkcs11 {
        token: String,
        action: &'static str,
        reason: String,
    },
    #[error("the KMS for the root key ({key}) could not be called: {reason}")]
    KmsUnreachable { key: String, reason: String },
    #[error("the KMS refused to {action} the root key with {key}: {code}: {message}")]
    KmsRefused {
        key: String,
        action: &'static str,
        code: String,
        message: String,
    },
    #[error("the KMS's answer for the root key ({key}) is unusable: {reason}")]
    KmsAnswer { key: String, reason: String },
    #[error("the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Opens the root key `spec` names for `store`, and checks that it is the
/// key the store was sealed under (by the store's sealed check value, not
/// by unsealing a real key).
///
/// `create`: the caller starts a new installation if the store is new. A
/// provider makes a new root key (or new parameters) only then, and only if
/// the store holds no sealed data yet. The file provider's own refusals (no
/// `root.key` beside an existing store) are the caller's, who knows the
/// store's files.
pub async fn open_root_key(
    spec: &RootKeySpec,
    store: &dyn Store,
    create: bool,
) -> Result<Arc<dyn RootKey>, RootKeyError> {
    let new_installation = create && !trent_core::holds_sealed_data(store).await?;
    let provider = spec.to_string();
    let root: Arc<dyn RootKey> = match spec {
        RootKeySpec::File(path) => Arc::new(FileRootKey::open_or_create(path)?),
        RootKeySpec::Passphrase(source) => {
            Arc::new(passphrase::open(source, &provider, store, new_installation).await?)
        }
        RootKeySpec::Pkcs11(spec) => Arc::new(pkcs11::Pkcs11RootKey::open(spec, new_installation)?),
        RootKeySpec::Kms(spec) => {
            Arc::new(kms::open(spec, &provider, store, new_installation).await?)
        }
    };
    match trent_core::verify_root_key(store, root.as_ref()).await {
        Ok(()) => Ok(root),
        Err(RootKeyCheck::Mismatch) => Err(RootKeyError::Mismatch {
            provider,
            why: match spec {
                RootKeySpec::File(_) => "it is not the key this store's material was sealed under",
                RootKeySpec::Passphrase(_) => {
                    "the passphrase is wrong (or this store's material was sealed under another root key)"
                }
                RootKeySpec::Pkcs11(_) => {
                    "the HSM's key is not the one this store's material was sealed under"
                }
                RootKeySpec::Kms(_) => {
                    "the KMS's data key is not the one this store's material was sealed under"
                }
            },
        }),
        Err(RootKeyCheck::Store(e)) => Err(e.into()),
        Err(RootKeyCheck::Seal(e)) => Err(e.into()),
    }
}

/// A root key held in memory (the file's, the passphrase's, the KMS's data
/// key): AES-256-GCM with `trent_crypto`'s sealed format.
pub(crate) struct InMemoryRootKey {
    key: SymmetricKey,
}

impl InMemoryRootKey {
    pub(crate) fn new(bytes: &[u8; KEY_LEN]) -> Result<Self, RootKeyError> {
        let key = SymmetricKey::from_bytes(bytes).map_err(|_| RootKeyError::Crypto)?;
        Ok(Self { key })
    }
}

impl RootKey for InMemoryRootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        trent_crypto::seal::seal(&self.key, aad, plaintext)
            .map_err(|_| SealError::Unavailable("sealing failed".into()))
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        trent_crypto::seal::open(&self.key, aad, sealed).map_err(|_| SealError::Unauthentic)
    }
}

/// The contents of a file holding a secret (a passphrase, a PIN), which
/// must be readable by its owner alone; one trailing newline is removed.
pub(crate) fn read_secret_file(
    path: &Path,
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
    let io = |source| RootKeyError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(RootKeyError::Permissions {
            what,
            path: path.to_owned(),
            mode,
        });
    }
    let mut contents = Zeroizing::new(Vec::new());
    file.read_to_end(&mut contents).map_err(io)?;
    if contents.ends_with(b"\n") {
        contents.pop();
        if contents.ends_with(b"\r") {
            contents.pop();
        }
    }
    Ok(contents)
}

/// Makes sure `dir` exists; data directories hold secrets, so they are 0700.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}
