//! `passphrase`: the root key derived with Argon2id from a passphrase.
//!
//! The salt and the Argon2 parameters are public: a new installation makes
//! them once (a random 128-bit salt, [`DEFAULT_PARAMS`]) and keeps them in
//! the store's `meta` table under [`META`], in the PHC string format without
//! a hash: `$argon2id$v=19$m=19456,t=2,p=1$SALT` (SALT in unpadded base64).
//! Every node on one PostgreSQL store reads the same ones; a later change of
//! parameters is a change of that value. The passphrase is read from
//! `TRENT_ROOT_PASSPHRASE`, a file (`passphrase:file:PATH`) or the
//! terminal. The passphrase and the derived key live in zeroizing buffers.

use crate::{InMemoryRootKey, PassphraseSource, RootKeyError};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use std::io::IsTerminal;
use trent_core::Store;
use trent_crypto::KEY_LEN;
use zeroize::Zeroizing;

/// The store's `meta` entry holding the salt and parameters.
pub const META: &str = "root-key-passphrase";

/// The variable holding the passphrase.
pub const ENV: &str = "TRENT_ROOT_PASSPHRASE";

/// The variable holding the new passphrase of `trent root-key rotate --to
/// passphrase`.
pub const NEW_ENV: &str = "TRENT_NEW_ROOT_PASSPHRASE";

/// A new installation's parameters: OWASP's recommendation for Argon2id
/// (19 MiB of memory, 2 passes, 1 lane).
pub const DEFAULT_PARAMS: KdfParams = KdfParams {
    memory_kib: 19 * 1024,
    passes: 2,
    lanes: 1,
    salt: Vec::new(),
};

const SALT_LEN: usize = 16;

/// Argon2id's parameters and salt, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub passes: u32,
    pub lanes: u32,
    pub salt: Vec<u8>,
}

impl KdfParams {
    /// [`DEFAULT_PARAMS`] with a fresh random salt.
    pub fn new_random() -> Result<Self, RootKeyError> {
        let mut salt = vec![0u8; SALT_LEN];
        trent_crypto::random_bytes(&mut salt).map_err(|_| RootKeyError::Crypto)?;
        Ok(KdfParams {
            salt,
            ..DEFAULT_PARAMS
        })
    }

    /// The stored form: `$argon2id$v=19$m=M,t=T,p=P$SALT`.
    pub fn encode(&self) -> String {
        format!(
            "$argon2id$v=19$m={},t={},p={}${}",
            self.memory_kib,
            self.passes,
            self.lanes,
            STANDARD_NO_PAD.encode(&self.salt)
        )
    }

