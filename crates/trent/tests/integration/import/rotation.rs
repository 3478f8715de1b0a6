//! Several imported key materials per symmetric key (AWS's 2025
//! additions): new material imported pending rotation, RotateKeyOnDemand,
//! ListKeyRotations with each material's states, deletion and re-import by
//! KeyMaterialId, expiry per material, a restart; who may not stage or
//! rotate.

use super::*;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::operation::delete_imported_key_material::DeleteImportedKeyMaterialError;
use aws_sdk_kms::operation::import_key_material::ImportKeyMaterialError;
use aws_sdk_kms::types::{
    GrantOperation, ImportState, ImportType, IncludeKeyMaterial, KeyMaterialState, RotationType,
    RotationsListEntry,
};

/// Imports `material` into `key` as `import_type` (with `id` as
/// KeyMaterialId), expiring at `valid_to` (Unix seconds) if given: the
/// response's KeyMaterialId.
pub(super) async fn import_as(
    kms: &Client,
    key: &str,
    material: &[u8],
    import_type: Option<ImportType>,
    id: Option<&str>,
    valid_to: Option<i64>,
) -> Result<String, SdkError<ImportKeyMaterialError>> {
    let wrapping = parameters(
        kms,
        key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .await;
    import_with(kms, key, &wrapping, material, import_type, id, valid_to).await
}

/// DeleteImportedKeyMaterial of the material `id` names: the
/// KeyMaterialId the response names.
pub(super) async fn delete_by_id(
    kms: &Client,
    key: &str,
    id: &str,
) -> Result<String, SdkError<DeleteImportedKeyMaterialError>> {
    let out = kms
        .delete_imported_key_material()
        .key_id(key)
        .key_material_id(id)
        .send()
        .await?;
    Ok(out.key_material_id.unwrap())
}

/// Stages new random material on `key` (ImportType NEW_KEY_MATERIAL),
/// expiring at `valid_to` if given: its KeyMaterialId.
pub(super) async fn stage(
    kms: &Client,
    key: &str,
    valid_to: Option<i64>,
) -> Result<String, SdkError<ImportKeyMaterialError>> {
    let new = Some(ImportType::NewKeyMaterial);
    import_as(kms, key, &random_material(), new, None, valid_to).await
}

/// [`import_as`] with the import token and wrapping key given.
async fn import_with(
    kms: &Client,
    key: &str,
    (token, public): &(Vec<u8>, Vec<u8>),
    material: &[u8],
    import_type: Option<ImportType>,
    id: Option<&str>,
    valid_to: Option<i64>,
) -> Result<String, SdkError<ImportKeyMaterialError>> {
    let algorithm = AlgorithmSpec::RsaesOaepSha256;
    let model = if valid_to.is_some() {
        ExpirationModelType::KeyMaterialExpires
    } else {
        ExpirationModelType::KeyMaterialDoesNotExpire
    };
    let out = kms
        .import_key_material()
        .key_id(key)
        .import_token(Blob::new(token.clone()))
        .encrypted_key_material(Blob::new(wrap(public, &algorithm, material)))
        .expiration_model(model)
        .set_valid_to(valid_to.map(DateTime::from_secs))
        .set_import_type(import_type)
        .set_key_material_id(id.map(str::to_owned))
        .send()
        .await?;
    Ok(out.key_material_id.unwrap())
}

/// ListKeyRotations of `key`, every page of two.
pub(super) async fn rotations(kms: &Client, key: &str, all: bool) -> Vec<RotationsListEntry> {
    let mut listed = Vec::new();
    let mut marker = None;
    loop {
        let out = kms
            .list_key_rotations()
            .key_id(key)
            .set_include_key_material(all.then_some(IncludeKeyMaterial::AllKeyMaterial))
            .limit(2)
            .set_marker(marker)
            .send()
            .await
            .unwrap();
        listed.extend(out.rotations.unwrap_or_default());
        marker = out.next_marker;
        if marker.is_none() {
            return listed;
        }
    }
}

/// Each material listed as (KeyMaterialId, state, import state).
pub(super) async fn states(
    kms: &Client,
    key: &str,
) -> Vec<(String, KeyMaterialState, ImportState)> {
    rotations(kms, key, true)
        .await
        .into_iter()
        .map(|r| {
            (
                r.key_material_id.unwrap(),
                r.key_material_state.unwrap(),
                r.import_state.unwrap(),
            )
        })
        .collect()
}

pub(super) async fn current_id(kms: &Client, key: &str) -> Option<String> {
    metadata(kms, key).await.current_key_material_id
}

/// Encrypts under `key`: the ciphertext and the KeyMaterialId of the
/// material it was made with (Encrypt's response names none: Decrypt's
/// does).
pub(super) async fn encrypt_with_id(kms: &Client, key: &str) -> (Vec<u8>, String) {
    let ciphertext = encrypt(kms, key).await;
    let id = decrypted_by(kms, &ciphertext).await;
    (ciphertext, id)
}

/// The KeyMaterialId Decrypt names for `ciphertext` (and that it opened).
pub(super) async fn decrypted_by(kms: &Client, ciphertext: &[u8]) -> String {
    let out = decrypt(kms, ciphertext).await;
    assert_eq!(out.plaintext.unwrap().as_ref(), b"under imported material");
    out.key_material_id.unwrap()
}

async fn decrypt_error(kms: &Client, ciphertext: &[u8]) -> String {
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .send()
        .await
        .unwrap_err();
    code(&err)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The whole story: A imported, B staged (pending, unused), rotated to
/// (A still decrypts), listed; deleting A makes the key PendingImport
/// (AWS: any material the key holds for good), wrong bytes for A's id are
/// refused, A imported again by its id; a restart keeps it all.
#[tokio::test]
async fn imported_material_rotates_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let key = external_key(&kms).await;
    let (a, b) = (random_material(), random_material());
    let id_a = import_as(&kms, &key, &a, None, None, None).await.unwrap();
    // Rotation needs material pending rotation.
    let err = kms
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException", "{err:?}");

    // B staged: pending rotation, named in the response, not used yet.
    let id_b = import_as(&kms, &key, &b, Some(ImportType::NewKeyMaterial), None, None)
        .await
        .unwrap();
    assert_ne!(id_a, id_b);
    assert_eq!(current_id(&kms, &key).await.as_deref(), Some(id_a.as_str()));
    let (under_a, named) = encrypt_with_id(&kms, &key).await;
    assert_eq!(named, id_a);
    assert_eq!(
        states(&kms, &key).await,
        [
            (
                id_a.clone(),
                KeyMaterialState::Current,
                ImportState::Imported
            ),
            (
                id_b.clone(),
                KeyMaterialState::PendingRotation,
                ImportState::Imported
            ),
        ]
    );
    assert!(rotations(&kms, &key, false).await.is_empty());
    // One pending at a time.
    let err = stage(&kms, &key, None).await.unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");

    // Rotated: B current, A still decrypts (and is named).
    let out = kms
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(out.key_id.unwrap().ends_with(&key));
    assert_eq!(current_id(&kms, &key).await.as_deref(), Some(id_b.as_str()));
    let (under_b, named) = encrypt_with_id(&kms, &key).await;
    assert_eq!(named, id_b);
    assert_eq!(decrypted_by(&kms, &under_a).await, id_a);
    assert_eq!(decrypted_by(&kms, &under_b).await, id_b);
    let data_key = kms
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    assert_eq!(data_key.key_material_id.as_deref(), Some(id_b.as_str()));
    let reencrypted = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(under_a.clone()))
        .destination_key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        reencrypted.source_key_material_id.as_deref(),
        Some(id_a.as_str())
    );
    assert_eq!(
        reencrypted.destination_key_material_id.as_deref(),
        Some(id_b.as_str())
    );
    let listed = rotations(&kms, &key, true).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].rotation_date, None);
    assert_eq!(listed[0].rotation_type, None);
    assert_eq!(
        listed[1].expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert!(listed[1].rotation_date.is_some());
    assert_eq!(listed[1].rotation_type, Some(RotationType::OnDemand));
    let only = rotations(&kms, &key, false).await;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].key_material_id.as_deref(), Some(id_b.as_str()));
    assert_eq!(only[0].key_material_state, Some(KeyMaterialState::Current));
    // Automatic rotation stays unavailable.
    let err = kms
        .enable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");

    // Material pending rotation is not the key's for good: deleted, it
    // goes, and the key stays usable.
    let id_c = stage(&kms, &key, None).await.unwrap();
    let out = delete_by_id(&kms, &key, &id_c).await.unwrap();
    assert_eq!(out, id_c);
    assert_eq!(state(&kms, &key).await, KeyState::Enabled);
    assert_eq!(states(&kms, &key).await.len(), 2);

    // A deleted by its id: destroyed, kept as PENDING_IMPORT, and the key
    // waits for it (every ciphertext refused, as AWS does).
    let out = delete_by_id(&kms, &key, &id_a).await.unwrap();
    assert_eq!(out, id_a);
    assert_eq!(state(&kms, &key).await, KeyState::PendingImport);
    assert_eq!(
        states(&kms, &key).await,
        [
            (
                id_a.clone(),
                KeyMaterialState::NonCurrent,
                ImportState::PendingImport
            ),
            (
                id_b.clone(),
                KeyMaterialState::Current,
                ImportState::Imported
            ),
        ]
    );
    assert_eq!(
        decrypt_error(&kms, &under_a).await,
        "KMSInvalidStateException"
    );
    assert_eq!(
        decrypt_error(&kms, &under_b).await,
        "KMSInvalidStateException"
    );
    // Deleted already.
    let err = delete_by_id(&kms, &key, &id_a).await.unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");
    // Other bytes under A's id, or as the current material: refused.
    for (bytes, id) in [(&b, Some(id_a.as_str())), (&a, None)] {
        let err = import_as(&kms, &key, bytes, None, id, None)
            .await
            .unwrap_err();
        assert_eq!(code(&err), "IncorrectKeyMaterialException", "{id:?}");
    }
    // A again, by its id: the key is usable, both ciphertexts open.
    let again = import_as(
        &kms,
        &key,
        &a,
        Some(ImportType::ExistingKeyMaterial),
        Some(&id_a),
        None,
    )
    .await
    .unwrap();
    assert_eq!(again, id_a);
    assert_eq!(state(&kms, &key).await, KeyState::Enabled);
    assert_eq!(decrypted_by(&kms, &under_a).await, id_a);
    assert_eq!(decrypted_by(&kms, &under_b).await, id_b);

    // A restart keeps materials, states and ids.
    let before = rotations(&kms, &key, true).await;
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    assert_eq!(rotations(&kms, &key, true).await, before);
    assert_eq!(current_id(&kms, &key).await.as_deref(), Some(id_b.as_str()));
    assert_eq!(decrypted_by(&kms, &under_a).await, id_a);
    assert_eq!(encrypt_with_id(&kms, &key).await.1, id_b);

    // The trail, as CloudTrail records these operations: ImportType and the
    // material's id, never the material.
    server.stop();
    let events = trail(dir.path());
    let staged = events
        .iter()
        .find(|e| {
            e["eventName"] == "ImportKeyMaterial"
                && e["responseElements"]["keyMaterialId"] == id_b.as_str()
        })
        .expect("B's import in the trail");
    assert_eq!(
        staged["requestParameters"]["importType"],
        "NEW_KEY_MATERIAL"
    );
    assert!(
        staged["responseElements"]["keyId"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(&key)),
        "{staged}"
    );
    let deleted = events
        .iter()
        .find(|e| e["eventName"] == "DeleteImportedKeyMaterial" && e["errorCode"].is_null())
        .unwrap();
    assert_eq!(deleted["requestParameters"]["keyMaterialId"], id_c.as_str());
    assert_eq!(deleted["responseElements"]["keyMaterialId"], id_c.as_str());
    let rotated = events
        .iter()
        .filter(|e| e["eventName"] == "RotateKeyOnDemand" && e["errorCode"].is_null())
        .count();
    assert_eq!(rotated, 1);
    let text = serde_json::to_string(&events).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    for material in [&a, &b] {
        assert!(!text.contains(&b64.encode(material)));
        let hex: String = material.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.contains(&hex));
    }
}

