//! Asymmetric and HMAC keys (issue #6): Sign/Verify for every key spec,
//! algorithm and message type, GetPublicKey, RSA OAEP, HMAC, data key
//! pairs, ECDH; checked against aws-lc-rs on the client side.

use crate::common::*;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self as sig, KeyPair};
use aws_lc_rs::{agreement, digest, rsa};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, EncryptionAlgorithmSpec, GrantOperation, KeyAgreementAlgorithmSpec, KeySpec,
    KeyUsageType, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
};

const ROOT: &str = "arn:aws:iam::111122223333:root";
const MESSAGE: &[u8] = b"Alice pays Bob 10 coins";

async fn create(kms: &Client, spec: KeySpec, usage: KeyUsageType) -> String {
    kms.create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// The signing algorithms AWS lists per key spec.
fn signing_algorithms(spec: &KeySpec) -> Vec<SigningAlgorithmSpec> {
    use SigningAlgorithmSpec as S;
    match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => vec![
            S::RsassaPssSha256,
            S::RsassaPssSha384,
            S::RsassaPssSha512,
            S::RsassaPkcs1V15Sha256,
            S::RsassaPkcs1V15Sha384,
            S::RsassaPkcs1V15Sha512,
        ],
        KeySpec::EccNistP256 | KeySpec::EccSecgP256K1 => vec![S::EcdsaSha256],
        KeySpec::EccNistP384 => vec![S::EcdsaSha384],
        KeySpec::EccNistP521 => vec![S::EcdsaSha512],
        KeySpec::EccNistEdwards25519 => vec![S::Ed25519Sha512, S::Ed25519PhSha512],
        KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => vec![S::MlDsaShake256],
        other => panic!("{other:?} does not sign"),
    }
}

/// The hash a DIGEST message must come from, for algorithms that take one.
fn digest_of(alg: &SigningAlgorithmSpec) -> Option<&'static digest::Algorithm> {
    use SigningAlgorithmSpec as S;
    match alg {
        S::RsassaPssSha256 | S::RsassaPkcs1V15Sha256 | S::EcdsaSha256 => Some(&digest::SHA256),
        S::RsassaPssSha384 | S::RsassaPkcs1V15Sha384 | S::EcdsaSha384 => Some(&digest::SHA384),
        S::RsassaPssSha512 | S::RsassaPkcs1V15Sha512 | S::EcdsaSha512 => Some(&digest::SHA512),
        _ => None,
    }
}

/// aws-lc-rs's verifier for a KMS signature of a RAW message.
fn local_verifier(
    spec: &KeySpec,
    alg: &SigningAlgorithmSpec,
) -> &'static dyn sig::VerificationAlgorithm {
    use SigningAlgorithmSpec as S;
    match (alg, spec) {
        (S::RsassaPssSha256, _) => &sig::RSA_PSS_2048_8192_SHA256,
        (S::RsassaPssSha384, _) => &sig::RSA_PSS_2048_8192_SHA384,
        (S::RsassaPssSha512, _) => &sig::RSA_PSS_2048_8192_SHA512,
        (S::RsassaPkcs1V15Sha256, _) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (S::RsassaPkcs1V15Sha384, _) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (S::RsassaPkcs1V15Sha512, _) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (S::EcdsaSha256, KeySpec::EccNistP256) => &sig::ECDSA_P256_SHA256_ASN1,
        (S::EcdsaSha256, KeySpec::EccSecgP256K1) => &sig::ECDSA_P256K1_SHA256_ASN1,
        (S::EcdsaSha384, _) => &sig::ECDSA_P384_SHA384_ASN1,
        (S::EcdsaSha512, _) => &sig::ECDSA_P521_SHA512_ASN1,
        (S::Ed25519Sha512, _) => &sig::ED25519,
        (S::MlDsaShake256, KeySpec::MlDsa44) => &sig::ML_DSA_44,
        (S::MlDsaShake256, KeySpec::MlDsa65) => &sig::ML_DSA_65,
        (S::MlDsaShake256, KeySpec::MlDsa87) => &sig::ML_DSA_87,
        other => panic!("no local verifier for {other:?}"),
    }
}

/// FIPS 204's mu of `message` (empty context) for an ML-DSA SPKI, computed
/// with RustCrypto's ml-dsa.
fn external_mu(spec: &KeySpec, spki: &[u8], message: &[u8]) -> Vec<u8> {
    fn mu<P: ml_dsa::MlDsaParams>(raw: &[u8], message: &[u8]) -> Vec<u8> {
        use ml_dsa::KeyInit;
        use ml_dsa::signature::digest::Update;
        ml_dsa::VerifyingKey::<P>::new_from_slice(raw)
            .unwrap()
            .compute_mu(
                |h| {
                    h.update(message);
                    Ok(())
                },
                b"",
            )
            .unwrap()
            .to_vec()
    }
    let raw = |len: usize| &spki[spki.len() - len..];
    match spec {
        KeySpec::MlDsa44 => mu::<ml_dsa::MlDsa44>(raw(1312), message),
        KeySpec::MlDsa65 => mu::<ml_dsa::MlDsa65>(raw(1952), message),
        KeySpec::MlDsa87 => mu::<ml_dsa::MlDsa87>(raw(2592), message),
        other => panic!("{other:?} is not ML-DSA"),
    }
}

async fn sign(
    kms: &Client,
    id: &str,
    alg: &SigningAlgorithmSpec,
    kind: MessageType,
    message: &[u8],
) -> Vec<u8> {
    kms.sign()
        .key_id(id)
        .signing_algorithm(alg.clone())
        .message_type(kind)
        .message(Blob::new(message))
        .send()
        .await
        .unwrap_or_else(|e| panic!("sign {alg:?}: {e:?}"))
        .signature
        .unwrap()
        .into_inner()
}

