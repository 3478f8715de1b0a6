//! ML-KEM keys (issue 17): key specs ML_KEM_512/768/1024 with usage
//! ENCAPSULATE_DECAPSULATE; GetPublicKey, Encapsulate and Decapsulate
//! checked against aws-lc-rs on the client side; refusals, grants and
//! another account's attempts.

use crate::common::*;
use aws_lc_rs::kem::{EncapsulationKey, ML_KEM_512, ML_KEM_768, ML_KEM_1024};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncapsulationAlgorithmSpec, GrantOperation, KeySpec, KeyUsageType, SigningAlgorithmSpec,
};

const ROOT: &str = "arn:aws:iam::111122223333:root";
const ML_KEM: EncapsulationAlgorithmSpec = EncapsulationAlgorithmSpec::MlKem;

/// (key spec, aws-lc-rs algorithm, encapsulation key bytes, ciphertext bytes),
/// FIPS 203 table 3.
fn specs() -> [(
    KeySpec,
    &'static aws_lc_rs::kem::Algorithm<aws_lc_rs::kem::AlgorithmId>,
    usize,
    usize,
); 3] {
    [
        (KeySpec::MlKem512, &ML_KEM_512, 800, 768),
        (KeySpec::MlKem768, &ML_KEM_768, 1184, 1088),
        (KeySpec::MlKem1024, &ML_KEM_1024, 1568, 1568),
    ]
}

async fn create_kem(kms: &Client, spec: KeySpec) -> String {
    kms.create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::EncapsulateDecapsulate)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

type Sent<O, E> =
    Result<O, aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>>;

async fn try_encapsulate(
    kms: &Client,
    key: &str,
) -> Sent<
    aws_sdk_kms::operation::encapsulate::EncapsulateOutput,
    aws_sdk_kms::operation::encapsulate::EncapsulateError,
> {
    kms.encapsulate()
        .key_id(key)
        .encapsulation_algorithm(ML_KEM)
        .send()
        .await
}

async fn try_decapsulate(
    kms: &Client,
    key: &str,
    ciphertext: &[u8],
) -> Sent<
    aws_sdk_kms::operation::decapsulate::DecapsulateOutput,
    aws_sdk_kms::operation::decapsulate::DecapsulateError,
> {
    kms.decapsulate()
        .key_id(key)
        .encapsulation_algorithm(ML_KEM)
        .shared_secret_ciphertext_blob(Blob::new(ciphertext))
        .send()
        .await
}