/// Each material expires at its own ValidTo, by the scheduler, across a
/// restart: one pending rotation goes whole, the current one leaves the
/// key PendingImport until it is imported again.
#[tokio::test]
async fn each_material_expires_at_its_valid_to() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    let key = external_key(&kms).await;
    let now = unix_now();
    let (a, b) = (random_material(), random_material());
    let id_a = import_as(&kms, &key, &a, None, None, None).await.unwrap();
    let id_b = import_as(
        &kms,
        &key,
        &b,
        Some(ImportType::NewKeyMaterial),
        None,
        Some(now + 2 * DAY),
    )
    .await
    .unwrap();
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let (under_b, _) = encrypt_with_id(&kms, &key).await;
    let id_c = stage(&kms, &key, Some(now + DAY)).await.unwrap();
    let meta = metadata(&kms, &key).await;
    // DescribeKey's expiry is the current material's (B's).
    assert_eq!(meta.valid_to.unwrap().secs(), now + 2 * DAY);

    // The expiries are due work in the store: a restarted server does them.
    server.stop();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    assert_eq!(server.advance_clock(DAY - 60), 0);
    assert_eq!(states(&kms, &key).await.len(), 3);
    // C (pending rotation) expires: gone, the key as it was.
    assert_eq!(server.advance_clock(120), 1);
    let listed = states(&kms, &key).await;
    assert!(listed.iter().all(|(id, ..)| *id != id_c), "{listed:?}");
    assert_eq!(state(&kms, &key).await, KeyState::Enabled);
    assert_eq!(decrypted_by(&kms, &under_b).await, id_b);
    // B (current) expires: the key waits for it.
    assert_eq!(server.advance_clock(DAY), 1);
    assert_eq!(state(&kms, &key).await, KeyState::PendingImport);
    assert_eq!(
        states(&kms, &key).await,
        [
            (
                id_a.clone(),
                KeyMaterialState::NonCurrent,
                ImportState::Imported
            ),
            (
                id_b.clone(),
                KeyMaterialState::Current,
                ImportState::PendingImport
            ),
        ]
    );
    assert_eq!(
        decrypt_error(&kms, &under_b).await,
        "KMSInvalidStateException"
    );
    // Nothing more is due.
    assert_eq!(server.advance_clock(400 * DAY), 0);
    // B again (EXISTING without an id: the current material), for good.
    assert_eq!(
        import_as(&kms, &key, &b, None, None, None).await.unwrap(),
        id_b
    );
    assert_eq!(state(&kms, &key).await, KeyState::Enabled);
    assert_eq!(decrypted_by(&kms, &under_b).await, id_b);
}

