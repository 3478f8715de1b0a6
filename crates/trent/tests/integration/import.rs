//! Issue 17, imported key material (Origin EXTERNAL): GetParametersForImport,
//! ImportKeyMaterial with each wrapping algorithm (wrapped here with
//! aws-lc-rs, as a client would), DeleteImportedKeyMaterial, re-import of
//! the same material only, import tokens bound to their key and expiring,
//! expiry at ValidTo (by the test clock, across a restart), and who may not
//! import.

use crate::common::{ACCOUNT, Server, code, create_account, iam, message, new_key, xml_value};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, KeyState, OriginType, WrappingKeySpec,
};
use base64::Engine as _;

const DAY: i64 = 24 * 60 * 60;

/// Wraps `material` under the DER SPKI `public` as AWS documents it.
fn wrap(public: &[u8], algorithm: &AlgorithmSpec, material: &[u8]) -> Vec<u8> {
    let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(public).unwrap()).unwrap();
    let oaep = match algorithm {
        AlgorithmSpec::RsaesOaepSha1 | AlgorithmSpec::RsaAesKeyWrapSha1 => &OAEP_SHA1_MGF1SHA1,
        _ => &OAEP_SHA256_MGF1SHA256,
    };
    let encrypt = |plaintext: &[u8]| {
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key.encrypt(oaep, plaintext, &mut out, None).unwrap().len();
        out.truncate(n);
        out
    };
    match algorithm {
        AlgorithmSpec::RsaAesKeyWrapSha1 | AlgorithmSpec::RsaAesKeyWrapSha256 => {
            let mut aes = [0u8; 32];
            aws_lc_rs::rand::fill(&mut aes).unwrap();
            let mut out = encrypt(&aes);
            let mut wrapped = vec![0u8; material.len() + 16];
            let n = AesKek::new(&AES_256, &aes)
                .unwrap()
                .wrap_with_padding(material, &mut wrapped)
                .unwrap()
                .len();
            out.extend_from_slice(&wrapped[..n]);
            out
        }
        _ => encrypt(material),
    }
}

fn random_material() -> Vec<u8> {
    let mut material = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut material).unwrap();
    material
}

async fn external_key(kms: &Client) -> String {
    kms.create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// (import token, wrapping public key) for `key`.
async fn parameters(
    kms: &Client,
    key: &str,
    algorithm: AlgorithmSpec,
    spec: WrappingKeySpec,
) -> (Vec<u8>, Vec<u8>) {
    let out = kms
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(algorithm)
        .wrapping_key_spec(spec)
        .send()
        .await
        .unwrap();
    (
        out.import_token.unwrap().into_inner(),
        out.public_key.unwrap().into_inner(),
    )
}

/// Imports `material` for good (no expiry), wrapped with `algorithm`.
async fn import(kms: &Client, key: &str, algorithm: AlgorithmSpec, material: &[u8]) {
    let (token, public) = parameters(kms, key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    kms.import_key_material()
        .key_id(key)
        .import_token(Blob::new(token))
        .encrypted_key_material(Blob::new(wrap(&public, &algorithm, material)))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
}

async fn state(kms: &Client, key: &str) -> KeyState {
    kms.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_state
        .unwrap()
}

async fn encrypt(kms: &Client, key: &str) -> Vec<u8> {
    kms.encrypt()
        .key_id(key)
        .plaintext(Blob::new("under imported material"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner()
}

async fn decrypts(kms: &Client, ciphertext: &[u8]) -> bool {
    let out = kms
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .send()
        .await
        .unwrap();
    out.plaintext.unwrap().as_ref() == b"under imported material"
}

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
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "export", "--data-dir"])
        .arg(dir.path())
        .env("TRENT_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success());
    let expiries: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
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
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::444455556666:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    kms.put_key_policy()
        .key_id(&key)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let other = server.client_with(&id_b, &secret_b, "us-east-1");
    // An IAM user of the key's account allowed only to use the key.
    let (status, answer) = iam(
        &server,
        &[("Action", "CreateUser"), ("UserName", "importer")],
    );
    assert_eq!(status, 200, "{answer}");
    let user_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}"#;
    let (status, answer) = iam(
        &server,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "importer"),
            ("PolicyName", "use"),
            ("PolicyDocument", user_policy),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = iam(
        &server,
        &[("Action", "CreateAccessKey"), ("UserName", "importer")],
    );
    assert_eq!(status, 200, "{answer}");
    let user = server.client_with(
        &xml_value(&answer, "AccessKeyId"),
        &xml_value(&answer, "SecretAccessKey"),
        "us-east-1",
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
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "export", "--data-dir"])
        .arg(dir.path())
        .env("TRENT_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success());
    let trail = String::from_utf8(out.stdout).unwrap();
    let events: Vec<serde_json::Value> = trail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
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
        assert!(!trail.contains(&b64.encode(secret)));
        assert!(!trail.contains(&b64.encode(&secret[..48])[..60]));
    }
}

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

/// Two nodes on one PostgreSQL database (skipped without
/// `TRENT_TEST_POSTGRES_URL`): material imported on one is used on the
/// other, its expiry is done once when both find it due, and both nodes
/// then refuse it until it is imported again, on either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_imported_material_and_expire_it_once() {
    use trent_store::test_support::{Schema, test_url};
    let Some(url) = test_url() else { return };
    let schema = Schema::fresh(&url);
    schema.create().await;
    let db = schema.database_url();
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let args = ["--database-url", db.as_str(), "--unsafe-test-clock"];
    let a = Server::start_in(dirs[0].path(), &args);
    std::fs::copy(
        dirs[0].path().join("root.key"),
        dirs[1].path().join("root.key"),
    )
    .unwrap();
    let b = Server::start_in(dirs[1].path(), &args);
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
async fn eventually<F, Fut>(mut check: F)
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
