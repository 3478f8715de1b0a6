//! Multi-Region keys with imported material: a replica holds none until
//! the same material is imported into it; the KeyMaterialId is the same
//! in every Region; other material, another account and a user not
//! allowed in the replica's Region are refused; each related key's
//! material is its own. On-demand rotation: new material imported into
//! the primary, then into each replica, and the primary rotates them all.

use super::rotation::{current_id, decrypted_by, delete_by_id, encrypt_with_id, import_as, states};
use super::*;
use aws_sdk_kms::types::{ImportState, ImportType, KeyMaterialState};

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

/// A multi-Region key with `material` imported into its primary (through
/// `east`) and into its replica in WEST (through `west`): its id and the
/// material's KeyMaterialId.
async fn replicated_with(east: &Client, west: &Client, material: &[u8]) -> (String, String) {
    let key = external_mrk(east).await;
    let id = import_as(east, &key, material, None, None, None)
        .await
        .unwrap();
    east.replicate_key()
        .key_id(&key)
        .replica_region(WEST)
        .send()
        .await
        .unwrap();
    import_as(west, &key, material, None, None, None)
        .await
        .unwrap();
    (key, id)
}

async fn rotate_code(kms: &Client, key: &str) -> Result<(), String> {
    kms.rotate_key_on_demand()
        .key_id(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

/// AWS's steps: NEW_KEY_MATERIAL into the primary, the same material as
/// EXISTING_KEY_MATERIAL into each replica, then RotateKeyOnDemand on the
/// primary; before the last replica has it, the material is
/// PENDING_MULTI_REGION_IMPORT_AND_ROTATION and rotation is refused.
#[tokio::test]
async fn related_keys_rotate_imported_material_together() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let (a, b, c) = (random_material(), random_material(), random_material());
    let (key, id_a) = replicated_with(&east, &west, &a).await;
    let (under_a, _) = encrypt_with_id(&east, &key).await;

    // B into the primary: waiting for the replica in both Regions.
    let new = Some(ImportType::NewKeyMaterial);
    let id_b = import_as(&east, &key, &b, new.clone(), None, None)
        .await
        .unwrap();
    let waiting = KeyMaterialState::PendingMultiRegionImportAndRotation;
    let current = (
        id_a.clone(),
        KeyMaterialState::Current,
        ImportState::Imported,
    );
    assert_eq!(
        states(&east, &key).await,
        [
            current.clone(),
            (id_b.clone(), waiting.clone(), ImportState::Imported)
        ]
    );
    assert_eq!(
        states(&west, &key).await,
        [
            current.clone(),
            (id_b.clone(), waiting.clone(), ImportState::PendingImport)
        ]
    );
    assert_eq!(
        rotate_code(&east, &key).await,
        Err("KMSInvalidStateException".into())
    );
    // A replica neither rotates nor takes material its primary lacks.
    assert_eq!(
        rotate_code(&west, &key).await,
        Err("UnsupportedOperationException".into())
    );
    let err = import_as(&west, &key, &c, new.clone(), None, None)
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyMaterialException");
    // Other bytes under B's id: refused.
    let err = import_as(&west, &key, &c, None, Some(&id_b), None)
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyMaterialException");

    // B into the replica: pending rotation everywhere; the primary rotates
    // both.
    let existing = Some(ImportType::ExistingKeyMaterial);
    let named = import_as(&west, &key, &b, existing.clone(), Some(&id_b), None)
        .await
        .unwrap();
    assert_eq!(named, id_b);
    let pending = (
        id_b.clone(),
        KeyMaterialState::PendingRotation,
        ImportState::Imported,
    );
    for kms in [&east, &west] {
        assert_eq!(states(kms, &key).await, [current.clone(), pending.clone()]);
    }
    rotate_code(&east, &key).await.unwrap();
    let rotated = [
        (
            id_a.clone(),
            KeyMaterialState::NonCurrent,
            ImportState::Imported,
        ),
        (
            id_b.clone(),
            KeyMaterialState::Current,
            ImportState::Imported,
        ),
    ];
    for kms in [&east, &west] {
        assert_eq!(states(kms, &key).await, rotated);
        assert_eq!(current_id(kms, &key).await.as_deref(), Some(id_b.as_str()));
        // Old ciphertexts open in each Region; new ones are made with B
        // and open in the other Region.
        assert_eq!(decrypted_by(kms, &under_a).await, id_a);
    }
    let (under_b, made_with) = encrypt_with_id(&west, &key).await;
    assert_eq!(made_with, id_b);
    assert_eq!(decrypted_by(&east, &under_b).await, id_b);

    // C imported into both, then deleted from the primary before the
    // rotation: gone from the replica too.
    let id_c = import_as(&east, &key, &c, new, None, None).await.unwrap();
    import_as(&west, &key, &c, existing, Some(&id_c), None)
        .await
        .unwrap();
    assert_eq!(states(&west, &key).await.len(), 3);
    assert_eq!(delete_by_id(&east, &key, &id_c).await.unwrap(), id_c);
    for kms in [&east, &west] {
        assert_eq!(states(kms, &key).await, rotated);
        assert_eq!(state(kms, &key).await, KeyState::Enabled);
    }
    assert_eq!(
        rotate_code(&east, &key).await,
        Err("KMSInvalidStateException".into())
    );

    // As the store keeps it.
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    assert_eq!(states(&west, &key).await, rotated);
    assert_eq!(decrypted_by(&west, &under_b).await, id_b);
    assert_eq!(decrypted_by(&west, &under_a).await, id_a);
}

/// Two nodes on one PostgreSQL database: the replica cached by node b
/// encrypts with the new material once node a rotated its primary (the
/// change feed reaches every related key).
#[tokio::test]
async fn another_node_follows_a_family_rotation() {
    use super::durability::eventually;
    let Some(TwoNodes {
        a,
        b,
        _dirs,
        _schema,
    }) = two_nodes(&[]).await
    else {
        return;
    };
    let east = a.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let (west_a, west_b) = (
        a.client_with(ACCESS_KEY, SECRET_KEY, WEST),
        b.client_with(ACCESS_KEY, SECRET_KEY, WEST),
    );
    let (material_1, material_2) = (random_material(), random_material());
    let (key, _) = replicated_with(&east, &west_a, &material_1).await;
    // Node b holds the replica in its cache.
    let (_, id_1) = encrypt_with_id(&west_b, &key).await;
    let new = Some(ImportType::NewKeyMaterial);
    let id_2 = import_as(&east, &key, &material_2, new, None, None)
        .await
        .unwrap();
    let existing = Some(ImportType::ExistingKeyMaterial);
    import_as(&west_a, &key, &material_2, existing, Some(&id_2), None)
        .await
        .unwrap();
    rotate_code(&east, &key).await.unwrap();
    assert_ne!(id_1, id_2);
    eventually(|| async {
        let ciphertext = encrypt(&west_b, &key).await;
        decrypted_by(&east, &ciphertext).await == id_2
    })
    .await;
    a.stop();
    b.stop();
}

/// The attacker's side of a family's rotation: with new material imported
/// everywhere and the rotation ready, another account (both key policies
/// open to it), a user allowed everything but only in the replica's
/// Region, and a user who may import but not rotate or delete, neither
/// rotate the family nor take its pending material from the replica
/// through the primary; nothing changes in either Region.
#[tokio::test]
async fn who_may_not_rotate_a_family_or_delete_its_pending_material() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_other, secret_other) = create_account(dir.path(), "444455556666");
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let (key, _) = replicated_with(&east, &west, &random_material()).await;
    let pending = random_material();
    let new = Some(ImportType::NewKeyMaterial);
    let id = import_as(&east, &key, &pending, new, None, None)
        .await
        .unwrap();
    let existing = Some(ImportType::ExistingKeyMaterial);
    import_as(&west, &key, &pending, existing, Some(&id), None)
        .await
        .unwrap();
    let before = [states(&east, &key).await, states(&west, &key).await];
    assert_eq!(before[0][1].1, KeyMaterialState::PendingRotation);

    open_to_other_account(&east, &key).await;
    open_to_other_account(&west, &key).await;
    let other_east = server.client_with(&id_other, &secret_other, EAST);
    let replica_only = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:*",
                       "Resource": format!("arn:aws:kms:{WEST}:{ACCOUNT}:key/*")}],
    })
    .to_string();
    // Its client signs for EAST; the same access key signing for WEST.
    let (west_user_in_east, _) = crate::common::iam_user(&server, "westonly", Some(&replica_only));
    let west_user = Client::from_conf(
        west_user_in_east
            .config()
            .to_builder()
            .region(aws_sdk_kms::config::Region::new(WEST))
            .build(),
    );
    let (importer, _) = user_allowed(
        &server,
        "importer",
        &[
            "kms:GetParametersForImport",
            "kms:ImportKeyMaterial",
            "kms:DescribeKey",
            "kms:ListKeyRotations",
        ],
    );
    let primary_arn = format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/{key}");
    for (who, attacker) in [
        ("other account", &other_east),
        ("replica-only user", &west_user_in_east),
        ("importer", &importer),
    ] {
        assert_eq!(
            rotate_code(attacker, &primary_arn).await,
            Err("AccessDeniedException".into()),
            "{who}"
        );
        let err = delete_by_id(attacker, &primary_arn, &id).await.unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException", "{who}");
    }
    // Allowed on the replica, the user still cannot rotate the family there.
    assert_eq!(
        rotate_code(&west_user, &key).await,
        Err("UnsupportedOperationException".into())
    );
    assert_eq!(
        [states(&east, &key).await, states(&west, &key).await],
        before
    );
}
