//! `trent backup`, `trent backup verify`, `trent restore`: a data
//! directory's store, copied while its server runs, checked without being
//! restored, and restored into a new data directory.
//!
//! A backup file is `MAGIC`, one line of JSON (the header), then the
//! database: a consistent SQLite snapshot (`VACUUM INTO`). It holds what
//! the store holds, so key material only sealed under the root key; never
//! the root key itself (nor a passphrase, a PIN, an HSM's key). The
//! header's SHA-256 of the database catches a damaged copy. PostgreSQL
//! stores are backed up with PostgreSQL's tools (README).

use crate::admin::{StoreArgs, open_store, record_operator_event, verify_trail};
use anyhow::Context;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trent_core::audit;
use trent_store::SqliteStore;

/// The first line of every backup file (the format's version in it).
const MAGIC: &[u8] = b"TRENT-BACKUP 1\n";
/// The store's values that hold a root-key provider's public parameters
/// (`trent-seal`): a restore needs the secret they go with.
const ROOT_KEY_PARAMETERS: [&str; 2] = trent_seal::rotation::PROVIDER_META;

/// What the header says of the database that follows it.
struct Header {
    created_ms: i64,
    length: u64,
    sha256: String,
    keys: usize,
    events: i64,
    /// Which of `ROOT_KEY_PARAMETERS` the store holds.
    root_key_parameters: Vec<String>,
}

impl Header {
    fn to_json(&self) -> String {
        serde_json::json!({
            "created": audit::iso8601(self.created_ms),
            "created_ms": self.created_ms,
            "store": "sqlite",
            "length": self.length,
            "sha256": self.sha256,
            "keys": self.keys,
            "events": self.events,
            "root_key_parameters": self.root_key_parameters,
        })
        .to_string()
    }

