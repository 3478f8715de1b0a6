//! Operations on asymmetric and HMAC keys: Sign, Verify, GetPublicKey,
//! GenerateMac, VerifyMac, GenerateDataKeyPair*, DeriveSharedSecret.

use super::crypto::{context, no_recipient};
use super::dry_run;
use super::keys::non_empty;
use crate::error::ApiError;
use trent_core::{Caller, Kms, key_algorithms};
use trent_wire::*;

pub(super) async fn sign(
    kms: &Kms,
    caller: &Caller,
    req: SignRequest,
) -> Result<SignResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let message_type = req.message_type.unwrap_or(MessageType::Raw);
    let (signature, key_arn) = kms
        .sign(
            caller,
            &req.key_id,
            req.message.as_bytes(),
            &message_type,
            &req.signing_algorithm,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(SignResponse {
        key_id: Some(key_arn),
        signature: Some(Blob(signature)),
        signing_algorithm: Some(req.signing_algorithm),
    })
}

pub(super) async fn verify(
    kms: &Kms,
    caller: &Caller,
    req: VerifyRequest,
) -> Result<VerifyResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let message_type = req.message_type.unwrap_or(MessageType::Raw);
    let key_arn = kms
        .verify(
            caller,
            &req.key_id,
            req.message.as_bytes(),
            &message_type,
            &req.signature.0,
            &req.signing_algorithm,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(VerifyResponse {
        key_id: Some(key_arn),
        signature_valid: Some(true),
        signing_algorithm: Some(req.signing_algorithm),
    })
}

pub(super) async fn get_public_key(
    kms: &Kms,
    caller: &Caller,
    req: GetPublicKeyRequest,
) -> Result<GetPublicKeyResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let (key, public_key) = kms.get_public_key(caller, &req.key_id).await?;
    let algorithms = key_algorithms(&key);
    Ok(GetPublicKeyResponse {
        key_id: Some(key.arn.clone()),
        public_key: Some(Blob(public_key)),
        customer_master_key_spec: Some(CustomerMasterKeySpec::from(key.key_spec.as_str())),
        key_spec: Some(key.key_spec.clone()),
        key_usage: Some(key.key_usage.clone()),
        encryption_algorithms: non_empty(algorithms.encryption),
        signing_algorithms: non_empty(algorithms.signing),
        key_agreement_algorithms: non_empty(algorithms.key_agreement),
        encapsulation_algorithms: non_empty(algorithms.encapsulation),
    })
}

pub(super) async fn generate_mac(
    kms: &Kms,
    caller: &Caller,
    req: GenerateMacRequest,
) -> Result<GenerateMacResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let (mac, key_arn) = kms
        .generate_mac(
            caller,
            &req.key_id,
            req.message.as_bytes(),
            &req.mac_algorithm,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(GenerateMacResponse {
        mac: Some(Blob(mac)),
        mac_algorithm: Some(req.mac_algorithm),
        key_id: Some(key_arn),
    })
}

pub(super) async fn verify_mac(
    kms: &Kms,
    caller: &Caller,
    req: VerifyMacRequest,
) -> Result<VerifyMacResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let key_arn = kms
        .verify_mac(
            caller,
            &req.key_id,
            req.message.as_bytes(),
            &req.mac.0,
            &req.mac_algorithm,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(VerifyMacResponse {
        key_id: Some(key_arn),
        mac_valid: Some(true),
        mac_algorithm: Some(req.mac_algorithm),
    })
}

pub(super) async fn generate_data_key_pair(
    kms: &Kms,
    caller: &Caller,
    req: GenerateDataKeyPairRequest,
) -> Result<GenerateDataKeyPairResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    no_recipient(&req.recipient)?;
    let mut pair = kms
        .generate_data_key_pair(
            caller,
            &req.key_id,
            &req.key_pair_spec,
            context(&req.encryption_context),
            true,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(GenerateDataKeyPairResponse {
        private_key_ciphertext_blob: Some(Blob(pair.private_ciphertext)),
        private_key_plaintext: Some(SecretBlob::new(std::mem::take(
            &mut *pair.private_plaintext,
        ))),
        public_key: Some(Blob(pair.public_key)),
        key_id: Some(pair.key_arn),
        key_pair_spec: Some(req.key_pair_spec),
        key_material_id: Some(pair.key_material_id),
        ..Default::default()
    })
}

pub(super) async fn generate_data_key_pair_without_plaintext(
    kms: &Kms,
    caller: &Caller,
    req: GenerateDataKeyPairWithoutPlaintextRequest,
) -> Result<GenerateDataKeyPairWithoutPlaintextResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let pair = kms
        .generate_data_key_pair(
            caller,
            &req.key_id,
            &req.key_pair_spec,
            context(&req.encryption_context),
            false,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(GenerateDataKeyPairWithoutPlaintextResponse {
        private_key_ciphertext_blob: Some(Blob(pair.private_ciphertext)),
        public_key: Some(Blob(pair.public_key)),
        key_id: Some(pair.key_arn),
        key_pair_spec: Some(req.key_pair_spec),
        key_material_id: Some(pair.key_material_id),
    })
}

pub(super) async fn derive_shared_secret(
    kms: &Kms,
    caller: &Caller,
    req: DeriveSharedSecretRequest,
) -> Result<DeriveSharedSecretResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    no_recipient(&req.recipient)?;
    let (mut secret, key_arn) = kms
        .derive_shared_secret(
            caller,
            &req.key_id,
            &req.key_agreement_algorithm,
            &req.public_key.0,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(DeriveSharedSecretResponse {
        key_id: Some(key_arn),
        shared_secret: Some(SecretBlob::new(std::mem::take(&mut *secret))),
        key_agreement_algorithm: Some(req.key_agreement_algorithm),
        key_origin: Some(OriginType::AwsKms),
        ..Default::default()
    })
}
