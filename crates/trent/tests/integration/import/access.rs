//! Who may not import: another account, an IAM user without permission;
//! the import condition keys.

use super::*;

#[tokio::test]
async fn other_accounts_and_unpermitted_users_cannot_import() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_b, secret_b) = create_account(dir.path(), "444455556666");
    let kms = server.client();
    let key = external_key(&kms).await;
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key}");
    let material = random_material();
    import(&kms, &key, AlgorithmSpec::RsaesOaepSha256, &material).await;
    let (token, public) = parameters(
        &kms,
        &key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .await;
    let wrapped = wrap(&public, &AlgorithmSpec::RsaesOaepSha256, &material);

    // Another account, even with a key policy that gives it everything:
    // these operations are not for use across accounts.
    open_to_other_account(&kms, &key).await;
    let other = server.client_with(&id_b, &secret_b, "us-east-1");
    // An IAM user of the key's account allowed only to use the key.
    let (user, _) = user_allowed(
        &server,
        "importer",
        &["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
    );
    // The user may use the key.
    let ciphertext = encrypt(&user, &arn).await;

    for attacker in [&other, &user] {
        let err = attacker
            .get_parameters_for_import()
            .key_id(&arn)
            .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
            .wrapping_key_spec(WrappingKeySpec::Rsa2048)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
        let err = attacker
            .import_key_material()
            .key_id(&arn)
            .import_token(Blob::new(token.clone()))
            .encrypted_key_material(Blob::new(wrapped.clone()))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
        let err = attacker
            .delete_imported_key_material()
            .key_id(&arn)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
    }
    assert_eq!(state(&kms, &key).await, KeyState::Enabled);
    assert!(decrypts(&kms, &ciphertext).await);

    // The trail records each call, refused ones too, with the wrapping
    // parameters but never the token, the public key or the wrapped
    // material.
    server.stop();
    let events = trail(dir.path());
    let text = serde_json::to_string(&events).unwrap();
    for name in [
        "GetParametersForImport",
        "ImportKeyMaterial",
        "DeleteImportedKeyMaterial",
    ] {
        let denied = events
            .iter()
            .filter(|e| e["eventName"] == name && e["errorCode"] == "AccessDeniedException")
            .count();
        assert_eq!(denied, 2, "{name}");
    }
    let asked = events
        .iter()
        .find(|e| e["eventName"] == "GetParametersForImport" && e["errorCode"].is_null())
        .unwrap();
    assert_eq!(
        asked["requestParameters"]["wrappingAlgorithm"],
        "RSAES_OAEP_SHA_256"
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    for secret in [&token, &public, &wrapped] {
        assert!(!text.contains(&b64.encode(secret)));
        assert!(!text.contains(&b64.encode(&secret[..48])[..60]));
    }
}

/// kms:WrappingAlgorithm, kms:WrappingKeySpec, kms:ExpirationModel and
/// kms:ValidTo in an IAM user's policy.
#[tokio::test]
async fn condition_keys_of_import() {
    let server = Server::start();
    let kms = server.client();
    let key = external_key(&kms).await;
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Action":"kms:GetParametersForImport","Resource":"*","Condition":{{
            "StringEquals":{{"kms:WrappingAlgorithm":"RSA_AES_KEY_WRAP_SHA_256","kms:WrappingKeySpec":"RSA_4096"}}}}}},
        {{"Effect":"Allow","Action":"kms:ImportKeyMaterial","Resource":"*","Condition":{{
            "StringEquals":{{"kms:ExpirationModel":"KEY_MATERIAL_EXPIRES"}},
            "NumericLessThanEquals":{{"kms:ValidTo":"{}"}}}}}}]}}"#,
        now + 10 * DAY
    );
    let (status, answer) = iam(
        &server,
        &[("Action", "CreateUser"), ("UserName", "bounded")],
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = iam(
        &server,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "bounded"),
            ("PolicyName", "import"),
            ("PolicyDocument", &policy),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = iam(
        &server,
        &[("Action", "CreateAccessKey"), ("UserName", "bounded")],
    );
    assert_eq!(status, 200, "{answer}");
    let user = server.client_with(
        &xml_value(&answer, "AccessKeyId"),
        &xml_value(&answer, "SecretAccessKey"),
        "us-east-1",
    );
    for (algorithm, spec) in [
        (AlgorithmSpec::RsaesOaepSha256, WrappingKeySpec::Rsa4096),
        (AlgorithmSpec::RsaAesKeyWrapSha256, WrappingKeySpec::Rsa2048),
    ] {
        let err = user
            .get_parameters_for_import()
            .key_id(&arn)
            .wrapping_algorithm(algorithm)
            .wrapping_key_spec(spec)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
    }
    let algorithm = AlgorithmSpec::RsaAesKeyWrapSha256;
    let (token, public) =
        parameters(&user, &arn, algorithm.clone(), WrappingKeySpec::Rsa4096).await;
    let wrapped = wrap(&public, &algorithm, &random_material());
    let attempt = |model: ExpirationModelType, valid_to: Option<i64>| {
        user.import_key_material()
            .key_id(&arn)
            .import_token(Blob::new(token.clone()))
            .encrypted_key_material(Blob::new(wrapped.clone()))
            .expiration_model(model)
            .set_valid_to(valid_to.map(DateTime::from_secs))
            .send()
    };
    let err = attempt(ExpirationModelType::KeyMaterialDoesNotExpire, None)
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = attempt(
        ExpirationModelType::KeyMaterialExpires,
        Some(now + 20 * DAY),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    attempt(ExpirationModelType::KeyMaterialExpires, Some(now + 5 * DAY))
        .await
        .unwrap();
    assert_eq!(state(&kms, &key).await, KeyState::Enabled);
}
