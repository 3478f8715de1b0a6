//! Each wrapping algorithm; delete and re-import of the same material
//! only; import tokens bound to their key, intact and expiring.

use super::*;

#[tokio::test]
async fn symmetric_material_imports_with_each_wrapping_algorithm() {
    let server = Server::start();
    let kms = server.client();
    let key = external_key(&kms).await;
    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.origin, Some(OriginType::External));
    assert_eq!(meta.key_state, Some(KeyState::PendingImport));
    assert!(!meta.enabled);
    assert_eq!(meta.expiration_model, None);
    let err = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");
    assert_eq!(
        message(&err),
        format!("{} is pending import.", meta.arn.unwrap())
    );
    let err = kms.enable_key().key_id(&key).send().await.unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");
    // RSAES_PKCS1_V1_5 is no longer accepted (AWS: since October 2023).
    let err = kms
        .get_parameters_for_import()
        .key_id(&key)
        .wrapping_algorithm(AlgorithmSpec::RsaesPkcs1V15)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    let err = kms
        .get_parameters_for_import()
        .key_id(&key)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Sm2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");

    let material = random_material();
    let mut ciphertexts = Vec::new();
    // Each algorithm, each wrapping key size; the same material again each
    // time (re-importing it while it is there is allowed).
    for (algorithm, spec) in [
        (AlgorithmSpec::RsaesOaepSha1, WrappingKeySpec::Rsa2048),
        (AlgorithmSpec::RsaesOaepSha256, WrappingKeySpec::Rsa3072),
        (AlgorithmSpec::RsaAesKeyWrapSha1, WrappingKeySpec::Rsa4096),
        (AlgorithmSpec::RsaAesKeyWrapSha256, WrappingKeySpec::Rsa2048),
    ] {
        let (token, public) = parameters(&kms, &key, algorithm.clone(), spec).await;
        assert!(token.len() <= 6144);
        let out = kms
            .import_key_material()
            .key_id(&key)
            .import_token(Blob::new(token))
            .encrypted_key_material(Blob::new(wrap(&public, &algorithm, &material)))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
            .await
            .unwrap();
        assert!(out.key_id.unwrap().ends_with(&key));
        assert_eq!(state(&kms, &key).await, KeyState::Enabled);
        ciphertexts.push(encrypt(&kms, &key).await);
        for ciphertext in &ciphertexts {
            assert!(decrypts(&kms, ciphertext).await, "{algorithm:?}");
        }
    }
    let meta = kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert!(meta.enabled);
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert_eq!(meta.valid_to, None);
    // Imported material does not rotate automatically.
    let err = kms
        .enable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
}

#[tokio::test]
async fn deleted_material_comes_back_only_the_same() {
    let server = Server::start();
    let kms = server.client();
    let key = external_key(&kms).await;
    let material = random_material();
    import(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha256, &material).await;
    let ciphertext = encrypt(&kms, &key).await;

    let out = kms
        .delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(out.key_id.unwrap().ends_with(&key));
    assert_eq!(state(&kms, &key).await, KeyState::PendingImport);
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");
    // Nothing left to delete.
    let err = kms
        .delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");

    // Other material: refused, the key stays pending import.
    let (token, public) = parameters(
        &kms,
        &key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .await;
    let err = kms
        .import_key_material()
        .key_id(&key)
        .import_token(Blob::new(token.clone()))
        .encrypted_key_material(Blob::new(wrap(
            &public,
            &AlgorithmSpec::RsaesOaepSha256,
            &random_material(),
        )))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyMaterialException");
    // Material of the wrong size for the key spec.
    let err = kms
        .import_key_material()
        .key_id(&key)
        .import_token(Blob::new(token.clone()))
        .encrypted_key_material(Blob::new(wrap(
            &public,
            &AlgorithmSpec::RsaesOaepSha256,
            &[7u8; 16],
        )))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyMaterialException");
    assert_eq!(state(&kms, &key).await, KeyState::PendingImport);

    // The same material (with the same token: it is valid for 24 hours):
    // the old ciphertext decrypts again.
    kms.import_key_material()
        .key_id(&key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrap(
            &public,
            &AlgorithmSpec::RsaesOaepSha256,
            &material,
        )))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
    assert!(decrypts(&kms, &ciphertext).await);

    // Keys whose material KMS made have none to delete or import.
    let generated = new_key(&kms).await;
    let err = kms
        .delete_imported_key_material()
        .key_id(&generated)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    assert!(
        message(&err).ends_with("origin is AWS_KMS which is not valid for this operation."),
        "{}",
        message(&err)
    );
    let err = kms
        .get_parameters_for_import()
        .key_id(&generated)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");

    // A key pending deletion may lose its material, and stays pending
    // deletion; cancelled, it waits for its material again.
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    kms.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&kms, &key).await, KeyState::PendingDeletion);
    kms.cancel_key_deletion().key_id(&key).send().await.unwrap();
    assert_eq!(state(&kms, &key).await, KeyState::PendingImport);
}