/// From the attacker's side: an IAM user without kms:ImportKeyMaterial
/// cannot stage new material, another account cannot stage or rotate,
/// a grantee cannot rotate; the staged material is left as it was.
#[tokio::test]
async fn who_may_not_stage_or_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_other, secret_other) = create_account(dir.path(), "444455556666");
    let kms = server.client();
    let key = external_key(&kms).await;
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key}");
    import_as(&kms, &key, &random_material(), None, None, None)
        .await
        .unwrap();
    // A key policy that gives the other account everything too.
    open_to_other_account(&kms, &key).await;
    let other = server.client_with(&id_other, &secret_other, "us-east-1");
    // A user who may get import parameters and use the key, not import.
    let (user, _) = user_allowed(
        &server,
        "stager",
        &[
            "kms:GetParametersForImport",
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:ListKeyRotations",
        ],
    );
    // A user with no policy of its own, given a grant to use the key.
    let (grantee, grantee_arn) = user_allowed(&server, "grantee", &[]);
    kms.create_grant()
        .key_id(&key)
        .grantee_principal(&grantee_arn)
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::DescribeKey)
        .send()
        .await
        .unwrap();

    // The user gets import parameters, the other account does not; with
    // the owner's token, neither imports.
    let wrapping = parameters(
        &user,
        &arn,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .await;
    let err = other
        .get_parameters_for_import()
        .key_id(&arn)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    for (who, attacker) in [("user", &user), ("other account", &other)] {
        let err = import_with(
            attacker,
            &arn,
            &wrapping,
            &random_material(),
            Some(ImportType::NewKeyMaterial),
            None,
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException", "{who}");
    }
    assert_eq!(states(&kms, &key).await.len(), 1);
    // A pending material the owner staged: nobody else rotates to it.
    let staged = stage(&kms, &key, None).await.unwrap();
    let (_, named) = encrypt_with_id(&grantee, &arn).await;
    for (who, attacker) in [
        ("user", &user),
        ("grantee", &grantee),
        ("other account", &other),
    ] {
        let err = attacker
            .rotate_key_on_demand()
            .key_id(&arn)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException", "{who}");
        let err = delete_by_id(attacker, &arn, &staged).await.unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException", "{who}");
    }
    let listed = states(&kms, &key).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].0, named);
    assert_eq!(listed[1].1, KeyMaterialState::PendingRotation);
    assert_eq!(current_id(&kms, &key).await, Some(named));
}