    fn parse(line: &[u8]) -> anyhow::Result<Self> {
        let v: serde_json::Value =
            serde_json::from_slice(line).context("the backup's header is not JSON")?;
        let text = |name: &str| {
            v[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("the backup's header has no {name}"))
        };
        let number = |name: &str| {
            v[name]
                .as_i64()
                .with_context(|| format!("the backup's header has no {name}"))
        };
        anyhow::ensure!(
            v["store"] == "sqlite",
            "the backup holds a store Trent cannot restore: {}",
            v["store"]
        );
        Ok(Self {
            created_ms: number("created_ms")?,
            length: number("length")?.try_into().context("a negative length")?,
            sha256: text("sha256")?,
            keys: number("keys")?.try_into().context("a negative key count")?,
            events: number("events")?,
            root_key_parameters: v["root_key_parameters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// A new file, 0600, that must not exist yet.
fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Flushes a directory's entries (a rename or a new file in it).
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How many keys the store holds, in every account and Region.
async fn count_keys(store: &SqliteStore) -> anyhow::Result<usize> {
    use trent_core::KeyStore;
    let mut count = 0;
    let mut after = None;
    loop {
        let page = store.load_keys(after, 500).await?;
        let Some((last, _, _)) = page.last() else {
            return Ok(count);
        };
        after = Some(last.id);
        count += page.len();
    }
}

/// `trent backup --data-dir DIR --out FILE`: works while the server runs.
pub async fn backup(data_dir: &Path, out: &Path) -> anyhow::Result<()> {
    let db = data_dir.join("trent.db");
    anyhow::ensure!(
        db.exists(),
        "{} holds no Trent data (no trent.db)",
        data_dir.display()
    );
    anyhow::ensure!(
        !out.exists(),
        "{} exists: a backup is never written over a file",
        out.display()
    );
    let store = SqliteStore::open(&db).await.context("opening the store")?;
    // The snapshot, then the file made from it, beside the output, so the
    // last step is a rename within one directory.
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = tempfile::Builder::new()
        .prefix(".trent-backup-")
        .tempdir_in(dir)
        .with_context(|| format!("making a working directory in {}", dir.display()))?;
    let snapshot = work.path().join("snapshot.db");
    let created_ms = trent_core::now_millis();
    store
        .snapshot_into(&snapshot)
        .await
        .context("taking the snapshot")?;
    let taken = SqliteStore::open(&snapshot)
        .await
        .context("opening the snapshot")?;
    let mut root_key_parameters = Vec::new();
    for name in ROOT_KEY_PARAMETERS {
        if trent_core::KeyStore::meta(&taken, name).await?.is_some() {
            root_key_parameters.push(name.to_owned());
        }
    }
    let keys = count_keys(&taken).await?;
    let events = trent_core::AuditStore::audit_tail(&taken)
        .await?
        .last_event
        .map_or(0, |(seq, _)| seq);
    drop(taken);
    let bytes = std::fs::read(&snapshot).context("reading the snapshot")?;
    let header = Header {
        created_ms,
        length: bytes.len() as u64,
        sha256: hex(&trent_crypto::sha256(&bytes)),
        keys,
        events,
        root_key_parameters,
    };
    let partial = work.path().join("backup");
    let mut file = create_private(&partial)?;
    file.write_all(MAGIC)?;
    file.write_all(header.to_json().as_bytes())?;
    file.write_all(b"\n")?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    sync_dir(dir)?;
    println!(
        "backed up {} keys and {} audit events ({} bytes) to {}",
        header.keys,
        header.events,
        header.length,
        out.display()
    );
    println!("{}", restore_needs(&header));
    Ok(())
}

/// What the operator must hold, besides the backup, to restore it.
fn restore_needs(header: &Header) -> String {
    let root = if header
        .root_key_parameters
        .iter()
        .any(|p| p == trent_seal::passphrase::META)
    {
        "its passphrase (--root-key passphrase)"
    } else if header
        .root_key_parameters
        .iter()
        .any(|p| p == trent_seal::kms::META)
    {
        "access to the outer KMS key (--root-key kms:...)"
    } else {
        "its root key: the root.key file or the HSM key (--root-key file:... or pkcs11:...)"
    };
    format!("restoring it needs {root}; the backup does not hold it")
}

/// A backup file read and checked: its header and database bytes.
fn read_backup(file: &Path) -> anyhow::Result<(Header, Vec<u8>)> {
    let all = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let rest = all
        .strip_prefix(MAGIC)
        .context("not a Trent backup (or of a format this Trent does not know)")?;
    let newline = rest
        .iter()
        .position(|b| *b == b'\n')
        .context("the backup's header is cut short")?;
    let header = Header::parse(&rest[..newline])?;
    let bytes = &rest[newline + 1..];
    anyhow::ensure!(
        bytes.len() as u64 == header.length,
        "DAMAGED: the backup holds {} bytes of database, its header says {}",
        bytes.len(),
        header.length
    );
    anyhow::ensure!(
        hex(&trent_crypto::sha256(bytes)) == header.sha256,
        "DAMAGED: the database's SHA-256 is not the one its header recorded"
    );
    Ok((header, bytes.to_vec()))
}

/// `trent backup verify FILE [--public-key HEX]`: the checksum, SQLite's
/// integrity check, the keys counted, and the audit trail's chain and
/// digests (their signatures with the trail's public key, from `trent audit
/// public-key`), all on a copy in a temporary directory.
pub async fn verify(file: &Path, public_key: Option<&str>) -> anyhow::Result<()> {
    let public_key = public_key
        .map(|h| crate::admin::unhex(h).context("--public-key must be hex"))
        .transpose()?;
    let (header, bytes) = read_backup(file)?;
    let work = tempfile::tempdir().context("making a temporary directory")?;
    let db = work.path().join("trent.db");
    create_private(&db)?.write_all(&bytes)?;
    let store = SqliteStore::open(&db)
        .await
        .context("DAMAGED: the database does not open")?;
    if let Some(problems) = store.integrity_problems().await? {
        anyhow::bail!("DAMAGED: SQLite's integrity check: {problems}");
    }
    let keys = count_keys(&store).await?;
    anyhow::ensure!(
        keys == header.keys,
        "DAMAGED: the backup holds {keys} keys, its header says {}",
        header.keys
    );
    let store: Arc<dyn trent_core::Store> = Arc::new(store);
    let report = verify_trail(store.as_ref(), public_key.as_deref()).await?;
    println!(
        "OK: a backup of {}: {} keys; trail of {} events, {} digests, signed through seq {}{}",
        audit::iso8601(header.created_ms),
        keys,
        report.events,
        report.digests,
        report.signed_through,
        if public_key.is_some() {
            ""
        } else {
            " (signatures not checked: give --public-key)"
        }
    );
    println!("{}", restore_needs(&header));
    Ok(())
}

/// `trent restore FILE --data-dir NEWDIR [--root-key SPEC]`: the backup's
/// store becomes NEWDIR's, opened with its root key (by default
/// NEWDIR/root.key, copied there first) and checked against it; the trail
/// records the restore. Refused, leaving nothing behind, when NEWDIR
/// already holds a store or the root key does not open the backup's.
pub async fn restore(file: &Path, at: &StoreArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        at.database_url.is_none(),
        "trent restore makes a data directory; a PostgreSQL store is restored with PostgreSQL's tools (README: Keys at rest)"
    );
    let (header, bytes) = read_backup(file)?;
    trent_seal::ensure_private_dir(&at.data_dir)
        .with_context(|| format!("creating {}", at.data_dir.display()))?;
    let db = at.data_dir.join("trent.db");
    anyhow::ensure!(
        !db.exists(),
        "{} already holds a store: restore into a new data directory",
        at.data_dir.display()
    );
    let partial: PathBuf = at.data_dir.join(".trent.db.restoring");
    let _ = std::fs::remove_file(&partial);
    let mut out = create_private(&partial)?;
    out.write_all(&bytes)?;
    out.sync_all()?;
    drop(out);
    std::fs::rename(&partial, &db)?;
    sync_dir(&at.data_dir)?;
    match record_restore(file, &header, at).await {
        Ok(()) => {
            println!(
                "restored {} keys and {} audit events from a backup of {} into {}",
                header.keys,
                header.events,
                audit::iso8601(header.created_ms),
                at.data_dir.display()
            );
            Ok(())
        }
        Err(e) => {
            // Nothing left behind: the directory is as it was.
            for name in ["trent.db", "trent.db-wal", "trent.db-shm"] {
                let _ = std::fs::remove_file(at.data_dir.join(name));
            }
            Err(e.context("the restore was undone"))
        }
    }
}

/// Opens the restored store with its root key and records the restore in
/// its trail, as a service event in every account's.
async fn record_restore(file: &Path, header: &Header, at: &StoreArgs) -> anyhow::Result<()> {
    let sqlite = SqliteStore::open(&at.data_dir.join("trent.db")).await?;
    let accounts = sqlite.accounts().await?;
    drop(sqlite);
    let (store, root) = open_store(at, false).await?;
    let parameters = serde_json::json!({
        "backupFile": file.display().to_string(),
        "backupCreated": audit::iso8601(header.created_ms),
    });
    record_operator_event(store, &root, accounts, "RestoreBackup", parameters).await
}