async fn verify_code(
    kms: &Client,
    id: &str,
    alg: &SigningAlgorithmSpec,
    kind: MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    match kms
        .verify()
        .key_id(id)
        .signing_algorithm(alg.clone())
        .message_type(kind)
        .message(Blob::new(message))
        .signature(Blob::new(signature))
        .send()
        .await
    {
        Ok(out) => {
            assert!(out.signature_valid);
            assert_eq!(out.signing_algorithm(), Some(alg));
            Ok(())
        }
        Err(e) => Err(code(&e)),
    }
}

/// ED25519_PH_SHA_512 (RFC 8032 Ed25519ph): DIGEST messages only, a
/// SHA-512 digest of 64 bytes. (The primitive is checked against RFC 8032's
/// test vector in trent-crypto; aws-lc-rs has no Ed25519ph verifier to
/// check against here.)
#[tokio::test]
async fn ed25519ph_signs_sha512_digests() {
    let server = Server::start();
    let kms = server.client();
    let id = create(&kms, KeySpec::EccNistEdwards25519, KeyUsageType::SignVerify).await;
    let alg = SigningAlgorithmSpec::Ed25519PhSha512;
    let digest = digest::digest(&digest::SHA512, MESSAGE).as_ref().to_vec();
    let signature = sign(&kms, &id, &alg, MessageType::Digest, &digest).await;
    assert_eq!(signature.len(), 64);
    verify_code(&kms, &id, &alg, MessageType::Digest, &digest, &signature)
        .await
        .unwrap();
    // Not a pure Ed25519 signature of the message, nor of the digest.
    for (pure, message) in [(MessageType::Raw, MESSAGE), (MessageType::Raw, &digest[..])] {
        assert_eq!(
            verify_code(
                &kms,
                &id,
                &SigningAlgorithmSpec::Ed25519Sha512,
                pure,
                message,
                &signature
            )
            .await,
            Err("KMSInvalidSignatureException".into())
        );
    }
    let mut other = digest.clone();
    other[0] ^= 1;
    assert_eq!(
        verify_code(&kms, &id, &alg, MessageType::Digest, &other, &signature).await,
        Err("KMSInvalidSignatureException".into())
    );
    for (kind, message) in [
        (MessageType::Raw, MESSAGE),
        (MessageType::Digest, &digest[..32]),
    ] {
        let err = kms
            .sign()
            .key_id(&id)
            .signing_algorithm(alg.clone())
            .message_type(kind.clone())
            .message(Blob::new(message))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "ValidationException", "{kind:?}");
    }
}

#[tokio::test]
async fn every_key_spec_signs_and_verifies_every_algorithm_and_message_type() {
    let server = Server::start();
    let kms = server.client();
    let specs = [
        KeySpec::Rsa2048,
        KeySpec::Rsa3072,
        KeySpec::Rsa4096,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256K1,
        KeySpec::EccNistEdwards25519,
        KeySpec::MlDsa44,
        KeySpec::MlDsa65,
        KeySpec::MlDsa87,
    ];
    for spec in specs {
        let id = create(&kms, spec.clone(), KeyUsageType::SignVerify).await;
        let meta = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let expected = signing_algorithms(&spec);
        assert_eq!(meta.signing_algorithms(), expected.as_slice(), "{spec:?}");
        assert_eq!(meta.key_spec(), Some(&spec));
        assert!(meta.encryption_algorithms().is_empty(), "{spec:?}");
        let public = kms.get_public_key().key_id(&id).send().await.unwrap();
        assert_eq!(public.key_spec(), Some(&spec));
        assert_eq!(public.key_usage(), Some(&KeyUsageType::SignVerify));
        assert_eq!(public.signing_algorithms(), expected.as_slice());
        assert!(public.encryption_algorithms().is_empty());
        let spki = public.public_key.unwrap().into_inner();

        for alg in &expected {
            if *alg == SigningAlgorithmSpec::Ed25519PhSha512 {
                // DIGEST only, and no local verifier: see
                // `ed25519ph_signs_sha512_digests`.
                continue;
            }
            let local = sig::ParsedPublicKey::new(local_verifier(&spec, alg), &spki).unwrap();
            let signature = sign(&kms, &id, alg, MessageType::Raw, MESSAGE).await;
            local
                .verify_sig(MESSAGE, &signature)
                .unwrap_or_else(|_| panic!("{spec:?} {alg:?}: local verification"));
            verify_code(&kms, &id, alg, MessageType::Raw, MESSAGE, &signature)
                .await
                .unwrap();
            let mut tampered = signature.clone();
            tampered[signature.len() / 2] ^= 1;
            assert_eq!(
                verify_code(&kms, &id, alg, MessageType::Raw, MESSAGE, &tampered).await,
                Err("KMSInvalidSignatureException".into()),
                "{spec:?} {alg:?}"
            );
            assert_eq!(
                verify_code(&kms, &id, alg, MessageType::Raw, b"other", &signature).await,
                Err("KMSInvalidSignatureException".into())
            );

            if *alg == SigningAlgorithmSpec::MlDsaShake256 {
                // EXTERNAL_MU: a signature of mu is one of the message.
                let mu = external_mu(&spec, &spki, MESSAGE);
                let signature = sign(&kms, &id, alg, MessageType::ExternalMu, &mu).await;
                local
                    .verify_sig(MESSAGE, &signature)
                    .unwrap_or_else(|_| panic!("{spec:?}: EXTERNAL_MU signature, RAW verifier"));
                verify_code(&kms, &id, alg, MessageType::ExternalMu, &mu, &signature)
                    .await
                    .unwrap();
                let mut other = mu.clone();
                other[0] ^= 1;
                assert_eq!(
                    verify_code(&kms, &id, alg, MessageType::ExternalMu, &other, &signature).await,
                    Err("KMSInvalidSignatureException".into())
                );
                let err = kms
                    .sign()
                    .key_id(&id)
                    .signing_algorithm(alg.clone())
                    .message_type(MessageType::ExternalMu)
                    .message(Blob::new(&mu[1..]))
                    .send()
                    .await
                    .unwrap_err();
                assert_eq!(code(&err), "ValidationException", "{spec:?}");
            }
            let Some(hash) = digest_of(alg) else {
                // Neither Ed25519 nor ML-DSA sign digests.
                let err = kms
                    .sign()
                    .key_id(&id)
                    .signing_algorithm(alg.clone())
                    .message_type(MessageType::Digest)
                    .message(Blob::new([0u8; 64]))
                    .send()
                    .await
                    .unwrap_err();
                assert_eq!(code(&err), "ValidationException", "{spec:?} {alg:?}");
                continue;
            };
            // The digest is signed as given: the signature verifies as one of
            // the original message, locally and by KMS.
            let digest = digest::digest(hash, MESSAGE);
            let signature = sign(&kms, &id, alg, MessageType::Digest, digest.as_ref()).await;
            local
                .verify_sig(MESSAGE, &signature)
                .unwrap_or_else(|_| panic!("{spec:?} {alg:?}: DIGEST signature, RAW verifier"));
            verify_code(
                &kms,
                &id,
                alg,
                MessageType::Digest,
                digest.as_ref(),
                &signature,
            )
            .await
            .unwrap();
            verify_code(&kms, &id, alg, MessageType::Raw, MESSAGE, &signature)
                .await
                .unwrap();
            let err = kms
                .sign()
                .key_id(&id)
                .signing_algorithm(alg.clone())
                .message_type(MessageType::Digest)
                .message(Blob::new(&digest.as_ref()[1..]))
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&err), "ValidationException", "{spec:?} {alg:?}");
        }
    }
}

