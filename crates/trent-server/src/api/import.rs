//! Imported key material: GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial.

use super::seconds;
use crate::error::ApiError;
use trent_core::{Caller, ImportMaterial, Kms};
use trent_wire::*;

pub(super) async fn get_parameters_for_import(
    kms: &Kms,
    caller: &Caller,
    req: GetParametersForImportRequest,
) -> Result<GetParametersForImportResponse, ApiError> {
    let parameters = kms
        .get_parameters_for_import(
            caller,
            &req.key_id,
            &req.wrapping_algorithm,
            &req.wrapping_key_spec,
        )
        .await?;
    Ok(GetParametersForImportResponse {
        key_id: Some(parameters.key_arn),
        import_token: Some(Blob::new(parameters.import_token)),
        public_key: Some(SecretBlob::new(parameters.public_key)),
        parameters_valid_to: Some(seconds(parameters.valid_to_ms)),
    })
}

pub(super) async fn import_key_material(
    kms: &Kms,
    caller: &Caller,
    req: ImportKeyMaterialRequest,
) -> Result<ImportKeyMaterialResponse, ApiError> {
    let params = ImportMaterial {
        import_token: req.import_token.into_inner(),
        encrypted_key_material: req.encrypted_key_material.into_inner(),
        expiration_model: req.expiration_model,
        // Epoch seconds (fractions allowed) to Unix milliseconds.
        valid_to_ms: req.valid_to.map(|s| (s * 1000.0) as i64),
        import_type: req.import_type,
        key_material_id: req.key_material_id,
        description: req.key_material_description,
    };
    let (key, material) = kms.import_key_material(caller, &req.key_id, params).await?;
    Ok(ImportKeyMaterialResponse {
        key_id: Some(key.arn),
        key_material_id: Some(material),
    })
}

pub(super) async fn delete_imported_key_material(
    kms: &Kms,
    caller: &Caller,
    req: DeleteImportedKeyMaterialRequest,
) -> Result<DeleteImportedKeyMaterialResponse, ApiError> {
    let (key, material) = kms
        .delete_imported_key_material(caller, &req.key_id, req.key_material_id.as_deref())
        .await?;
    Ok(DeleteImportedKeyMaterialResponse {
        key_id: Some(key.arn),
        key_material_id: Some(material),
    })
}
