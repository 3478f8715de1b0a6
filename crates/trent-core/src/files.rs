//! Files that hold secrets or the audit trail: created with mode 0600, and
//! never opened through a symbolic link (one planted at the path could
//! send a secret, or the trail, anywhere its owner may write).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

fn no_follow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// Opens `path` for appending, creating it with mode 0600. A symbolic link
/// at `path` is refused. An existing regular file must be the process
/// owner's, and loses any permission for group and others; a FIFO or a
/// device (a pipe to a log shipper) is used as it is.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(no_follow())
        .open(path)
        .map_err(|e| refused_link(path, e))?;
    let meta = file.metadata()?;
    if meta.file_type().is_file() {
        let uid = rustix::process::geteuid().as_raw();
        if meta.uid() != uid {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} belongs to uid {}, not to this process (uid {uid})",
                    path.display(),
                    meta.uid()
                ),
            ));
        }
        if meta.mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.mode() & 0o777),
                "existing file was readable by others; its mode is now 0600"
            );
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

/// Creates `path` with `contents` and `mode`: never over an existing file,
/// never through a symbolic link, the mode given at creation (and set again
/// when the umask would take a public file's read bits), synced.
pub fn create_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(no_follow())
        .open(path)
        .map_err(|e| refused_link(path, e))?;
    if mode & 0o044 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    file.write_all(contents)?;
    file.sync_all()
}

/// Writes `contents` to `path` as a new file of `mode`, whatever was there:
/// a fresh temporary file beside it ([`create_file`]), renamed over `path`
/// (a link at `path` is replaced, not followed), and the directory synced.
pub fn replace_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut suffix = [0u8; 8];
    trent_crypto::random_bytes(&mut suffix).map_err(|_| io::Error::other("no randomness"))?;
    let mut temporary = name.to_owned();
    temporary.push(".tmp-");
    for byte in suffix {
        temporary.push(format!("{byte:02x}"));
    }
    let temporary = dir.join(temporary);
    let written = create_file(&temporary, contents, mode)
        .and_then(|()| std::fs::rename(&temporary, path))
        .and_then(|()| File::open(dir)?.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// [`replace_file`] with mode 0600: a file that holds a secret.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace_file(path, contents, 0o600)
}

fn refused_link(path: &Path, e: io::Error) -> io::Error {
    // ELOOP: the last component is a symbolic link.
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; refusing to follow it",
                path.display()
            ),
        );
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn append_refuses_links_and_tightens_modes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"").unwrap();
        let link = dir.path().join("trail.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_private_append(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        let loose = dir.path().join("loose.jsonl");
        std::fs::write(&loose, b"old\n").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut file = open_private_append(&loose).unwrap();
        file.write_all(b"new\n").unwrap();
        assert_eq!(mode(&loose), 0o600);
        assert_eq!(std::fs::read(&loose).unwrap(), b"old\nnew\n");

        let fresh = dir.path().join("fresh.jsonl");
        open_private_append(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);
    }

    #[test]
    fn private_files_replace_links_and_loose_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"untouched").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = dir.path().join("root-credentials");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_private_file(&path, b"secret").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
        assert!(
            !std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(mode(&path), 0o600);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private_file(&path, b"again").unwrap();
        assert_eq!(mode(&path), 0o600);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "no temporary file is left behind");
    }
}
