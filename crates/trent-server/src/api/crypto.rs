//! The cryptographic operations: the hot path.

use super::dry_run;
use crate::error::ApiError;
use std::collections::BTreeMap;
use trent_core::{Caller, Kms};
use trent_wire::*;

static EMPTY_CONTEXT: BTreeMap<String, String> = BTreeMap::new();

pub(super) fn context(c: &Option<BTreeMap<String, String>>) -> &BTreeMap<String, String> {
    c.as_ref().unwrap_or(&EMPTY_CONTEXT)
}

/// The algorithm of an Encrypt or Decrypt with an asymmetric key: anything
/// but SYMMETRIC_DEFAULT (the key decides whether it fits).
fn asymmetric_algorithm(
    algorithm: &Option<EncryptionAlgorithmSpec>,
) -> Option<&EncryptionAlgorithmSpec> {
    algorithm
        .as_ref()
        .filter(|a| !matches!(a, EncryptionAlgorithmSpec::SymmetricDefault))
}

/// The data key length GenerateDataKey* asks for: exactly one of
/// `NumberOfBytes` and `KeySpec`.
fn data_key_len(
    number_of_bytes: Option<i32>,
    key_spec: &Option<DataKeySpec>,
) -> Result<usize, ApiError> {
    match (number_of_bytes, key_spec) {
        (Some(n), None) => Ok(n as usize),
        (None, Some(DataKeySpec::Aes256)) => Ok(32),
        (None, Some(DataKeySpec::Aes128)) => Ok(16),
        (None, Some(other)) => Err(ApiError::new(
            ErrorCode::ValidationException,
            format!("Unsupported KeySpec {other}"),
        )),
        (Some(_), Some(_)) => Err(ApiError::new(
            ErrorCode::ValidationException,
            "Specify either KeySpec or NumberOfBytes, not both.",
        )),
        (None, None) => Err(ApiError::new(
            ErrorCode::ValidationException,
            "Specify either KeySpec or NumberOfBytes.",
        )),
    }
}

/// `CiphertextBlob` is optional in the model (for asymmetric recipients) but
/// required by every symmetric call.
fn ciphertext(blob: &Option<Blob>) -> Result<&[u8], ApiError> {
    match blob {
        Some(blob) => Ok(&blob.0),
        None => Err(ApiError::new(
            ErrorCode::ValidationException,
            "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null",
        )),
    }
}

pub(super) fn no_recipient<T>(recipient: &Option<T>) -> Result<(), ApiError> {
    if recipient.is_some() {
        return Err(ApiError::new(
            ErrorCode::UnsupportedOperationException,
            "Recipient (Nitro Enclaves attestation) is not supported by this server",
        ));
    }
    Ok(())
}

pub(super) async fn encrypt(
    kms: &Kms,
    caller: &Caller,
    req: EncryptRequest,
) -> Result<EncryptResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    if let Some(algorithm) = asymmetric_algorithm(&req.encryption_algorithm) {
        // Boxed, as every path off the symmetric one: the hot path's
        // future stays small.
        let (ciphertext, key_arn) = Box::pin(kms.encrypt_asymmetric(
            caller,
            &req.key_id,
            req.plaintext.as_bytes(),
            algorithm,
            context(&req.encryption_context),
        ))
        .await?;
        dry_run(req.dry_run)?;
        return Ok(EncryptResponse {
            ciphertext_blob: Some(Blob(ciphertext)),
            key_id: Some(key_arn),
            encryption_algorithm: Some(algorithm.clone()),
        });
    }
    let (ciphertext, key_arn) = kms
        .encrypt(
            caller,
            &req.key_id,
            req.plaintext.as_bytes(),
            context(&req.encryption_context),
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(EncryptResponse {
        ciphertext_blob: Some(Blob(ciphertext)),
        key_id: Some(key_arn),
        encryption_algorithm: Some(EncryptionAlgorithmSpec::SymmetricDefault),
    })
}

