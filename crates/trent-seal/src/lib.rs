//! Root keys: what seals every key's material at rest.
//!
//! [`FileRootKey`] keeps a random 256-bit key in `DATA_DIR/root.key`
//! (created with mode 0600 at first start). Passphrase and PKCS#11 root keys
//! will implement the same [`trent_core::RootKey`] trait.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use trent_core::{RootKey, SealError};
use trent_crypto::{KEY_LEN, SymmetricKey};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    #[error("root key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("root key file {path} must hold exactly {KEY_LEN} bytes")]
    BadLength { path: PathBuf },
    #[error("root key file {path} is readable by others (mode {mode:o}); it must be 0600")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("cryptographic failure building the root key")]
    Crypto,
}

/// A root key held in a file.
pub struct FileRootKey {
    key: SymmetricKey,
}

impl FileRootKey {
    /// Opens `path`, or creates it with a fresh random key (mode 0600,
    /// fsynced with its directory) if it does not exist.
    pub fn open_or_create(path: &Path) -> Result<Self, RootKeyError> {
        let io = |source| RootKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut file) => {
                trent_crypto::random_bytes(bytes.as_mut()).map_err(|_| RootKeyError::Crypto)?;
                file.write_all(bytes.as_ref()).map_err(io)?;
                file.sync_all().map_err(io)?;
                if let Some(dir) = path.parent() {
                    File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mut file = File::open(path).map_err(io)?;
                let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(RootKeyError::Permissions {
                        path: path.to_owned(),
                        mode,
                    });
                }
                let mut contents = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
                file.read_to_end(&mut contents).map_err(io)?;
                if contents.len() != KEY_LEN {
                    return Err(RootKeyError::BadLength {
                        path: path.to_owned(),
                    });
                }
                bytes.copy_from_slice(&contents);
            }
            Err(e) => return Err(io(e)),
        }
        let key = SymmetricKey::from_bytes(bytes.as_ref()).map_err(|_| RootKeyError::Crypto)?;
        Ok(Self { key })
    }
}

impl RootKey for FileRootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        trent_crypto::seal::seal(&self.key, aad, plaintext)
            .map_err(|_| SealError::Unavailable("sealing failed".into()))
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        trent_crypto::seal::open(&self.key, aad, sealed).map_err(|_| SealError::Unauthentic)
    }
}

/// Makes sure `dir` exists; data directories hold secrets, so they are 0700.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_0600_and_reopens_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let first = FileRootKey::open_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sealed = first.seal(b"aad", b"material").unwrap();
        let second = FileRootKey::open_or_create(&path).unwrap();
        assert_eq!(&second.unseal(b"aad", &sealed).unwrap()[..], b"material");
        assert!(matches!(
            second.unseal(b"other", &sealed),
            Err(SealError::Unauthentic)
        ));
    }

    #[test]
    fn refuses_a_world_readable_or_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        fs::write(&path, [0u8; KEY_LEN]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            FileRootKey::open_or_create(&path),
            Err(RootKeyError::Permissions { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, [0u8; 5]).unwrap();
        assert!(matches!(
            FileRootKey::open_or_create(&path),
            Err(RootKeyError::BadLength { .. })
        ));
    }
}
