//! `trent backup`, `trent backup verify` and `trent restore` on the real
//! binary: a backup taken under write load restores into a new data
//! directory where every key acknowledged before the backup began
//! decrypts its ciphertexts and the audit trail verifies.

use crate::common::*;
use aws_sdk_kms::primitives::Blob;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `trent ARGS`: whether it succeeded, its stdout and stderr.
fn trent(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(args)
        .env_remove("TRENT_DATA_DIR")
        .env_remove("TRENT_ROOT_KEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Ciphertexts a client was told were made: (ciphertext, plaintext).
type Acknowledged = Vec<(Vec<u8>, Vec<u8>)>;

async fn encrypt_with_new_key(kms: &aws_sdk_kms::Client, n: usize) -> (Vec<u8>, Vec<u8>) {
    let key = new_key(kms).await;
    let plaintext = format!("secret {n}").into_bytes();
    let out = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(plaintext.clone()))
        .send()
        .await
        .unwrap();
    (out.ciphertext_blob.unwrap().into_inner(), plaintext)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_key_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let mut before: Acknowledged = Vec::new();
    for n in 0..20 {
        before.push(encrypt_with_new_key(&kms, n).await);
    }
    // An alias and a grant, to be found in the restored directory too.
    let first = kms.list_keys().send().await.unwrap().keys()[0]
        .key_id()
        .unwrap()
        .to_owned();
    kms.create_alias()
        .alias_name("alias/kept")
        .target_key_id(&first)
        .send()
        .await
        .unwrap();
    kms.create_grant()
        .key_id(&first)
        .grantee_principal(format!("arn:aws:iam::{ACCOUNT}:root"))
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    // A restart: the trail closed with a signed digest (the backup's
    // signatures are checked below).
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();

    // Writers go on (new keys, their ciphertexts) while the backup is
    // taken; what they were told before it began must be in it.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (kms, stop) = (kms.clone(), stop.clone());
        tokio::spawn(async move {
            let mut made = 0;
            while !stop.load(Ordering::Relaxed) {
                encrypt_with_new_key(&kms, 1000 + made).await;
                made += 1;
            }
            made
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("trent.backup");
    let started = Instant::now();
    let (ok, out, err) = tokio::task::spawn_blocking({
        let (data, file) = (dir.path().to_owned(), file.clone());
        move || trent(&["backup", "--data-dir", path(&data), "--out", path(&file)])
    })
    .await
    .unwrap();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let during = load.await.unwrap();
    assert!(ok, "{out}{err}");
    assert!(out.contains("the backup does not hold it"), "{out}");
    println!("backup of a store under write load took {took:?}; {during} keys made meanwhile");
    let mode = std::fs::metadata(&file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    // A second backup never writes over the first.
    let (ok, _, err) = trent(&[
        "backup",
        "--data-dir",
        path(dir.path()),
        "--out",
        path(&file),
    ]);
    assert!(!ok && err.contains("exists"), "{err}");

    // Checked without restoring it, with the trail's public key.
    let (ok, public_key, err) = trent(&["audit", "public-key", "--data-dir", path(dir.path())]);
    assert!(ok, "{err}");
    let (ok, out, err) = trent(&[
        "backup",
        "verify",
        path(&file),
        "--public-key",
        public_key.trim(),
    ]);
    assert!(ok && out.starts_with("OK: "), "{out}{err}");
    assert!(!out.contains(" 0 digests"), "{out}");
    let (ok, out, err) = trent(&[
        "backup",
        "verify",
        path(&file),
        "--public-key",
        &"ab".repeat(32),
    ]);
    assert!(!ok && err.contains("TAMPERED"), "{out}{err}");
    // A damaged copy is found out.
    let mut damaged = std::fs::read(&file).unwrap();
    let at = damaged.len() - 5000;
    damaged[at] ^= 0x40;
    let damaged_file = backups.path().join("damaged.backup");
    std::fs::write(&damaged_file, &damaged).unwrap();
    let (ok, out, err) = trent(&["backup", "verify", path(&damaged_file)]);
    assert!(!ok && err.contains("DAMAGED"), "{out}{err}");

    // Restore: refused, leaving nothing, without the root key; then with
    // it (copied as the README says) into a new directory.
    let restored = tempfile::tempdir().unwrap();
    let (ok, _, err) = trent(&["restore", path(&file), "--data-dir", path(restored.path())]);
    assert!(!ok && err.contains("root key"), "{err}");
    assert!(
        !restored.path().join("trent.db").exists(),
        "nothing left behind"
    );
    std::fs::copy(
        dir.path().join("root.key"),
        restored.path().join("root.key"),
    )
    .unwrap();
    let (ok, out, err) = trent(&["restore", path(&file), "--data-dir", path(restored.path())]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = trent(&["restore", path(&file), "--data-dir", path(restored.path())]);
    assert!(!ok && err.contains("already holds a store"), "{err}");

    let (ok, out, err) = trent(&["audit", "verify", "--data-dir", path(restored.path())]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = trent(&["audit", "export", "--data-dir", path(restored.path())]);
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| l.contains("\"RestoreBackup\"")),
        "the trail records the restore"
    );

    // The restored account's access key signs these calls (the harness's
    // bootstrap credentials go only to an account that does not exist).
    let copy = Server::start_in(restored.path(), &[]);
    let restored_kms = copy.client();
    let aliased = restored_kms
        .describe_key()
        .key_id("alias/kept")
        .send()
        .await
        .unwrap();
    assert_eq!(aliased.key_metadata.unwrap().key_id, first);
    let grants = restored_kms
        .list_grants()
        .key_id(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(grants.grants().len(), 1);
    for (ciphertext, plaintext) in &before {
        let out = restored_kms
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.plaintext.unwrap().into_inner(), *plaintext);
    }
    // The restored installation serves new keys too.
    encrypt_with_new_key(&restored_kms, 9999).await;
    drop(server);
}
