//! Expiry at ValidTo across a restart; two PostgreSQL nodes; a root-key
//! rotation.

use super::*;

#[tokio::test]
async fn material_expires_at_valid_to_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    let key = external_key(&kms).await;
    let material = random_material();
    let algorithm = AlgorithmSpec::RsaAesKeyWrapSha1;
    let (token, public) = parameters(&kms, &key, algorithm.clone(), WrappingKeySpec::Rsa3072).await;
    let wrapped = wrap(&public, &algorithm, &material);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let attempt = |model: ExpirationModelType, valid_to: Option<i64>| {
        kms.import_key_material()
            .key_id(&key)
            .import_token(Blob::new(token.clone()))
            .encrypted_key_material(Blob::new(wrapped.clone()))
            .expiration_model(model)
            .set_valid_to(valid_to.map(DateTime::from_secs))
            .send()
    };
    // ValidTo: required with KEY_MATERIAL_EXPIRES (the default), in the
    // future, at most 365 days on; refused with KEY_MATERIAL_DOES_NOT_EXPIRE.
    for (model, valid_to) in [
        (ExpirationModelType::KeyMaterialExpires, None),
        (ExpirationModelType::KeyMaterialExpires, Some(now - 60)),
        (
            ExpirationModelType::KeyMaterialExpires,
            Some(now + 366 * DAY),
        ),
        (
            ExpirationModelType::KeyMaterialDoesNotExpire,
            Some(now + DAY),
        ),
    ] {
        let err = attempt(model, valid_to).await.unwrap_err();
        assert_eq!(code(&err), "ValidationException", "{valid_to:?}");
    }
    attempt(ExpirationModelType::KeyMaterialExpires, Some(now + 2 * DAY))
        .await
        .unwrap();
    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialExpires)
    );
    assert_eq!(meta.valid_to.unwrap().secs(), now + 2 * DAY);
    let ciphertext = encrypt(&kms, &key).await;

    // The expiry is due work in the store: a restarted server does it.
    server.stop();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    assert!(decrypts(&kms, &ciphertext).await);
    assert_eq!(server.advance_clock(DAY), 0);
    assert!(decrypts(&kms, &ciphertext).await);
    assert_eq!(server.advance_clock(DAY + 60), 1);
    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::PendingImport));
    assert_eq!(meta.expiration_model, None);
    assert_eq!(meta.valid_to, None);
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");
    // The same material again, for good this time.
    import(&kms, &key, AlgorithmSpec::RsaesOaepSha1, &material).await;
    assert!(decrypts(&kms, &ciphertext).await);
    assert_eq!(server.advance_clock(400 * DAY), 0);
    assert!(decrypts(&kms, &ciphertext).await);

    // The expiry is in the trail, as AWS's service event.
    server.stop();
    let expiries: Vec<serde_json::Value> = trail(dir.path())
        .into_iter()
        .filter(|e| e["eventName"] == "DeleteExpiredKeyMaterial")
        .collect();
    assert_eq!(expiries.len(), 1, "{expiries:?}");
    assert!(
        expiries[0]["resources"][0]["ARN"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(&key)),
        "{}",
        expiries[0]
    );
}

/// Two nodes on one PostgreSQL database (skipped without
/// `TRENT_TEST_POSTGRES_URL`): material imported on one is used on the
/// other, its expiry is done once when both find it due, and both nodes
/// then refuse it until it is imported again, on either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_imported_material_and_expire_it_once() {
    let Some(TwoNodes {
        a,
        b,
        _dirs,
        _schema,
    }) = two_nodes(&["--unsafe-test-clock"]).await
    else {
        return;
    };
    let (kms_a, kms_b) = (a.client(), b.client());
    let key = external_key(&kms_a).await;
    let material = random_material();
    let algorithm = AlgorithmSpec::RsaAesKeyWrapSha256;
    // Parameters from one node, imported through the other.
    let (token, public) =
        parameters(&kms_a, &key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    kms_b
        .import_key_material()
        .key_id(&key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrap(&public, &algorithm, &material)))
        .expiration_model(ExpirationModelType::KeyMaterialExpires)
        .valid_to(DateTime::from_secs(now + 2 * DAY))
        .send()
        .await
        .unwrap();
    let ciphertext = encrypt(&kms_b, &key).await;
    eventually(|| decrypts_ok(&kms_a, &ciphertext)).await;

    let done: Vec<usize> = std::thread::scope(|s| {
        let runs: Vec<_> = [&a, &b]
            .into_iter()
            .map(|node| s.spawn(move || node.advance_clock(3 * DAY)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(done.iter().sum::<usize>(), 1, "expiries per node: {done:?}");
    for kms in [&kms_a, &kms_b] {
        eventually(|| async {
            kms.decrypt()
                .ciphertext_blob(Blob::new(ciphertext.clone()))
                .send()
                .await
                .is_err_and(|e| code(&e) == "KMSInvalidStateException")
        })
        .await;
    }
    import(&kms_a, &key, AlgorithmSpec::RsaesOaepSha1, &material).await;
    eventually(|| decrypts_ok(&kms_b, &ciphertext)).await;
    a.stop();
    b.stop();
}

async fn decrypts_ok(kms: &Client, ciphertext: &[u8]) -> bool {
    kms.decrypt()
        .ciphertext_blob(Blob::new(ciphertext.to_vec()))
        .send()
        .await
        .is_ok_and(|out| out.plaintext.unwrap().as_ref() == b"under imported material")
}

/// Waits (at most 5 s) for `check` to hold: another node sees a change
/// once the change feed tells it, within a second.
pub(super) async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "not within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A root-key rotation (`trent root-key rotate`) re-seals the key of the
/// material digests: only the same material is imported again after it;
/// import tokens issued before it (sealed under the old root key) no
/// longer open.
#[tokio::test]
async fn a_root_key_rotation_keeps_the_same_material_rule() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let server = Server::start_in(&data, &[]);
    let kms = server.client();
    let key = external_key(&kms).await;
    let material = random_material();
    let algorithm = AlgorithmSpec::RsaesOaepSha256;
    import(&kms, &key, algorithm.clone(), &material).await;
    let ciphertext = encrypt(&kms, &key).await;
    let (old_token, old_public) =
        parameters(&kms, &key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    server.stop();

    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let spec = format!("file:{}", keys.join("rotated.key").display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["root-key", "rotate", "--data-dir"])
        .arg(&data)
        .args(["--to", &spec])
        .env_remove("TRENT_ROOT_KEY")
        .env_remove("TRENT_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let server = Server::start_in(&data, &["--root-key", &spec]);
    let kms = server.client();
    assert!(decrypts(&kms, &ciphertext).await);
    let err = kms
        .import_key_material()
        .key_id(&key)
        .import_token(Blob::new(old_token))
        .encrypted_key_material(Blob::new(wrap(&old_public, &algorithm, &material)))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidImportTokenException");
    kms.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let (token, public) = parameters(&kms, &key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    let err = kms
        .import_key_material()
        .key_id(&key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrap(&public, &algorithm, &random_material())))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyMaterialException");
    import(&kms, &key, algorithm, &material).await;
    assert!(decrypts(&kms, &ciphertext).await);
}
