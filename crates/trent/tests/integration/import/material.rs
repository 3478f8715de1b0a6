//! The material's id, ImportType and KeyMaterialId, ListKeyRotations'
//! IncludeKeyMaterial, KeyMaterialDescription.

use super::*;

/// The 2025 additions, as far as this server has them: the material's id
/// (from the key and the material), ImportType and KeyMaterialId checked.
#[tokio::test]
async fn import_type_and_key_material_id() {
    use aws_sdk_kms::types::ImportType;
    let server = Server::start();
    let kms = server.client();
    let key = external_key(&kms).await;
    let meta = kms.describe_key().key_id(&key).send().await.unwrap();
    assert_eq!(meta.key_metadata.unwrap().current_key_material_id, None);
    let material = random_material();
    let algorithm = AlgorithmSpec::RsaesOaepSha256;
    let (token, public) = parameters(&kms, &key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    let send = |material: &[u8], import_type: Option<ImportType>, id: Option<&str>| {
        kms.import_key_material()
            .key_id(&key)
            .import_token(Blob::new(token.clone()))
            .encrypted_key_material(Blob::new(wrap(&public, &algorithm, material)))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .set_import_type(import_type)
            .set_key_material_id(id.map(str::to_owned))
            .send()
    };
    // Nothing imported yet: there is no existing material to match.
    let err = send(&material, Some(ImportType::ExistingKeyMaterial), None)
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyMaterialException");
    let err = send(
        &material,
        Some(ImportType::NewKeyMaterial),
        Some(&"a".repeat(64)),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let out = send(&material, Some(ImportType::NewKeyMaterial), None)
        .await
        .unwrap();
    let id = out.key_material_id.unwrap();
    assert_eq!(id.len(), 64);
    let meta = kms.describe_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        meta.key_metadata
            .unwrap()
            .current_key_material_id
            .as_deref(),
        Some(id.as_str())
    );
    // The same material again: EXISTING (the default now), with or without
    // its id; NEW is refused, as is another id.
    let again = send(&material, None, Some(&id)).await.unwrap();
    assert_eq!(again.key_material_id.as_deref(), Some(id.as_str()));
    let err = send(&material, Some(ImportType::NewKeyMaterial), None)
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyMaterialException");
    let err = send(
        &material,
        Some(ImportType::ExistingKeyMaterial),
        Some(&"b".repeat(64)),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyMaterialException");
    // Another key's id for the same material differs (bound to the key).
    let other = external_key(&kms).await;
    let (other_token, other_public) =
        parameters(&kms, &other, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    let out = kms
        .import_key_material()
        .key_id(&other)
        .import_token(Blob::new(other_token))
        .encrypted_key_material(Blob::new(wrap(&other_public, &algorithm, &material)))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
    assert_ne!(out.key_material_id.unwrap(), id);
    // DeleteImportedKeyMaterial by the material's id, not another.
    let err = kms
        .delete_imported_key_material()
        .key_id(&key)
        .key_material_id("c".repeat(64))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let out = kms
        .delete_imported_key_material()
        .key_id(&key)
        .key_material_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_material_id.as_deref(), Some(id.as_str()));
    assert_eq!(state(&kms, &key).await, KeyState::PendingImport);
}

/// ListKeyRotations with IncludeKeyMaterial: an imported key's material
/// (with its import state, expiry and description), a generated key's
/// first material before its rotations.
#[tokio::test]
async fn list_key_rotations_includes_key_material() {
    use aws_sdk_kms::types::{ImportState, IncludeKeyMaterial, KeyMaterialState};
    let server = Server::start();
    let kms = server.client();
    let key = external_key(&kms).await;
    let list = |key: String, include: Option<IncludeKeyMaterial>| {
        let kms = kms.clone();
        async move {
            kms.list_key_rotations()
                .key_id(key)
                .set_include_key_material(include)
                .send()
                .await
                .unwrap()
                .rotations
                .unwrap_or_default()
        }
    };
    let all = Some(IncludeKeyMaterial::AllKeyMaterial);
    assert!(list(key.clone(), all.clone()).await.is_empty());
    let material = random_material();
    import(&kms, &key, AlgorithmSpec::RsaesOaepSha256, &material).await;
    assert!(list(key.clone(), None).await.is_empty());
    let listed = list(key.clone(), all.clone()).await;
    assert_eq!(listed.len(), 1);
    let meta = kms.describe_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        listed[0].key_material_id,
        meta.key_metadata.unwrap().current_key_material_id
    );
    assert_eq!(listed[0].import_state, Some(ImportState::Imported));
    assert_eq!(
        listed[0].key_material_state,
        Some(KeyMaterialState::Current)
    );
    assert_eq!(
        listed[0].expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert_eq!(listed[0].rotation_date, None);
    assert_eq!(listed[0].key_material_description, None);
    // A description, kept by a re-import without one, replaced by another.
    let (token, public) = parameters(
        &kms,
        &key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .await;
    let reimport = |description: Option<&str>| {
        kms.import_key_material()
            .key_id(&key)
            .import_token(Blob::new(token.clone()))
            .encrypted_key_material(Blob::new(wrap(
                &public,
                &AlgorithmSpec::RsaesOaepSha256,
                &material,
            )))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .set_key_material_description(description.map(str::to_owned))
            .send()
    };
    for (given, kept) in [
        (Some("from the HSM"), "from the HSM"),
        (None, "from the HSM"),
        (Some("from the backup"), "from the backup"),
    ] {
        reimport(given).await.unwrap();
        let listed = list(key.clone(), all.clone()).await;
        assert_eq!(listed[0].key_material_description.as_deref(), Some(kept));
    }
    kms.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let listed = list(key.clone(), all.clone()).await;
    assert_eq!(listed[0].import_state, Some(ImportState::PendingImport));
    assert_eq!(listed[0].expiration_model, None);
    assert_eq!(
        listed[0].key_material_description.as_deref(),
        Some("from the backup")
    );
    // Only symmetric keys take a description.
    let hmac = kms
        .create_key()
        .origin(OriginType::External)
        .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let (token, public) = parameters(
        &kms,
        &hmac,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .await;
    let err = kms
        .import_key_material()
        .key_id(&hmac)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrap(
            &public,
            &AlgorithmSpec::RsaesOaepSha256,
            &material,
        )))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .key_material_description("not here")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");

    // A key whose material KMS made: its first material, then rotations.
    let generated = new_key(&kms).await;
    kms.rotate_key_on_demand()
        .key_id(&generated)
        .send()
        .await
        .unwrap();
    assert_eq!(list(generated.clone(), None).await.len(), 1);
    let listed = list(generated.clone(), all).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].rotation_date, None);
    assert_eq!(
        listed[0].key_material_state,
        Some(KeyMaterialState::NonCurrent)
    );
    assert_eq!(listed[0].import_state, None);
    assert!(listed[1].rotation_date.is_some());
    assert_eq!(
        listed[1].key_material_state,
        Some(KeyMaterialState::Current)
    );
    assert_ne!(listed[0].key_material_id, listed[1].key_material_id);
}