/// Two nodes on one PostgreSQL database: material staged, rotated to and
/// deleted through one node reaches the other's key cache through the
/// change feed.
#[tokio::test]
async fn two_nodes_follow_material_changes() {
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
    let (kms_a, kms_b) = (a.client(), b.client());
    let key = external_key(&kms_a).await;
    let id_1 = import_as(&kms_a, &key, &random_material(), None, None, None)
        .await
        .unwrap();
    // Node b holds the key in its cache.
    let under_1 = encrypt(&kms_b, &key).await;
    let id_2 = stage(&kms_a, &key, None).await.unwrap();
    kms_a
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    // Node b encrypts with the new material once the feed tells it.
    eventually(|| async {
        let ciphertext = encrypt(&kms_b, &key).await;
        decrypted_by(&kms_a, &ciphertext).await == id_2
    })
    .await;
    assert_eq!(decrypted_by(&kms_b, &under_1).await, id_1);
    // Deleted through node b: node a's cache learns it.
    delete_by_id(&kms_b, &key, &id_1).await.unwrap();
    eventually(|| async {
        kms_a
            .decrypt()
            .ciphertext_blob(Blob::new(under_1.clone()))
            .send()
            .await
            .is_err_and(|e| code(&e) == "KMSInvalidStateException")
    })
    .await;
    a.stop();
    b.stop();
}

