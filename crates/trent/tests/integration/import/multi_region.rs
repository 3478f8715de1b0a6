//! Multi-Region keys with imported material: a replica holds none until
//! the same material is imported into it; the KeyMaterialId is the same
//! in every Region; other material, another account and a user not
//! allowed in the replica's Region are refused; each related key's
//! material is its own.

use super::*;

const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";

async fn external_mrk(kms: &Client) -> String {
    kms.create_key()
        .origin(OriginType::External)
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// ImportKeyMaterial of `material` into `key`, expiring in a day; its
/// error code if refused.
async fn import_expiring(kms: &Client, key: &str, material: &[u8]) -> Result<(), String> {
    let algorithm = AlgorithmSpec::RsaesOaepSha256;
    let (token, public) = parameters(kms, key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    let valid_to = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + DAY;
    kms.import_key_material()
        .key_id(key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrap(&public, &algorithm, material)))
        .expiration_model(ExpirationModelType::KeyMaterialExpires)
        .valid_to(DateTime::from_secs(valid_to))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn decrypt_code(kms: &Client, ciphertext: &[u8]) -> String {
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .send()
        .await
        .unwrap_err();
    code(&err)
}

#[tokio::test]
async fn the_same_material_is_imported_into_each_related_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let key = external_mrk(&east).await;
    assert!(key.starts_with("mrk-"), "{key}");
    assert_eq!(state(&east, &key).await, KeyState::PendingImport);
    let material = random_material();
    import(&east, &key, AlgorithmSpec::RsaesOaepSha256, &material).await;
    let ciphertext = encrypt(&east, &key).await;

    // The replica: same id, Origin EXTERNAL, no material.
    let replica = east
        .replicate_key()
        .key_id(&key)
        .replica_region(WEST)
        .send()
        .await
        .unwrap()
        .replica_key_metadata
        .unwrap();
    assert_eq!(replica.key_id, key);
    assert_eq!(replica.origin, Some(OriginType::External));
    assert_eq!(replica.key_state, Some(KeyState::PendingImport));
    assert_eq!(state(&west, &key).await, KeyState::PendingImport);
    assert_eq!(
        decrypt_code(&west, &ciphertext).await,
        "KMSInvalidStateException"
    );

    // Other material: refused, and the replica still waits.
    assert_eq!(
        import_expiring(&west, &key, &random_material()).await,
        Err("IncorrectKeyMaterialException".into())
    );
    assert_eq!(state(&west, &key).await, KeyState::PendingImport);

    // The same material, with its own expiry: the ciphertext opens, with
    // the same KeyMaterialId as in the primary's Region.
    import_expiring(&west, &key, &material).await.unwrap();
    assert_eq!(state(&west, &key).await, KeyState::Enabled);
    let east_id = metadata(&east, &key).await.current_key_material_id;
    let west_meta = metadata(&west, &key).await;
    assert!(east_id.is_some());
    assert_eq!(west_meta.current_key_material_id, east_id);
    assert_eq!(
        west_meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialExpires)
    );
    assert_eq!(
        metadata(&east, &key).await.expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    let opened = decrypt(&west, &ciphertext).await;
    assert_eq!(
        opened.plaintext.unwrap().as_ref(),
        b"under imported material"
    );
    assert_eq!(opened.key_material_id, east_id);
    // And the other way round.
    let from_west = encrypt(&west, &key).await;
    assert!(decrypts(&east, &from_west).await);

    // New material for on-demand rotation: not built for multi-Region keys.
    let (token, public) = parameters(
        &east,
        &key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .await;
    let err = east
        .import_key_material()
        .key_id(&key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrap(
            &public,
            &AlgorithmSpec::RsaesOaepSha256,
            &random_material(),
        )))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .import_type(aws_sdk_kms::types::ImportType::NewKeyMaterial)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");

    // Deleting the replica's material leaves the primary working.
    west.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&west, &key).await, KeyState::PendingImport);
    assert_eq!(
        decrypt_code(&west, &ciphertext).await,
        "KMSInvalidStateException"
    );
    assert_eq!(state(&east, &key).await, KeyState::Enabled);
    assert!(decrypts(&east, &ciphertext).await);

    // A restart keeps it all: imported again, the replica opens it again.
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    assert_eq!(state(&west, &key).await, KeyState::PendingImport);
    assert!(decrypts(&east, &ciphertext).await);
    import_expiring(&west, &key, &material).await.unwrap();
    assert!(decrypts(&west, &ciphertext).await);
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    assert!(decrypts(&west, &ciphertext).await);
    assert_eq!(metadata(&west, &key).await.current_key_material_id, east_id);
}

#[tokio::test]
async fn a_replica_takes_no_import_from_another_account_or_an_unpermitted_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_b, secret_b) = create_account(dir.path(), "444455556666");
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let key = external_mrk(&east).await;
    let material = random_material();
    import(&east, &key, AlgorithmSpec::RsaesOaepSha256, &material).await;
    east.replicate_key()
        .key_id(&key)
        .replica_region(WEST)
        .send()
        .await
        .unwrap();
    let replica_arn = format!("arn:aws:kms:{WEST}:{ACCOUNT}:key/{key}");
    let (token, public) = parameters(
        &west,
        &key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .await;
    let wrapped = wrap(&public, &AlgorithmSpec::RsaesOaepSha256, &material);

    // Another account, even with the replica's key policy open to it.
    open_to_other_account(&west, &key).await;
    let other = server.client_with(&id_b, &secret_b, WEST);
    // A user allowed to import only in the primary's Region.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["kms:GetParametersForImport", "kms:ImportKeyMaterial", "kms:DescribeKey"],
            "Resource": format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/*"),
        }],
    })
    .to_string();
    let (user_east, _) = crate::common::iam_user(&server, "eastonly", Some(&policy));
    // The same user (its access key) calling in the replica's Region.
    let user = Client::from_conf(
        user_east
            .config()
            .to_builder()
            .region(aws_sdk_kms::config::Region::new(WEST))
            .build(),
    );
    for attacker in [&other, &user] {
        let err = attacker
            .import_key_material()
            .key_id(&replica_arn)
            .import_token(Blob::new(token.clone()))
            .encrypted_key_material(Blob::new(wrapped.clone()))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
        let err = attacker
            .get_parameters_for_import()
            .key_id(&replica_arn)
            .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
            .wrapping_key_spec(WrappingKeySpec::Rsa2048)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
    }
    assert_eq!(state(&west, &key).await, KeyState::PendingImport);
    // The owner may.
    import(&west, &key, AlgorithmSpec::RsaesOaepSha256, &material).await;
    assert_eq!(state(&west, &key).await, KeyState::Enabled);
}
