//! `file:PATH`: 32 random bytes in a file, made (mode 0600) at a new
//! installation's first start. Today's default: `file:DATA_DIR/root.key`.

use crate::{InMemoryRootKey, RootKeyError};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use trent_core::{RootKey, SealError};
use trent_crypto::KEY_LEN;
use zeroize::Zeroizing;

/// A root key held in a file.
pub struct FileRootKey {
    key: InMemoryRootKey,
}

impl FileRootKey {
    /// Opens `path`, or creates it with a fresh random key (mode 0600,
    /// fsynced with its directory) if it does not exist.
    pub fn open_or_create(path: &Path) -> Result<Self, RootKeyError> {
        let io = |source| RootKeyError::Io {
            what: "root key file",
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
                        what: "root key file",
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
        Ok(Self {
            key: InMemoryRootKey::new(&bytes)?,
        })
    }
}

impl RootKey for FileRootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.key.seal(aad, plaintext)
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        self.key.unseal(aad, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
