//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom.

use crate::common::*;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, EncryptionAlgorithmSpec};

#[tokio::test]
async fn encrypt_decrypt_round_trip_with_context() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    let out = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("Hello, AWS!"))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.key_id(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}").as_str())
    );
    assert_eq!(
        out.encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let blob = out.ciphertext_blob.unwrap();
    assert!(blob.as_ref().len() <= 6144);

    let plain = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), b"Hello, AWS!");
    assert!(plain.key_id().unwrap().ends_with(&id));
    // Naming the right key is fine too.
    kms.decrypt()
        .ciphertext_blob(blob.clone())
        .key_id(&id)
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();

    for (name, result) in [
        (
            "no context",
            kms.decrypt().ciphertext_blob(blob.clone()).send().await,
        ),
        (
            "other context",
            kms.decrypt()
                .ciphertext_blob(blob.clone())
                .encryption_context("purpose", "prod")
                .send()
                .await,
        ),
    ] {
        assert_eq!(
            code(&result.unwrap_err()),
            "InvalidCiphertextException",
            "{name}"
        );
    }
    let mut flipped = blob.as_ref().to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(flipped))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
    let truncated = blob.as_ref()[..blob.as_ref().len() - 5].to_vec();
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(truncated))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(vec![1u8; 10]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");

    let other = new_key(&kms).await;
    let err = kms
        .decrypt()
        .ciphertext_blob(blob)
        .key_id(&other)
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyException");
}

#[tokio::test]
async fn key_state_is_enforced_on_crypto() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    let blob = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    kms.disable_key().key_id(&id).send().await.unwrap();
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
    assert!(message(&err).ends_with("is disabled."), "{}", message(&err));
    assert_eq!(
        code(
            &kms.decrypt()
                .ciphertext_blob(blob.clone())
                .send()
                .await
                .unwrap_err()
        ),
        "DisabledException"
    );
    let err = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
    kms.enable_key().key_id(&id).send().await.unwrap();
    kms.schedule_key_deletion()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");
    assert_eq!(
        code(
            &kms.decrypt()
                .ciphertext_blob(blob)
                .send()
                .await
                .unwrap_err()
        ),
        "KMSInvalidStateException"
    );
    let err = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");
}

#[tokio::test]
async fn data_keys_and_reencrypt() {
    let server = Server::start();
    let kms = server.client();
    let a = new_key(&kms).await;
    let b = new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/b")
        .target_key_id(&b)
        .send()
        .await
        .unwrap();

    let dk = kms
        .generate_data_key()
        .key_id(&a)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(dk.plaintext().unwrap().as_ref().len(), 32);
    let back = kms
        .decrypt()
        .ciphertext_blob(dk.ciphertext_blob.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.plaintext().unwrap().as_ref(),
        dk.plaintext().unwrap().as_ref()
    );
    let dk128 = kms
        .generate_data_key()
        .key_id(&a)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await
        .unwrap();
    assert_eq!(dk128.plaintext().unwrap().as_ref().len(), 16);
    let dk7 = kms
        .generate_data_key()
        .key_id(&a)
        .number_of_bytes(7)
        .send()
        .await
        .unwrap();
    assert_eq!(dk7.plaintext().unwrap().as_ref().len(), 7);
    let err = kms.generate_data_key().key_id(&a).send().await.unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = kms
        .generate_data_key()
        .key_id(&a)
        .number_of_bytes(1025)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");

    let without = kms
        .generate_data_key_without_plaintext()
        .key_id(&a)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    let back = kms
        .decrypt()
        .ciphertext_blob(without.ciphertext_blob.unwrap())
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext().unwrap().as_ref().len(), 32);

    let blob = kms
        .encrypt()
        .key_id(&a)
        .plaintext(Blob::new("move me"))
        .encryption_context("x", "1")
        .send()
        .await
        .unwrap();
    let moved = kms
        .re_encrypt()
        .ciphertext_blob(blob.ciphertext_blob.unwrap())
        .source_encryption_context("x", "1")
        .destination_key_id("alias/b")
        .destination_encryption_context("y", "2")
        .send()
        .await
        .unwrap();
    assert!(moved.source_key_id().unwrap().ends_with(&a));
    assert!(moved.key_id().unwrap().ends_with(&b));
    let back = kms
        .decrypt()
        .ciphertext_blob(moved.ciphertext_blob.unwrap())
        .encryption_context("y", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext().unwrap().as_ref(), b"move me");
    assert!(back.key_id().unwrap().ends_with(&b));
}

#[tokio::test]
async fn generate_random_and_validation_messages() {
    let server = Server::start();
    let kms = server.client();
    let random = kms
        .generate_random()
        .number_of_bytes(64)
        .send()
        .await
        .unwrap();
    assert_eq!(random.plaintext().unwrap().as_ref().len(), 64);
    let err = kms
        .generate_random()
        .number_of_bytes(2000)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(
        message(&err),
        "1 validation error detected: Value '2000' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"
    );
    let id = new_key(&kms).await;
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(vec![0u8; 4097]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(
        message(&err),
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
    );
    kms.encrypt()
        .key_id(&id)
        .plaintext(Blob::new(vec![0u8; 4096]))
        .send()
        .await
        .unwrap();
}