#[tokio::test]
async fn import_tokens_are_bound_to_their_key_intact_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    let key = external_key(&kms).await;
    let other = external_key(&kms).await;
    let material = random_material();
    let algorithm = AlgorithmSpec::RsaesOaepSha256;
    let (token, public) = parameters(&kms, &key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    let wrapped = wrap(&public, &algorithm, &material);
    let attempt = |key: String, token: Vec<u8>, wrapped: Vec<u8>| {
        let kms = kms.clone();
        async move {
            kms.import_key_material()
                .key_id(key)
                .import_token(Blob::new(token))
                .encrypted_key_material(Blob::new(wrapped))
                .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
                .send()
                .await
        }
    };
    // Another key's token.
    let err = attempt(other.clone(), token.clone(), wrapped.clone())
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidImportTokenException");
    // Altered anywhere.
    for i in [0, 21, token.len() / 2, token.len() - 1] {
        let mut bad = token.clone();
        bad[i] ^= 0x40;
        let err = attempt(key.clone(), bad, wrapped.clone())
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidImportTokenException", "byte {i}");
    }
    // Material wrapped under another wrapping key, or altered.
    let (_, other_public) =
        parameters(&kms, &other, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    let err = attempt(
        key.clone(),
        token.clone(),
        wrap(&other_public, &algorithm, &material),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
    let mut bad = wrapped.clone();
    bad[10] ^= 1;
    let err = attempt(key.clone(), token.clone(), bad).await.unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
    assert_eq!(state(&kms, &key).await, KeyState::PendingImport);

    // Past ParametersValidTo (24 hours).
    server.advance_clock(DAY + 60);
    let err = attempt(key.clone(), token, wrapped).await.unwrap_err();
    assert_eq!(code(&err), "ExpiredImportTokenException");
    assert_eq!(state(&kms, &key).await, KeyState::PendingImport);
}

/// SM2PKE with an SM2 wrapping key: where the sm2 feature is built, the
/// material imports and works, and material wrapped under another SM2 key
/// is an invalid ciphertext; elsewhere the pair is refused as unsupported.
#[tokio::test]
async fn sm2pke_wrapping_where_built() {
    let server = Server::start();
    let kms = server.client();
    let key = external_key(&kms).await;
    let asked = kms
        .get_parameters_for_import()
        .key_id(&key)
        .wrapping_algorithm(AlgorithmSpec::Sm2Pke)
        .wrapping_key_spec(WrappingKeySpec::Sm2)
        .send()
        .await;
    if !cfg!(feature = "sm2") {
        assert_eq!(code(&asked.unwrap_err()), "UnsupportedOperationException");
        return;
    }
    let asked = asked.unwrap();
    let (token, public) = (
        asked.import_token.unwrap().into_inner(),
        asked.public_key.unwrap().into_inner(),
    );
    let material = random_material();
    let sm2 = trent_crypto::import::WrappingAlgorithm::Sm2Pke;
    // Wrapped under another SM2 key: it does not open.
    let (_, other) =
        trent_crypto::import::generate_wrapping_key(trent_crypto::asymmetric::PairSpec::Sm2)
            .unwrap();
    let err = kms
        .import_key_material()
        .key_id(&key)
        .import_token(Blob::new(token.clone()))
        .encrypted_key_material(Blob::new(
            trent_crypto::import::wrap(&other, sm2, &material).unwrap(),
        ))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
    kms.import_key_material()
        .key_id(&key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(
            trent_crypto::import::wrap(&public, sm2, &material).unwrap(),
        ))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&kms, &key).await, KeyState::Enabled);
    let ciphertext = encrypt(&kms, &key).await;
    assert!(decrypts(&kms, &ciphertext).await);
}