#[tokio::test]
async fn sign_refuses_wrong_usage_algorithm_and_input() {
    let server = Server::start();
    let kms = server.client();
    let p256 = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let symmetric = new_key(&kms).await;

    for (id, alg) in [
        (&p256, SigningAlgorithmSpec::EcdsaSha384),
        (&p256, SigningAlgorithmSpec::RsassaPssSha256),
        (&symmetric, SigningAlgorithmSpec::EcdsaSha256),
    ] {
        let err = kms
            .sign()
            .key_id(id)
            .signing_algorithm(alg.clone())
            .message(Blob::new(MESSAGE))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidKeyUsageException", "{alg:?}");
    }
    // A RAW message over 4096 bytes.
    let err = kms
        .sign()
        .key_id(&p256)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .message(Blob::new(vec![0u8; 4097]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // EXTERNAL_MU is for ML-DSA only.
    let err = kms
        .sign()
        .key_id(&p256)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .message_type(MessageType::ExternalMu)
        .message(Blob::new([0u8; 64]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");

    // A signature of another key is invalid, not an error of ours.
    let other = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let alg = SigningAlgorithmSpec::EcdsaSha256;
    let signature = sign(&kms, &other, &alg, MessageType::Raw, MESSAGE).await;
    assert_eq!(
        verify_code(&kms, &p256, &alg, MessageType::Raw, MESSAGE, &signature).await,
        Err("KMSInvalidSignatureException".into())
    );
    assert_eq!(
        verify_code(&kms, &p256, &alg, MessageType::Raw, MESSAGE, b"garbage").await,
        Err("KMSInvalidSignatureException".into())
    );

    // DryRun answers after every check.
    let err = kms
        .sign()
        .key_id(&p256)
        .signing_algorithm(alg.clone())
        .message(Blob::new(MESSAGE))
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    let err = kms
        .verify()
        .key_id(&p256)
        .signing_algorithm(alg.clone())
        .message(Blob::new(MESSAGE))
        .signature(Blob::new(signature.clone()))
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidSignatureException");

    // A disabled key neither signs nor shows its public key.
    kms.disable_key().key_id(&p256).send().await.unwrap();
    let err = kms
        .sign()
        .key_id(&p256)
        .signing_algorithm(alg.clone())
        .message(Blob::new(MESSAGE))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
    let err = kms.get_public_key().key_id(&p256).send().await.unwrap_err();
    assert_eq!(code(&err), "DisabledException");

    // A symmetric key has no public key.
    let err = kms
        .get_public_key()
        .key_id(&symmetric)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
}

#[tokio::test]
async fn create_key_checks_spec_and_usage_and_asymmetric_keys_do_not_rotate() {
    let server = Server::start();
    let kms = server.client();
    for (spec, usage) in [
        (KeySpec::EccNistP256, KeyUsageType::EncryptDecrypt),
        (KeySpec::EccSecgP256K1, KeyUsageType::KeyAgreement),
        (KeySpec::EccNistEdwards25519, KeyUsageType::EncryptDecrypt),
        (KeySpec::MlDsa44, KeyUsageType::KeyAgreement),
        (KeySpec::Rsa2048, KeyUsageType::GenerateVerifyMac),
        (KeySpec::Hmac256, KeyUsageType::SignVerify),
        (KeySpec::SymmetricDefault, KeyUsageType::SignVerify),
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
    // ECC keys have no default usage.
    let err = kms
        .create_key()
        .key_spec(KeySpec::EccNistP384)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // SM2 only in builds with the sm2 feature.
    let unbuilt = if cfg!(feature = "sm2") {
        vec![]
    } else {
        vec![KeySpec::Sm2]
    };
    for spec in unbuilt {
        let err = kms
            .create_key()
            .key_spec(spec.clone())
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "UnsupportedOperationException", "{spec:?}");
    }

    let rsa = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let hmac = create(&kms, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    for id in [&rsa, &hmac] {
        let err = kms
            .enable_key_rotation()
            .key_id(id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "UnsupportedOperationException");
        let err = kms
            .rotate_key_on_demand()
            .key_id(id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "UnsupportedOperationException");
        let err = kms
            .get_key_rotation_status()
            .key_id(id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "UnsupportedOperationException");
    }
}

#[tokio::test]
async fn rsa_oaep_encrypts_and_decrypts_within_aws_limits() {
    let server = Server::start();
    let kms = server.client();
    let limits = [
        (KeySpec::Rsa2048, 214, 190),
        (KeySpec::Rsa3072, 342, 318),
        (KeySpec::Rsa4096, 470, 446),
    ];
    for (spec, sha1_max, sha256_max) in limits {
        let id = create(&kms, spec.clone(), KeyUsageType::EncryptDecrypt).await;
        let meta = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let algorithms = [
            EncryptionAlgorithmSpec::RsaesOaepSha1,
            EncryptionAlgorithmSpec::RsaesOaepSha256,
        ];
        assert_eq!(meta.encryption_algorithms(), &algorithms);
        assert!(meta.signing_algorithms().is_empty());
        let spki = kms
            .get_public_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .public_key
            .unwrap()
            .into_inner();
        let local =
            rsa::OaepPublicEncryptingKey::new(rsa::PublicEncryptingKey::from_der(&spki).unwrap())
                .unwrap();
        for (alg, max, local_alg) in [
            (&algorithms[0], sha1_max, &rsa::OAEP_SHA1_MGF1SHA1),
            (&algorithms[1], sha256_max, &rsa::OAEP_SHA256_MGF1SHA256),
        ] {
            let plaintext = vec![0x5a; max];
            let out = kms
                .encrypt()
                .key_id(&id)
                .encryption_algorithm(alg.clone())
                .plaintext(Blob::new(plaintext.clone()))
                .send()
                .await
                .unwrap();
            assert_eq!(out.encryption_algorithm(), Some(alg));
            let ciphertext = out.ciphertext_blob.unwrap();
            let back = kms
                .decrypt()
                .key_id(&id)
                .encryption_algorithm(alg.clone())
                .ciphertext_blob(ciphertext.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(back.plaintext().unwrap().as_ref(), plaintext.as_slice());
            assert_eq!(back.encryption_algorithm(), Some(alg));

            // A ciphertext made locally with the public key.
            let mut local_ct = vec![0u8; local.ciphertext_size()];
            let local_ct = local
                .encrypt(local_alg, b"made outside", &mut local_ct, None)
                .unwrap();
            let back = kms
                .decrypt()
                .key_id(&id)
                .encryption_algorithm(alg.clone())
                .ciphertext_blob(Blob::new(local_ct.to_vec()))
                .send()
                .await
                .unwrap();
            assert_eq!(back.plaintext().unwrap().as_ref(), b"made outside");

            let err = kms
                .encrypt()
                .key_id(&id)
                .encryption_algorithm(alg.clone())
                .plaintext(Blob::new(vec![0x5a; max + 1]))
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&err), "ValidationException", "{spec:?} {alg:?}");
        }
    }

    let id = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let other = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let sha256 = EncryptionAlgorithmSpec::RsaesOaepSha256;
    let ciphertext = kms
        .encrypt()
        .key_id(&id)
        .encryption_algorithm(sha256.clone())
        .plaintext(Blob::new("secret"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let decrypt = |key: &str, alg: EncryptionAlgorithmSpec, ct: Blob| {
        kms.decrypt()
            .key_id(key)
            .encryption_algorithm(alg)
            .ciphertext_blob(ct)
            .send()
    };
    let err = decrypt(&other, sha256.clone(), ciphertext.clone())
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
    let err = decrypt(
        &id,
        EncryptionAlgorithmSpec::RsaesOaepSha1,
        ciphertext.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
    let err = decrypt(&id, sha256.clone(), Blob::new(vec![1u8; 17]))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
    // The ciphertext names no key: Decrypt needs KeyId.
    let err = kms
        .decrypt()
        .encryption_algorithm(sha256.clone())
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // No encryption context with asymmetric keys.
    let err = kms
        .encrypt()
        .key_id(&id)
        .encryption_algorithm(sha256.clone())
        .encryption_context("purpose", "test")
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // SYMMETRIC_DEFAULT (or none) with an RSA key, OAEP with a symmetric key,
    // data keys under an RSA key: wrong usage.
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
    let symmetric = new_key(&kms).await;
    let err = kms
        .encrypt()
        .key_id(&symmetric)
        .encryption_algorithm(sha256.clone())
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
    let err = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
    // A signing key does not encrypt.
    let signing = create(&kms, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let err = kms
        .encrypt()
        .key_id(&signing)
        .encryption_algorithm(sha256.clone())
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
}

#[tokio::test]
async fn hmac_keys_generate_and_verify_macs() {
    let server = Server::start();
    let kms = server.client();
    let specs = [
        (KeySpec::Hmac224, MacAlgorithmSpec::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512, 64),
    ];
    for (spec, alg, len) in &specs {
        let id = create(&kms, spec.clone(), KeyUsageType::GenerateVerifyMac).await;
        let meta = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(meta.mac_algorithms(), std::slice::from_ref(alg));
        assert!(meta.encryption_algorithms().is_empty());
        let out = kms
            .generate_mac()
            .key_id(&id)
            .mac_algorithm(alg.clone())
            .message(Blob::new(MESSAGE))
            .send()
            .await
            .unwrap();
        assert_eq!(out.mac_algorithm(), Some(alg));
        let mac = out.mac.unwrap().into_inner();
        assert_eq!(mac.len(), *len);
        // Deterministic: the same message gives the same MAC.
        let again = kms
            .generate_mac()
            .key_id(&id)
            .mac_algorithm(alg.clone())
            .message(Blob::new(MESSAGE))
            .send()
            .await
            .unwrap()
            .mac
            .unwrap()
            .into_inner();
        assert_eq!(mac, again);
        let ok = kms
            .verify_mac()
            .key_id(&id)
            .mac_algorithm(alg.clone())
            .message(Blob::new(MESSAGE))
            .mac(Blob::new(mac.clone()))
            .send()
            .await
            .unwrap();
        assert!(ok.mac_valid);
        let mut tampered = mac.clone();
        tampered[0] ^= 1;
        let err = kms
            .verify_mac()
            .key_id(&id)
            .mac_algorithm(alg.clone())
            .message(Blob::new(MESSAGE))
            .mac(Blob::new(tampered))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "KMSInvalidMacException");
        let err = kms
            .verify_mac()
            .key_id(&id)
            .mac_algorithm(alg.clone())
            .message(Blob::new("other"))
            .mac(Blob::new(mac.clone()))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "KMSInvalidMacException");
        // Another algorithm than the key's.
        let other = if *alg == MacAlgorithmSpec::HmacSha256 {
            MacAlgorithmSpec::HmacSha512
        } else {
            MacAlgorithmSpec::HmacSha256
        };
        let err = kms
            .generate_mac()
            .key_id(&id)
            .mac_algorithm(other)
            .message(Blob::new(MESSAGE))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidKeyUsageException");
        let err = kms
            .generate_mac()
            .key_id(&id)
            .mac_algorithm(alg.clone())
            .message(Blob::new(MESSAGE))
            .dry_run(true)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "DryRunOperationException");
        // An HMAC key neither encrypts nor has a public key.
        let err = kms
            .encrypt()
            .key_id(&id)
            .plaintext(Blob::new("x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidKeyUsageException");
        let err = kms.get_public_key().key_id(&id).send().await.unwrap_err();
        assert_eq!(code(&err), "UnsupportedOperationException");
    }
    // Two keys of one spec have different MACs.
    let a = create(&kms, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let b = create(&kms, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let mac = |id: String| {
        let kms = kms.clone();
        async move {
            kms.generate_mac()
                .key_id(id)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(MESSAGE))
                .send()
                .await
                .unwrap()
                .mac
                .unwrap()
                .into_inner()
        }
    };
    assert_ne!(mac(a).await, mac(b.clone()).await);
    // A symmetric key makes no MACs.
    let symmetric = new_key(&kms).await;
    let err = kms
        .generate_mac()
        .key_id(&symmetric)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(MESSAGE))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
}

/// The DER SubjectPublicKeyInfo of a PKCS#8 private key, computed locally.
fn local_public_key(spec: &DataKeyPairSpec, pkcs8: &[u8]) -> Vec<u8> {
    let ecdsa = |alg| {
        sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8)
            .unwrap()
            .public_key()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec()
    };
    match spec {
        DataKeyPairSpec::Rsa2048 | DataKeyPairSpec::Rsa3072 | DataKeyPairSpec::Rsa4096 => {
            rsa::KeyPair::from_pkcs8(pkcs8)
                .unwrap()
                .public_key()
                .as_der()
                .unwrap()
                .as_ref()
                .to_vec()
        }
        DataKeyPairSpec::EccNistP256 => ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING),
        DataKeyPairSpec::EccNistP384 => ecdsa(&sig::ECDSA_P384_SHA384_ASN1_SIGNING),
        DataKeyPairSpec::EccNistP521 => ecdsa(&sig::ECDSA_P521_SHA512_ASN1_SIGNING),
        DataKeyPairSpec::EccSecgP256K1 => ecdsa(&sig::ECDSA_P256K1_SHA256_ASN1_SIGNING),
        DataKeyPairSpec::EccNistEdwards25519 => sig::Ed25519KeyPair::from_pkcs8(pkcs8)
            .unwrap()
            .public_key()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn data_key_pairs_of_every_spec_are_usable_locally() {
    // Two RSA_4096 pairs in quick succession: AWS's quota for them is one a
    // second (tested in test_quotas.py), more than the SDK's retries may
    // wait out on a busy machine.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(
        dir.path(),
        &["--request-quota", "GenerateDataKeyPair:RSA_4096=100"],
    );
    let kms = server.client();
    let wrapping = new_key(&kms).await;
    let specs = [
        DataKeyPairSpec::Rsa2048,
        DataKeyPairSpec::Rsa3072,
        DataKeyPairSpec::Rsa4096,
        DataKeyPairSpec::EccNistP256,
        DataKeyPairSpec::EccNistP384,
        DataKeyPairSpec::EccNistP521,
        DataKeyPairSpec::EccSecgP256K1,
        DataKeyPairSpec::EccNistEdwards25519,
    ];
    for spec in &specs {
        let out = kms
            .generate_data_key_pair()
            .key_id(&wrapping)
            .key_pair_spec(spec.clone())
            .encryption_context("purpose", "pair")
            .send()
            .await
            .unwrap();
        assert_eq!(out.key_pair_spec(), Some(spec));
        assert!(out.key_id().unwrap().ends_with(&wrapping));
        let private = out.private_key_plaintext.unwrap().into_inner();
        let public = out.public_key.unwrap().into_inner();
        assert_eq!(local_public_key(spec, &private), public, "{spec:?}");
        // The encrypted copy is an ordinary ciphertext blob of the key.
        let opened = kms
            .decrypt()
            .ciphertext_blob(out.private_key_ciphertext_blob.unwrap())
            .encryption_context("purpose", "pair")
            .send()
            .await
            .unwrap();
        assert_eq!(opened.plaintext().unwrap().as_ref(), private.as_slice());

        let out = kms
            .generate_data_key_pair_without_plaintext()
            .key_id(&wrapping)
            .key_pair_spec(spec.clone())
            .send()
            .await
            .unwrap();
        let public = out.public_key.unwrap().into_inner();
        let private = kms
            .decrypt()
            .ciphertext_blob(out.private_key_ciphertext_blob.unwrap())
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .into_inner();
        assert_eq!(local_public_key(spec, &private), public, "{spec:?}");
    }
    // Signing works with the pair: sign locally, check with the public key.
    let out = kms
        .generate_data_key_pair()
        .key_id(&wrapping)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap();
    let pair = sig::EcdsaKeyPair::from_pkcs8(
        &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        out.private_key_plaintext().unwrap().as_ref(),
    )
    .unwrap();
    let signature = pair
        .sign(&aws_lc_rs::rand::SystemRandom::new(), MESSAGE)
        .unwrap();
    sig::ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, out.public_key().unwrap())
        .unwrap()
        .verify_sig(MESSAGE, signature.as_ref())
        .unwrap();

    let err = kms
        .generate_data_key_pair()
        .key_id(&wrapping)
        .key_pair_spec(DataKeyPairSpec::MlKem768)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    let rsa_key = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let err = kms
        .generate_data_key_pair()
        .key_id(&rsa_key)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
    let err = kms
        .generate_data_key_pair()
        .key_id(&wrapping)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
}

#[tokio::test]
async fn derive_shared_secret_matches_a_locally_computed_secret() {
    let server = Server::start();
    let kms = server.client();
    for (spec, alg) in [
        (KeySpec::EccNistP256, &agreement::ECDH_P256),
        (KeySpec::EccNistP384, &agreement::ECDH_P384),
        (KeySpec::EccNistP521, &agreement::ECDH_P521),
    ] {
        let id = create(&kms, spec.clone(), KeyUsageType::KeyAgreement).await;
        let meta = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(
            meta.key_agreement_algorithms(),
            &[KeyAgreementAlgorithmSpec::Ecdh]
        );
        assert!(meta.signing_algorithms().is_empty());
        let public = kms.get_public_key().key_id(&id).send().await.unwrap();
        assert_eq!(
            public.key_agreement_algorithms(),
            &[KeyAgreementAlgorithmSpec::Ecdh]
        );
        let kms_public = public.public_key.unwrap().into_inner();

        let peer = agreement::PrivateKey::generate(alg).unwrap();
        let peer_public = peer.compute_public_key().unwrap();
        let peer_spki = peer_public.as_der().unwrap();
        let out = kms
            .derive_shared_secret()
            .key_id(&id)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer_spki.as_ref()))
            .send()
            .await
            .unwrap();
        let expected = agreement::agree(
            &peer,
            agreement::UnparsedPublicKey::new(alg, &kms_public),
            (),
            |s| Ok(s.to_vec()),
        )
        .unwrap();
        assert_eq!(out.shared_secret().unwrap().as_ref(), expected.as_slice());
        assert_eq!(
            out.key_agreement_algorithm(),
            Some(&KeyAgreementAlgorithmSpec::Ecdh)
        );

        // A raw point, garbage, a key on another curve: not an SPKI we take.
        let p384_peer = agreement::PrivateKey::generate(&agreement::ECDH_P384)
            .unwrap()
            .compute_public_key()
            .unwrap()
            .as_der()
            .unwrap();
        let p256_peer = agreement::PrivateKey::generate(&agreement::ECDH_P256)
            .unwrap()
            .compute_public_key()
            .unwrap()
            .as_der()
            .unwrap();
        let wrong_curve = if spec == KeySpec::EccNistP384 {
            p256_peer.as_ref().to_vec()
        } else {
            p384_peer.as_ref().to_vec()
        };
        for bad in [
            peer_public.as_ref().to_vec(),
            b"not a key".to_vec(),
            wrong_curve,
        ] {
            let err = kms
                .derive_shared_secret()
                .key_id(&id)
                .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
                .public_key(Blob::new(bad))
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&err), "ValidationException", "{spec:?}");
        }
        // A key-agreement key does not sign.
        let err = kms
            .sign()
            .key_id(&id)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .message(Blob::new(MESSAGE))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidKeyUsageException");
    }
    // A signing key does not agree keys.
    let signing = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let peer = agreement::PrivateKey::generate(&agreement::ECDH_P256)
        .unwrap()
        .compute_public_key()
        .unwrap()
        .as_der()
        .unwrap();
    let err = kms
        .derive_shared_secret()
        .key_id(&signing)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(peer.as_ref()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
}

#[tokio::test]
async fn asymmetric_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let signing = create(&kms, KeySpec::EccNistP521, KeyUsageType::SignVerify).await;
    let decrypting = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let mac_key = create(&kms, KeySpec::Hmac384, KeyUsageType::GenerateVerifyMac).await;
    let alg = SigningAlgorithmSpec::EcdsaSha512;
    let signature = sign(&kms, &signing, &alg, MessageType::Raw, MESSAGE).await;
    let oaep = EncryptionAlgorithmSpec::RsaesOaepSha1;
    let ciphertext = kms
        .encrypt()
        .key_id(&decrypting)
        .encryption_algorithm(oaep.clone())
        .plaintext(Blob::new("kept"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let mac = kms
        .generate_mac()
        .key_id(&mac_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha384)
        .message(Blob::new(MESSAGE))
        .send()
        .await
        .unwrap()
        .mac
        .unwrap();
    server.stop();

    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    verify_code(&kms, &signing, &alg, MessageType::Raw, MESSAGE, &signature)
        .await
        .unwrap();
    let plain = kms
        .decrypt()
        .key_id(&decrypting)
        .encryption_algorithm(oaep)
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), b"kept");
    kms.verify_mac()
        .key_id(&mac_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha384)
        .message(Blob::new(MESSAGE))
        .mac(mac)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn grants_and_conditions_govern_asymmetric_operations() {
    let server = Server::start();
    let kms = server.client();
    let id = create(&kms, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    // Only PSS-SHA-256 signatures, and no Verify, by the key policy.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},
              "Action":["kms:PutKeyPolicy","kms:CreateGrant","kms:DescribeKey"],"Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"kms:Sign","Resource":"*",
              "Condition":{{"StringEquals":{{"kms:SigningAlgorithm":"RSASSA_PSS_SHA_256","kms:MessageType":"RAW"}}}}}}]}}"#
    );
    kms.put_key_policy()
        .key_id(&id)
        .policy(&policy)
        .send()
        .await
        .unwrap();
    let pss = SigningAlgorithmSpec::RsassaPssSha256;
    let signature = sign(&kms, &id, &pss, MessageType::Raw, MESSAGE).await;
    for (alg, kind, message) in [
        (
            SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            MessageType::Raw,
            MESSAGE.to_vec(),
        ),
        (
            pss.clone(),
            MessageType::Digest,
            digest::digest(&digest::SHA256, MESSAGE).as_ref().to_vec(),
        ),
    ] {
        let err = kms
            .sign()
            .key_id(&id)
            .signing_algorithm(alg)
            .message_type(kind)
            .message(Blob::new(message))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException");
    }
    assert_eq!(
        verify_code(&kms, &id, &pss, MessageType::Raw, MESSAGE, &signature).await,
        Err("AccessDeniedException".into())
    );
    let err = kms.get_public_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // Grants give what the policy does not.
    kms.create_grant()
        .key_id(&id)
        .grantee_principal(ROOT)
        .operations(GrantOperation::Verify)
        .operations(GrantOperation::GetPublicKey)
        .send()
        .await
        .unwrap();
    verify_code(&kms, &id, &pss, MessageType::Raw, MESSAGE, &signature)
        .await
        .unwrap();
    kms.get_public_key().key_id(&id).send().await.unwrap();

    // Grants allow only what fits the key: no Encrypt on a signing key, no
    // Sign on a symmetric key, no encryption-context constraints on
    // asymmetric keys.
    let symmetric = new_key(&kms).await;
    let hmac = create(&kms, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    for (key, op) in [
        (&id, GrantOperation::Encrypt),
        (&symmetric, GrantOperation::Sign),
        (&hmac, GrantOperation::GetPublicKey),
    ] {
        let err = kms
            .create_grant()
            .key_id(key)
            .grantee_principal(ROOT)
            .operations(op.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "ValidationException", "{op:?}");
    }
    let err = kms
        .create_grant()
        .key_id(&id)
        .grantee_principal(ROOT)
        .operations(GrantOperation::Sign)
        .constraints(
            aws_sdk_kms::types::GrantConstraints::builder()
                .encryption_context_equals("purpose", "test")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    kms.create_grant()
        .key_id(&hmac)
        .grantee_principal(ROOT)
        .operations(GrantOperation::GenerateMac)
        .operations(GrantOperation::DescribeKey)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn re_encrypt_between_symmetric_and_rsa_keys() {
    let server = Server::start();
    let kms = server.client();
    let symmetric = new_key(&kms).await;
    let rsa_a = create(&kms, KeySpec::Rsa3072, KeyUsageType::EncryptDecrypt).await;
    let rsa_b = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let sha1 = EncryptionAlgorithmSpec::RsaesOaepSha1;
    let sha256 = EncryptionAlgorithmSpec::RsaesOaepSha256;
    let blob = kms
        .encrypt()
        .key_id(&symmetric)
        .plaintext(Blob::new("moving"))
        .encryption_context("purpose", "move")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();

    // Symmetric → RSA (no destination context allowed).
    let err = kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("purpose", "move")
        .destination_key_id(&rsa_a)
        .destination_encryption_algorithm(sha256.clone())
        .destination_encryption_context("k", "v")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let out = kms
        .re_encrypt()
        .ciphertext_blob(blob)
        .source_encryption_context("purpose", "move")
        .destination_key_id(&rsa_a)
        .destination_encryption_algorithm(sha256.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.source_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(out.destination_encryption_algorithm(), Some(&sha256));
    let at_a = out.ciphertext_blob.unwrap();

    // RSA → RSA needs the source key and algorithm.
    let err = kms
        .re_encrypt()
        .ciphertext_blob(at_a.clone())
        .source_encryption_algorithm(sha256.clone())
        .destination_key_id(&rsa_b)
        .destination_encryption_algorithm(sha1.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let at_b = kms
        .re_encrypt()
        .ciphertext_blob(at_a)
        .source_key_id(&rsa_a)
        .source_encryption_algorithm(sha256.clone())
        .destination_key_id(&rsa_b)
        .destination_encryption_algorithm(sha1.clone())
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();

    // RSA → symmetric, then back to the plaintext.
    let back = kms
        .re_encrypt()
        .ciphertext_blob(at_b)
        .source_key_id(&rsa_b)
        .source_encryption_algorithm(sha1)
        .destination_key_id(&symmetric)
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let plain = kms.decrypt().ciphertext_blob(back).send().await.unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), b"moving");
}

/// SM2 (only with the sm2 feature): Trent's SM2DSA signatures and the
/// ciphertexts of `openssl pkeyutl -encrypt` checked with the openssl CLI,
/// when it is installed.
#[cfg(feature = "sm2")]
#[tokio::test]
async fn sm2_interoperates_with_openssl() {
    let server = Server::start();
    let kms = server.client();
    let signing = create(&kms, KeySpec::Sm2, KeyUsageType::SignVerify).await;
    let alg = SigningAlgorithmSpec::Sm2Dsa;
    let signature = sign(&kms, &signing, &alg, MessageType::Raw, MESSAGE).await;
    verify_code(&kms, &signing, &alg, MessageType::Raw, MESSAGE, &signature)
        .await
        .unwrap();
    let digest_signature = sign(&kms, &signing, &alg, MessageType::Digest, &[9u8; 32]).await;
    verify_code(
        &kms,
        &signing,
        &alg,
        MessageType::Digest,
        &[9u8; 32],
        &digest_signature,
    )
    .await
    .unwrap();
    assert_eq!(
        verify_code(&kms, &signing, &alg, MessageType::Raw, b"other", &signature).await,
        Err("KMSInvalidSignatureException".into())
    );
    let encrypting = create(&kms, KeySpec::Sm2, KeyUsageType::EncryptDecrypt).await;
    let sm2pke = EncryptionAlgorithmSpec::Sm2Pke;
    let ciphertext = kms
        .encrypt()
        .key_id(&encrypting)
        .encryption_algorithm(sm2pke.clone())
        .plaintext(Blob::new("sm2 secret"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let decrypt = |ciphertext: Blob| {
        kms.decrypt()
            .key_id(&encrypting)
            .encryption_algorithm(sm2pke.clone())
            .ciphertext_blob(ciphertext)
            .send()
    };
    let plain = decrypt(ciphertext).await.unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), b"sm2 secret");
    let wrapping = new_key(&kms).await;
    let pair = kms
        .generate_data_key_pair()
        .key_id(&wrapping)
        .key_pair_spec(DataKeyPairSpec::Sm2)
        .send()
        .await
        .unwrap();
    assert!(!pair.public_key().unwrap().as_ref().is_empty());

    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not installed: SM2 interoperability not checked");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let public_key = |id: &str| {
        let kms = kms.clone();
        let id = id.to_owned();
        async move {
            kms.get_public_key()
                .key_id(id)
                .send()
                .await
                .unwrap()
                .public_key
                .unwrap()
                .into_inner()
        }
    };
    std::fs::write(path("pub.der"), public_key(&signing).await).unwrap();
    std::fs::write(path("msg"), MESSAGE).unwrap();
    std::fs::write(path("sig"), &signature).unwrap();
    let verify = std::process::Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(path("pub.der"))
        .args([
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
        ])
        .arg("-in")
        .arg(path("msg"))
        .arg("-sigfile")
        .arg(path("sig"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    std::fs::write(path("epub.der"), public_key(&encrypting).await).unwrap();
    let encrypt = std::process::Command::new("openssl")
        .args(["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(path("epub.der"))
        .arg("-in")
        .arg(path("msg"))
        .arg("-out")
        .arg(path("ct"))
        .output()
        .unwrap();
    assert!(encrypt.status.success());
    let plain = decrypt(Blob::new(std::fs::read(path("ct")).unwrap()))
        .await
        .unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), MESSAGE);
}

/// Issue 17: refusals in AWS's own words (as AWS's answers have them):
/// a signing key used to encrypt, a digest of the wrong length, an RSA
/// plaintext past OAEP's limit.
#[tokio::test]
async fn refusals_in_aws_words() {
    let server = Server::start();
    let kms = server.client();
    let signing = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{signing}");
    let err = kms
        .encrypt()
        .key_id(&signing)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");
    assert_eq!(
        message(&err),
        format!("{arn} key usage is SIGN_VERIFY which is not valid for Encrypt.")
    );
    let err = kms
        .sign()
        .key_id(&signing)
        .message(Blob::new(vec![0u8; 31]))
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(
        message(&err),
        "Digest is invalid length for algorithm ECDSA_SHA_256."
    );
    let rsa = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let err = kms
        .encrypt()
        .key_id(&rsa)
        .plaintext(Blob::new(vec![7u8; 215]))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(
        message(&err),
        "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than 214 bytes."
    );

    // What AWS answers without a message: an invalid signature, an invalid
    // MAC, a peer public key that is not one (no `"message": ""` either).
    let err = kms
        .verify()
        .key_id(&signing)
        .message(Blob::new("x"))
        .signature(Blob::new(vec![
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01,
        ]))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidSignatureException");
    assert_eq!(message(&err), "");
    let hmac = create(&kms, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let err = kms
        .verify_mac()
        .key_id(&hmac)
        .message(Blob::new("x"))
        .mac(Blob::new(vec![0u8; 32]))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidMacException");
    assert_eq!(message(&err), "");
    let agreement = create(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let err = kms
        .derive_shared_secret()
        .key_id(&agreement)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(vec![0x30, 0x00]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(message(&err), "");
}
