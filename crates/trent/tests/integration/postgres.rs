//! Several `trent serve` nodes on one PostgreSQL database, driven by
//! aws-sdk-kms (skipped, saying so, without `TRENT_TEST_POSTGRES_URL`).
//! Each test works in a schema of its own.

use crate::common::*;
use aws_sdk_kms::primitives::Blob;
use std::path::Path;
use std::process::Command;
use trent_store::test_support::{Schema, test_url};

/// `count` nodes on `schema`, each with a data directory of its own
/// holding the first node's root key (copied, as an operator would).
fn nodes(schema: &Schema, dirs: &[&Path]) -> Vec<Server> {
    let url = schema.database_url();
    let mut servers = vec![Server::start_in(dirs[0], &["--database-url", &url])];
    for dir in &dirs[1..] {
        std::fs::copy(dirs[0].join("root.key"), dir.join("root.key")).unwrap();
        servers.push(Server::start_in(dir, &["--database-url", &url]));
    }
    servers
}

fn trent(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(args)
        .env_remove("TRENT_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_keys_identities_and_one_trail() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    schema.create().await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let paths: Vec<&Path> = dirs.iter().map(|d| d.path()).collect();
    for dir in &paths[1..] {
        // Private, as the first node's is.
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let servers = nodes(&schema, &paths);
    let [one, two, three] = [0, 1, 2].map(|i| servers[i].client());

    // A key made on node 1 encrypts on node 2 and decrypts on node 3.
    let key = one.create_key().description("shared").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let sealed = two
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"across nodes".to_vec()))
        .send()
        .await
        .unwrap();
    let opened = three
        .decrypt()
        .ciphertext_blob(sealed.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext().unwrap().as_ref(), b"across nodes");
    // Every node lists it.
    for client in [&one, &two, &three] {
        let listed = client.list_keys().send().await.unwrap();
        assert!(
            listed
                .keys()
                .iter()
                .any(|k| k.key_id() == Some(key_id.as_str()))
        );
    }

    // The events of all three nodes are one trail that verifies, from any
    // node's data directory.
    for server in servers {
        server.stop();
    }
    let db = schema.database_url();
    let (ok, out, err) = trent(&[
        "audit",
        "verify",
        "--data-dir",
        paths[2].to_str().unwrap(),
        "--database-url",
        &db,
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("OK: "), "{out}");
    let (ok, out, err) = trent(&[
        "audit",
        "export",
        "--data-dir",
        paths[0].to_str().unwrap(),
        "--database-url",
        &db,
    ]);
    assert!(ok, "{err}");
    let names: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["eventName"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for name in ["CreateKey", "Encrypt", "Decrypt", "ListKeys"] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn a_node_without_the_installations_root_key_refuses_to_start() {
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    schema.create().await;
    let first = tempfile::tempdir().unwrap();
    Server::start_in(first.path(), &["--database-url", &schema.database_url()]).stop();
    let db = schema.database_url();
    // No root.key: refused, naming what to copy; nothing written.
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, err) = trent(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        empty.path().to_str().unwrap(),
        "--database-url",
        &db,
    ]);
    assert!(!ok);
    assert!(
        err.contains("copy root.key from a node of this installation"),
        "{err}"
    );
    assert!(!empty.path().join("root.key").exists());
    // Another root key: refused.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("root.key"), [7u8; 32]).unwrap();
    std::fs::set_permissions(
        other.path().join("root.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let (ok, _, err) = trent(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        other.path().to_str().unwrap(),
        "--database-url",
        &db,
    ]);
    assert!(!ok);
    assert!(
        err.contains("the root key does not open this store"),
        "{err}"
    );
    // An unreachable database: the host and the reason, never a password.
    let (ok, _, err) = trent(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        other.path().to_str().unwrap(),
        "--database-url",
        "postgres://trent:hunter2secret@127.0.0.1:1/trent",
    ]);
    assert!(!ok);
    assert!(
        err.contains("127.0.0.1:1") && err.contains("refused"),
        "{err}"
    );
    assert!(!err.contains("hunter2secret"), "{err}");
}