/// `trent store copy` into PostgreSQL brings every material of an imported
/// key with its states: ciphertexts of each open on a node of the
/// database, and the staged one is rotated to there.
#[tokio::test]
async fn store_copy_keeps_every_imported_material() {
    use trent_store::test_support::{Schema, test_url};
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    schema.create().await;
    let db = schema.database_url();
    let dir = tempfile::tempdir().unwrap();
    let single = Server::start_in(dir.path(), &[]);
    let kms = single.client();
    let key = external_key(&kms).await;
    let id_a = import_as(&kms, &key, &random_material(), None, None, None)
        .await
        .unwrap();
    let under_a = encrypt(&kms, &key).await;
    let id_b = stage(&kms, &key, None).await.unwrap();
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let under_b = encrypt(&kms, &key).await;
    let id_c = stage(&kms, &key, None).await.unwrap();
    let listed = rotations(&kms, &key, true).await;
    single.stop();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["store", "copy", "--from"])
        .arg(dir.path())
        .args(["--to", &db])
        .env_remove("TRENT_DATABASE_URL")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("1 keys (3 material versions"), "{said}");
    let node_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join("root.key"),
        node_dir.path().join("root.key"),
    )
    .unwrap();
    let node = Server::start_in(node_dir.path(), &["--database-url", &db]);
    let kms = node.client();
    assert_eq!(rotations(&kms, &key, true).await, listed);
    assert_eq!(decrypted_by(&kms, &under_a).await, id_a);
    assert_eq!(decrypted_by(&kms, &under_b).await, id_b);
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(encrypt_with_id(&kms, &key).await.1, id_c);
    node.stop();
}