pub(super) async fn decrypt(
    kms: &Kms,
    caller: &Caller,
    req: DecryptRequest,
) -> Result<DecryptResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    no_recipient(&req.recipient)?;
    let ignore_ciphertext = req.dry_run == Some(true)
        && req
            .dry_run_modifiers
            .as_deref()
            .unwrap_or_default()
            .contains(&DryRunModifierType::IgnoreCiphertext);
    if ignore_ciphertext {
        // A permissions check only: the key must be named, as no
        // ciphertext (its key id) is read.
        let Some(key_id) = req.key_id.as_deref() else {
            return Err(ApiError::new(
                ErrorCode::ValidationException,
                "KeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT",
            ));
        };
        Box::pin(kms.check_decrypt(
            caller,
            key_id,
            context(&req.encryption_context),
            asymmetric_algorithm(&req.encryption_algorithm),
        ))
        .await?;
        dry_run(req.dry_run)?;
    }
    if let Some(algorithm) = asymmetric_algorithm(&req.encryption_algorithm) {
        // An RSA ciphertext names no key: the caller must.
        let Some(key_id) = req.key_id.as_deref() else {
            return Err(ApiError::new(
                ErrorCode::ValidationException,
                format!("KeyId is required to decrypt with the asymmetric algorithm {algorithm}"),
            ));
        };
        let (mut plaintext, key_arn) = Box::pin(kms.decrypt_asymmetric(
            caller,
            key_id,
            ciphertext(&req.ciphertext_blob)?,
            algorithm,
            context(&req.encryption_context),
        ))
        .await?;
        dry_run(req.dry_run)?;
        return Ok(DecryptResponse {
            key_id: Some(key_arn),
            plaintext: Some(SecretBlob::new(std::mem::take(&mut *plaintext))),
            encryption_algorithm: Some(algorithm.clone()),
            ..Default::default()
        });
    }
    let mut opened = kms
        .decrypt(
            caller,
            ciphertext(&req.ciphertext_blob)?,
            context(&req.encryption_context),
            req.key_id.as_deref(),
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(DecryptResponse {
        key_id: Some(opened.key_arn),
        plaintext: Some(SecretBlob::new(std::mem::take(&mut *opened.plaintext))),
        encryption_algorithm: Some(EncryptionAlgorithmSpec::SymmetricDefault),
        key_material_id: opened.key_material_id,
        ..Default::default()
    })
}

pub(super) async fn re_encrypt(
    kms: &Kms,
    caller: &Caller,
    req: ReEncryptRequest,
) -> Result<ReEncryptResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let source_algorithm = asymmetric_algorithm(&req.source_encryption_algorithm);
    let destination_algorithm = asymmetric_algorithm(&req.destination_encryption_algorithm);
    let done = kms
        .re_encrypt(
            caller,
            ciphertext(&req.ciphertext_blob)?,
            context(&req.source_encryption_context),
            req.source_key_id.as_deref(),
            source_algorithm,
            &req.destination_key_id,
            context(&req.destination_encryption_context),
            destination_algorithm,
        )
        .await?;
    dry_run(req.dry_run)?;
    let or_default = |algorithm: Option<&EncryptionAlgorithmSpec>| {
        Some(
            algorithm
                .cloned()
                .unwrap_or(EncryptionAlgorithmSpec::SymmetricDefault),
        )
    };
    Ok(ReEncryptResponse {
        ciphertext_blob: Some(Blob(done.ciphertext)),
        source_key_id: Some(done.source_key_arn),
        key_id: Some(done.destination_key_arn),
        source_encryption_algorithm: or_default(source_algorithm),
        destination_encryption_algorithm: or_default(destination_algorithm),
        source_key_material_id: done.source_key_material_id,
        destination_key_material_id: done.destination_key_material_id,
    })
}

pub(super) async fn generate_data_key(
    kms: &Kms,
    caller: &Caller,
    req: GenerateDataKeyRequest,
) -> Result<GenerateDataKeyResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    no_recipient(&req.recipient)?;
    let len = data_key_len(req.number_of_bytes, &req.key_spec)?;
    let mut data_key = kms
        .generate_data_key(
            caller,
            &req.key_id,
            len,
            context(&req.encryption_context),
            true,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(GenerateDataKeyResponse {
        ciphertext_blob: Some(Blob(data_key.ciphertext)),
        plaintext: Some(SecretBlob::new(std::mem::take(&mut *data_key.plaintext))),
        key_id: Some(data_key.key_arn),
        key_material_id: Some(data_key.key_material_id),
        ..Default::default()
    })
}

pub(super) async fn generate_data_key_without_plaintext(
    kms: &Kms,
    caller: &Caller,
    req: GenerateDataKeyWithoutPlaintextRequest,
) -> Result<GenerateDataKeyWithoutPlaintextResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let len = data_key_len(req.number_of_bytes, &req.key_spec)?;
    let data_key = kms
        .generate_data_key(
            caller,
            &req.key_id,
            len,
            context(&req.encryption_context),
            false,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(GenerateDataKeyWithoutPlaintextResponse {
        ciphertext_blob: Some(Blob(data_key.ciphertext)),
        key_id: Some(data_key.key_arn),
        key_material_id: Some(data_key.key_material_id),
    })
}

pub(super) async fn generate_random(
    kms: &Kms,
    caller: &Caller,
    req: GenerateRandomRequest,
) -> Result<GenerateRandomResponse, ApiError> {
    no_recipient(&req.recipient)?;
    if req.custom_key_store_id.is_some() {
        return Err(ApiError::new(
            ErrorCode::CustomKeyStoreNotFoundException,
            "Custom key stores are not supported by this server",
        ));
    }
    let Some(n) = req.number_of_bytes else {
        return Err(ApiError::new(
            ErrorCode::ValidationException,
            "NumberOfBytes is required",
        ));
    };
    let mut bytes = kms.generate_random(caller, n as usize)?;
    Ok(GenerateRandomResponse {
        plaintext: Some(SecretBlob::new(std::mem::take(&mut *bytes))),
        ..Default::default()
    })
}