async fn decapsulate(kms: &Client, key: &str, ciphertext: &[u8]) -> Vec<u8> {
    try_decapsulate(kms, key, ciphertext)
        .await
        .unwrap()
        .shared_secret
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn every_ml_kem_spec_agrees_on_secrets_with_a_local_peer() {
    let server = Server::start();
    let kms = server.client();
    for (spec, algorithm, key_len, ciphertext_len) in specs() {
        let id = create_kem(&kms, spec.clone()).await;
        let meta = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(meta.key_spec(), Some(&spec));
        assert_eq!(
            meta.key_usage(),
            Some(&KeyUsageType::EncapsulateDecapsulate)
        );
        assert_eq!(meta.encapsulation_algorithms(), [ML_KEM]);
        assert!(meta.encryption_algorithms().is_empty());
        assert!(meta.signing_algorithms().is_empty());
        assert_eq!(meta.current_key_material_id(), None, "asymmetric: no id");

        let public = kms.get_public_key().key_id(&id).send().await.unwrap();
        assert_eq!(public.encapsulation_algorithms(), [ML_KEM]);
        assert_eq!(
            public.key_usage(),
            Some(&KeyUsageType::EncapsulateDecapsulate)
        );
        let spki = public.public_key().unwrap().as_ref();
        // SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.4.n }, BIT STRING }:
        // the raw encapsulation key ends it.
        assert_eq!(spki[0], 0x30);
        assert_eq!(spki[spki.len() - key_len - 1], 0, "no unused bits");
        let raw = &spki[spki.len() - key_len..];

        // A peer encapsulates with the public key; Trent decapsulates.
        let peer = EncapsulationKey::new(algorithm, raw).unwrap();
        let (ciphertext, sent) = peer.encapsulate().unwrap();
        assert_eq!(ciphertext.as_ref().len(), ciphertext_len);
        let got = decapsulate(&kms, &id, ciphertext.as_ref()).await;
        assert_eq!(got, sent.as_ref(), "{spec:?}");

        // Trent encapsulates; its own Decapsulate agrees.
        let out = try_encapsulate(&kms, &id).await.unwrap();
        assert!(out.key_id().unwrap().ends_with(&id));
        assert_eq!(out.encapsulation_algorithm(), Some(&ML_KEM));
        let secret = out.shared_secret().unwrap().as_ref().to_vec();
        let blob = out
            .shared_secret_ciphertext_blob()
            .unwrap()
            .as_ref()
            .to_vec();
        assert_eq!(secret.len(), 32);
        assert_eq!(blob.len(), ciphertext_len);
        assert_eq!(decapsulate(&kms, &id, &blob).await, secret);

        // Implicit rejection: an altered ciphertext of the right length
        // yields an unrelated secret, not an error.
        let mut altered = blob.clone();
        altered[7] ^= 0x40;
        let other = decapsulate(&kms, &id, &altered).await;
        assert_eq!(other.len(), 32);
        assert_ne!(other, secret);
        // Only a wrong length is refused, with no message, as AWS does.
        for bad in [&blob[1..], &[blob.as_slice(), &[0]].concat()[..]] {
            let err = try_decapsulate(&kms, &id, bad).await.unwrap_err();
            assert_eq!(code(&err), "InvalidCiphertextException");
            assert_eq!(message(&err), "");
        }
    }
}

#[tokio::test]
async fn ml_kem_keys_refuse_what_does_not_fit_them() {
    let server = Server::start();
    let kms = server.client();
    let kem = create_kem(&kms, KeySpec::MlKem768).await;
    let symmetric = new_key(&kms).await;
    // Usages that do not fit the spec, and the ML-KEM usage on other specs.
    for (spec, usage) in [
        (KeySpec::MlKem768, KeyUsageType::SignVerify),
        (KeySpec::MlKem512, KeyUsageType::EncryptDecrypt),
        (KeySpec::MlKem1024, KeyUsageType::KeyAgreement),
        (KeySpec::EccNistP256, KeyUsageType::EncapsulateDecapsulate),
        (
            KeySpec::SymmetricDefault,
            KeyUsageType::EncapsulateDecapsulate,
        ),
    ] {
        let err = kms
            .create_key()
            .key_spec(spec.clone())
            .key_usage(usage.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "ValidationException", "{spec:?} {usage:?}");
    }
    // Encapsulate on a key of another usage.
    let err = try_encapsulate(&kms, &symmetric).await.unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
    assert!(
        message(&err).ends_with("key usage is ENCRYPT_DECRYPT which is not valid for Encapsulate."),
        "{}",
        message(&err)
    );
    // Other operations on the ML-KEM key.
    let err = kms
        .sign()
        .key_id(&kem)
        .signing_algorithm(SigningAlgorithmSpec::MlDsaShake256)
        .message(Blob::new("m"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
    let err = kms
        .encrypt()
        .key_id(&kem)
        .plaintext(Blob::new("m"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
    for (enable, what) in [(true, "EnableKeyRotation"), (false, "RotateKeyOnDemand")] {
        let err = if enable {
            code(
                &kms.enable_key_rotation()
                    .key_id(&kem)
                    .send()
                    .await
                    .unwrap_err(),
            )
        } else {
            code(
                &kms.rotate_key_on_demand()
                    .key_id(&kem)
                    .send()
                    .await
                    .unwrap_err(),
            )
        };
        assert_eq!(err, "UnsupportedOperationException", "{what}");
    }
    // An algorithm the model does not know.
    let err = kms
        .encapsulate()
        .key_id(&kem)
        .encapsulation_algorithm(EncapsulationAlgorithmSpec::from("ML_KEM_9"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // DryRun answers after every check.
    let err = kms
        .encapsulate()
        .key_id(&kem)
        .encapsulation_algorithm(ML_KEM)
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    // A disabled key.
    kms.disable_key().key_id(&kem).send().await.unwrap();
    let err = try_decapsulate(&kms, &kem, &[0u8; 1088]).await.unwrap_err();
    assert_eq!(code(&err), "DisabledException");
}

#[tokio::test]
async fn ml_kem_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let id = create_kem(&kms, KeySpec::MlKem1024).await;
    let out = try_encapsulate(&kms, &id).await.unwrap();
    let public = kms.get_public_key().key_id(&id).send().await.unwrap();
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let blob = out.shared_secret_ciphertext_blob().unwrap().as_ref();
    assert_eq!(
        decapsulate(&kms, &id, blob).await,
        out.shared_secret().unwrap().as_ref()
    );
    let again = kms.get_public_key().key_id(&id).send().await.unwrap();
    assert_eq!(again.public_key(), public.public_key());
}

#[tokio::test]
async fn grants_policies_and_other_accounts_govern_ml_kem_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_b, secret_b) = create_account(dir.path(), "444455556666");
    let a = server.client();
    let b = server.client_with(&id_b, &secret_b, "us-east-1");
    let key = a
        .create_key()
        .key_spec(KeySpec::MlKem768)
        .key_usage(KeyUsageType::EncapsulateDecapsulate)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let arn = key.arn().unwrap().to_owned();
    let out = try_encapsulate(&a, &arn).await.unwrap();
    let blob = out.shared_secret_ciphertext_blob().unwrap().clone();

    // Another account: not found by bare id; by ARN denied by the default
    // policy, for both operations and the public key.
    let err = b
        .encapsulate()
        .key_id(key.key_id())
        .encapsulation_algorithm(ML_KEM)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let err = try_decapsulate(&b, &arn, blob.as_ref()).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    assert!(
        message(&err).contains("kms:Decapsulate"),
        "{}",
        message(&err)
    );
    let err = b.get_public_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");

    // A grant of Encapsulate only: the grantee encapsulates, but cannot
    // decapsulate what it (or anyone) encapsulated.
    a.create_grant()
        .key_id(&arn)
        .grantee_principal("arn:aws:iam::444455556666:root")
        .operations(GrantOperation::Encapsulate)
        .send()
        .await
        .unwrap();
    try_encapsulate(&b, &arn).await.unwrap();
    let err = try_decapsulate(&b, &arn, blob.as_ref()).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");

    // The key policy allows the other account Decapsulate: now it recovers
    // the owner's secret.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::444455556666:root"}},"Action":"kms:Decapsulate","Resource":"*"}}]}}"#
    );
    a.put_key_policy()
        .key_id(&arn)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let got = try_decapsulate(&b, &arn, blob.as_ref()).await.unwrap();
    assert_eq!(got.shared_secret(), out.shared_secret());

    // Grants allow only operations of ML-KEM keys.
    for op in [
        GrantOperation::Sign,
        GrantOperation::Decrypt,
        GrantOperation::DeriveSharedSecret,
    ] {
        let err = a
            .create_grant()
            .key_id(&arn)
            .grantee_principal(ROOT)
            .operations(op.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "ValidationException", "{op:?}");
    }
    a.create_grant()
        .key_id(&arn)
        .grantee_principal(ROOT)
        .operations(GrantOperation::Decapsulate)
        .operations(GrantOperation::GetPublicKey)
        .send()
        .await
        .unwrap();
}
