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
    /// fsynced with its directory) if it does not exist. The new file is
    /// written beside (`PATH.new-PID`) and renamed into place without
    /// replacing anything: a process killed meanwhile leaves no short key
    /// file at `path` (at worst the unused `PATH.new-PID`), and of two
    /// processes making it at once, both end with the one that won.
    pub fn open_or_create(path: &Path) -> Result<Self, RootKeyError> {
        let io = |source| RootKeyError::Io {
            what: "root key file",
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            create(path).map_err(io)?;
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
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
        Ok(Self {
            key: InMemoryRootKey::new(&bytes)?,
        })
    }
}

/// Writes a new random key to `path`, whole or not at all.
fn create(path: &Path) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".new-{}", std::process::id()));
    let partial = std::path::PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    trent_crypto::random_bytes(bytes.as_mut())
        .map_err(|_| std::io::Error::other("no randomness for the root key"))?;
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)?;
        file.write_all(bytes.as_ref())?;
        file.sync_all()?;
        match rustix::fs::renameat_with(
            rustix::fs::CWD,
            &partial,
            rustix::fs::CWD,
            path,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {}
            // Another process made it first: its key is the one.
            Err(rustix::io::Errno::EXIST) => std::fs::remove_file(&partial)?,
            Err(e) => return Err(std::io::Error::from(e)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
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