    pub fn decode(stored: &[u8]) -> Result<Self, RootKeyError> {
        let bad = |reason: &str| RootKeyError::PassphraseParameters {
            name: META,
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(stored).map_err(|_| bad("not text"))?;
        let parts: Vec<&str> = text.split('$').collect();
        let ["", "argon2id", "v=19", params, salt] = parts.as_slice() else {
            return Err(bad("not $argon2id$v=19$m=M,t=T,p=P$SALT"));
        };
        let (mut memory_kib, mut passes, mut lanes) = (None, None, None);
        for param in params.split(',') {
            let (name, value) = param.split_once('=').ok_or_else(|| bad("a parameter"))?;
            let value: u32 = value.parse().map_err(|_| bad("a parameter's value"))?;
            match name {
                "m" => memory_kib = Some(value),
                "t" => passes = Some(value),
                "p" => lanes = Some(value),
                _ => return Err(bad("an unknown parameter")),
            }
        }
        let params = KdfParams {
            memory_kib: memory_kib.ok_or_else(|| bad("no m"))?,
            passes: passes.ok_or_else(|| bad("no t"))?,
            lanes: lanes.ok_or_else(|| bad("no p"))?,
            salt: STANDARD_NO_PAD
                .decode(salt)
                .map_err(|_| bad("the salt is not base64"))?,
        };
        // Bounds, so that a changed value cannot make a start take hours or
        // all the memory: up to 4 GiB, 64 passes, 16 lanes.
        if params.memory_kib > 4 * 1024 * 1024 || params.passes > 64 || params.lanes > 16 {
            return Err(bad(
                "beyond Trent's bounds (m <= 4194304, t <= 64, p <= 16)",
            ));
        }
        if params.salt.len() < 8 {
            return Err(bad("the salt is shorter than 8 bytes"));
        }
        params.argon2()?;
        Ok(params)
    }

    fn argon2(&self) -> Result<Argon2<'static>, RootKeyError> {
        let params =
            Params::new(self.memory_kib, self.passes, self.lanes, Some(KEY_LEN)).map_err(|e| {
                RootKeyError::PassphraseParameters {
                    name: META,
                    reason: e.to_string(),
                }
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// The root key derived from `passphrase`.
    pub fn derive(&self, passphrase: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, RootKeyError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        self.argon2()?
            .hash_password_into(passphrase, &self.salt, key.as_mut())
            .map_err(|e| RootKeyError::PassphraseParameters {
                name: META,
                reason: e.to_string(),
            })?;
        Ok(key)
    }
}

/// The passphrase root key of `store`. A new installation stores a fresh
/// salt and parameters first; any other store must have them. Nothing is
/// written before the passphrase is had.
pub(crate) async fn open(
    source: &PassphraseSource,
    provider: &str,
    store: &dyn Store,
    new_installation: bool,
) -> Result<InMemoryRootKey, RootKeyError> {
    open_from(source, ENV, provider, store, new_installation).await
}

/// [`open`], the passphrase in `env` rather than [`ENV`] (for a rotation's
/// new passphrase, [`NEW_ENV`]).
pub(crate) async fn open_from(
    source: &PassphraseSource,
    env: &'static str,
    provider: &str,
    store: &dyn Store,
    new_installation: bool,
) -> Result<InMemoryRootKey, RootKeyError> {
    let stored = store.meta(META).await?;
    if stored.is_none() && !new_installation {
        return Err(RootKeyError::NotFromProvider {
            provider: provider.to_owned(),
            missing: "passphrase parameters",
            kind: "a passphrase",
        });
    }
    let passphrase = read_passphrase(source, env, stored.is_none())?;
    let params = match stored {
        Some(stored) => KdfParams::decode(&stored)?,
        None => {
            let candidate = KdfParams::new_random()?.encode();
            // Of several nodes starting at once, all get the one stored.
            KdfParams::decode(&store.meta_secret(META, candidate.as_bytes()).await?)?
        }
    };
    let key = params.derive(&passphrase)?;
    InMemoryRootKey::new(&key)
}

/// The passphrase from its source (`env`: the variable of
/// `PassphraseSource::EnvironmentOrPrompt`). `confirm`: a new passphrase
/// typed on the terminal is asked twice.
pub(crate) fn read_passphrase(
    source: &PassphraseSource,
    env: &'static str,
    confirm: bool,
) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
    let (passphrase, from) = match source {
        PassphraseSource::File(path) => (
            crate::read_secret_file(path, "passphrase file")?,
            path.display().to_string(),
        ),
        PassphraseSource::EnvironmentOrPrompt => match std::env::var_os(env) {
            Some(value) => {
                use std::os::unix::ffi::OsStringExt;
                (Zeroizing::new(value.into_vec()), env.to_owned())
            }
            None if std::io::stdin().is_terminal() => {
                (prompt(confirm, env == NEW_ENV)?, "the terminal".into())
            }
            None => return Err(RootKeyError::NoPassphrase { env }),
        },
    };
    if passphrase.is_empty() {
        return Err(RootKeyError::EmptyPassphrase { from });
    }
    Ok(passphrase)
}

/// `new`: a rotation's new passphrase, asked as such.
fn prompt(confirm: bool, new: bool) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
    let ask = |question: &str| {
        rpassword::prompt_password(question)
            .map(|answer| Zeroizing::new(answer.into_bytes()))
            .map_err(|source| RootKeyError::Io {
                what: "reading the passphrase from",
                path: "the terminal".into(),
                source,
            })
    };
    let (question, again) = if new {
        (
            "New Trent root key passphrase: ",
            "The new passphrase again: ",
        )
    } else {
        (
            "Trent root key passphrase: ",
            "The same passphrase again (a new installation): ",
        )
    };
    let passphrase = ask(question)?;
    if confirm && *ask(again)? != *passphrase {
        return Err(RootKeyError::PassphrasesDiffer);
    }
    Ok(passphrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_round_trip_and_derivation_is_deterministic() {
        let params = KdfParams::new_random().unwrap();
        assert_eq!(params.salt.len(), SALT_LEN);
        assert_eq!(
            (params.memory_kib, params.passes, params.lanes),
            (19456, 2, 1)
        );
        let encoded = params.encode();
        assert!(
            encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{encoded}"
        );
        let decoded = KdfParams::decode(encoded.as_bytes()).unwrap();
        assert_eq!(decoded, params);

        let key = params.derive(b"correct horse").unwrap();
        assert_eq!(*decoded.derive(b"correct horse").unwrap(), *key);
        assert_ne!(*params.derive(b"correct horsf").unwrap(), *key);
        let other_salt = KdfParams::new_random().unwrap();
        assert_ne!(*other_salt.derive(b"correct horse").unwrap(), *key);
    }

    #[test]
    fn matches_argon2id_as_specified() {
        // RFC 9106's Argon2id test vector needs a secret and associated
        // data, which Trent does not use; this is the reference
        // implementation's (`argon2 password somesalt -id -t 2 -m 16 -p 1`)
        // output for m=64 MiB, t=2, p=1, 32 bytes.
        let params = KdfParams {
            memory_kib: 65536,
            passes: 2,
            lanes: 1,
            salt: b"somesalt".to_vec(),
        };
        let key = params.derive(b"password").unwrap();
        assert_eq!(
            key.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
        );
    }

    /// Through a real store: a new installation stores its parameters
    /// once; the same passphrase opens it again, another is refused with
    /// nothing written; a store sealed otherwise is not given parameters.
    #[tokio::test]
    async fn stores_its_parameters_once_and_writes_nothing_when_refused() {
        use crate::{RootKeySpec, open_root_key};
        use std::os::unix::fs::PermissionsExt;
        use trent_core::KeyStore;
        let dir = tempfile::tempdir().unwrap();
        let store = trent_store::SqliteStore::open(&dir.path().join("trent.db"))
            .await
            .unwrap();
        let file = dir.path().join("passphrase");
        let write = |text: &str| {
            std::fs::write(&file, text).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        };
        let spec = RootKeySpec::Passphrase(PassphraseSource::File(file.clone()));
        write("first\n");
        let root = open_root_key(&spec, &store, true).await.unwrap();
        let params = store.meta(META).await.unwrap().unwrap();
        let check = store.meta("root-key-check").await.unwrap().unwrap();
        let decoded = KdfParams::decode(&params).unwrap();
        assert_eq!(decoded.salt.len(), SALT_LEN);
        let sealed = root.seal(b"aad", b"material").unwrap();

        // The same passphrase (without its newline, too) on a later start.
        write("first");
        let again = open_root_key(&spec, &store, true).await.unwrap();
        assert_eq!(&again.unseal(b"aad", &sealed).unwrap()[..], b"material");
        assert_eq!(store.meta(META).await.unwrap().unwrap(), params);

        write("second\n");
        let error = open_root_key(&spec, &store, true).await.err().unwrap();
        assert!(matches!(error, RootKeyError::Mismatch { .. }), "{error}");
        assert_eq!(store.meta(META).await.unwrap().unwrap(), params);
        assert_eq!(store.meta("root-key-check").await.unwrap().unwrap(), check);

        // A store sealed under a root.key has no parameters and gets none.
        let other = tempfile::tempdir().unwrap();
        let file_store = trent_store::SqliteStore::open(&other.path().join("trent.db"))
            .await
            .unwrap();
        let root_file = RootKeySpec::File(other.path().join("root.key"));
        open_root_key(&root_file, &file_store, true).await.unwrap();
        let error = open_root_key(&spec, &file_store, true).await.err().unwrap();
        assert!(
            error
                .to_string()
                .contains("does not open this store: the store has no passphrase parameters"),
            "{error}"
        );
        assert_eq!(file_store.meta(META).await.unwrap(), None);
    }

    #[test]
    fn refuses_unusable_parameters() {
        let bad = |text: &str| KdfParams::decode(text.as_bytes()).unwrap_err().to_string();
        assert!(bad("$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ").contains("not $argon2id"));
        assert!(bad("$argon2id$v=19$m=19456,t=2$c29tZXNhbHQ").contains("no p"));
        assert!(bad("$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHQ").contains("bounds"));
        assert!(bad("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA").contains("shorter"));
        assert!(bad("$argon2id$v=19$m=19456,t=2,p=1,x=3$c29tZXNhbHQ").contains("unknown"));
        assert!(bad("$argon2id$v=19$m=1,t=2,p=1$c29tZXNhbHQ").starts_with("the store's"));
    }
}
