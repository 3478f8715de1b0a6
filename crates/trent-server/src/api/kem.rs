//! Operations on ML-KEM keys: Encapsulate, Decapsulate.

use super::dry_run;
use crate::error::ApiError;
use trent_core::{Caller, Kms};
use trent_wire::*;

pub(super) async fn encapsulate(
    kms: &Kms,
    caller: &Caller,
    req: EncapsulateRequest,
) -> Result<EncapsulateResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let mut shared = kms
        .encapsulate(caller, &req.key_id, &req.encapsulation_algorithm)
        .await?;
    dry_run(req.dry_run)?;
    Ok(EncapsulateResponse {
        key_id: Some(shared.key_arn),
        shared_secret: Some(SecretBlob::new(std::mem::take(&mut *shared.secret))),
        shared_secret_ciphertext_blob: Some(Blob(shared.ciphertext)),
        encapsulation_algorithm: Some(req.encapsulation_algorithm),
    })
}

pub(super) async fn decapsulate(
    kms: &Kms,
    caller: &Caller,
    req: DecapsulateRequest,
) -> Result<DecapsulateResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let mut shared = kms
        .decapsulate(
            caller,
            &req.key_id,
            &req.shared_secret_ciphertext_blob.0,
            &req.encapsulation_algorithm,
        )
        .await?;
    dry_run(req.dry_run)?;
    Ok(DecapsulateResponse {
        key_id: Some(shared.key_arn),
        shared_secret: Some(SecretBlob::new(std::mem::take(&mut *shared.secret))),
        encapsulation_algorithm: Some(req.encapsulation_algorithm),
    })
}
