//! Imported key material (Origin EXTERNAL): GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial, and the expiry of
//! material with a ValidTo (the lifecycle scheduler's due work).
//!
//! The import token is stateless (`import_token.rs`). Imported material is
//! sealed and stored as generated material is (version 1); a keyed digest
//! of it (HMAC-SHA-256 under a key sealed under the root key, in `meta`)
//! stays with the key after the material is deleted or expires, so that
//! only the same material is imported again.

use super::import_rules::{check_import_type, imported_material, require_external, wrapping};
use super::import_token::{self, TokenFacts};
use super::*;
use trent_crypto::import::{generate_wrapping_key, unwrap};
use trent_wire::{AlgorithmSpec, ExpirationModelType, ImportType, WrappingKeySpec};

/// How long GetParametersForImport's public key and token are valid.
const PARAMETERS_VALID_MS: i64 = DAY_MS;
/// The latest ValidTo AWS accepts, from the request.
const MAX_VALID_TO_MS: i64 = 365 * DAY_MS;

/// GetParametersForImport's answer.
pub struct ImportParameters {
    pub key_arn: String,
    pub import_token: Vec<u8>,
    /// DER SubjectPublicKeyInfo of the RSA wrapping key.
    pub public_key: Vec<u8>,
    pub valid_to_ms: i64,
}

/// ImportKeyMaterial's parameters, validated against the model.
pub struct ImportMaterial {
    pub import_token: Vec<u8>,
    pub encrypted_key_material: Vec<u8>,
    pub expiration_model: Option<ExpirationModelType>,
    pub valid_to_ms: Option<i64>,
    /// Symmetric keys only (the 2025 additions).
    pub import_type: Option<ImportType>,
    pub key_material_id: Option<String>,
    /// KeyMaterialDescription: kept, replacing the one before.
    pub description: Option<String>,
}

impl Kms {
    /// The keyed digest that tells imported material apart, bound to the key.
    async fn material_digest(&self, id: &Uuid, bytes: &[u8]) -> Result<Vec<u8>, KmsError> {
        use crate::rotation::{IMPORT_DIGEST_KEY_AAD, IMPORT_DIGEST_KEY_META};
        let fresh = SymmetricKey::generate_bytes()?;
        let candidate = self.root.seal(IMPORT_DIGEST_KEY_AAD, fresh.as_ref())?;
        let stored = self
            .store
            .meta_secret(IMPORT_DIGEST_KEY_META, &candidate)
            .await?;
        let key = self.root.unseal(IMPORT_DIGEST_KEY_AAD, &stored)?;
        let mac = trent_crypto::MacKey::from_bytes(&key);
        Ok(mac
            .tag(&[b"import-material:", id.as_bytes(), bytes])
            .to_vec())
    }

    pub async fn get_parameters_for_import(
        &self,
        caller: &Caller,
        key_id: &str,
        algorithm: &AlgorithmSpec,
        spec: &WrappingKeySpec,
    ) -> Result<ImportParameters, KmsError> {
        let (key, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        let facts = RequestFacts {
            wrapping_algorithm: Some(algorithm.as_str()),
            wrapping_key_spec: Some(spec.as_str()),
            ..Default::default()
        };
        self.authorize(caller, Action::GetParametersForImport, &key, &facts, None)?;
        let record = &key.record;
        require_external(record)?;
        refuse_pending_deletion(record)?;
        let (algorithm, spec) = wrapping(algorithm, spec)?;
        let (pkcs8, public_key) = tokio::task::spawn_blocking(move || generate_wrapping_key(spec))
            .await
            .map_err(KmsError::internal)??;
        let valid_to_ms = self.now() + PARAMETERS_VALID_MS;
        let token = TokenFacts {
            key_id: record.id,
            algorithm,
            spec,
            expires_ms: valid_to_ms,
        };
        Ok(ImportParameters {
            key_arn: record.arn.clone(),
            import_token: import_token::seal(self.root.as_ref(), &token, &pkcs8)?,
            public_key,
            valid_to_ms,
        })
    }

    /// ImportKeyMaterial: the key (its lock held) gets the material as
    /// version 1 and is enabled; material imported before must be the same.
    pub async fn import_key_material(
        &self,
        caller: &Caller,
        key_id: &str,
        params: ImportMaterial,
    ) -> Result<KeyRecord, KmsError> {
        let model = params
            .expiration_model
            .clone()
            .unwrap_or(ExpirationModelType::KeyMaterialExpires);
        let now = self.now();
        match (&model, params.valid_to_ms) {
            (ExpirationModelType::KeyMaterialExpires, None) => {
                return Err(KmsError::Validation(
                    "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
                        .into(),
                ));
            }
            (ExpirationModelType::KeyMaterialExpires, Some(t)) if t <= now => {
                return Err(KmsError::Validation(
                    "The validTo date must be in the future".into(),
                ));
            }
            (ExpirationModelType::KeyMaterialExpires, Some(t)) if t > now + MAX_VALID_TO_MS => {
                return Err(KmsError::Validation(
                    "The validTo date must be at most 365 days from now".into(),
                ));
            }
            (ExpirationModelType::KeyMaterialDoesNotExpire, Some(_)) => {
                return Err(KmsError::Validation(
                    "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
                ));
            }
            _ => {}
        }
        if params.import_type == Some(ImportType::NewKeyMaterial)
            && params.key_material_id.is_some()
        {
            return Err(KmsError::Validation(
                "You cannot specify a KeyMaterialId when ImportType is NEW_KEY_MATERIAL".into(),
            ));
        }
        let valid_to_seconds = params.valid_to_ms.map(|t| (t / 1000).to_string());
        let facts = RequestFacts {
            expiration_model: Some(model.as_str()),
            valid_to: valid_to_seconds.as_deref(),
            ..Default::default()
        };
        let resolved = self.resolve(caller, key_id, AliasMode::Refuse)?;
        let id = resolved.id;
        let _guard = self.key_lock(&id).lock().await;
        let mut conflicts = 0;
        loop {
            let current = match self.key_locked(id).await {
                Err(KmsError::NotFound(_)) => return Err(resolved.not_found(caller)),
                other => other?,
            };
            visible(caller, &current.record, &resolved)?;
            self.authorize(caller, Action::ImportKeyMaterial, &current, &facts, None)?;
            let previous = &current.record;
            require_external(previous)?;
            refuse_pending_deletion(previous)?;
            let (token, pkcs8) =
                import_token::open(self.root.as_ref(), &params.import_token, &id, now)?;
            // RSA decryption (up to 4096 bits): off the async workers.
            let wrapped = params.encrypted_key_material.clone();
            let bytes =
                tokio::task::spawn_blocking(move || unwrap(&pkcs8, token.algorithm, &wrapped))
                    .await
                    .map_err(KmsError::internal)??;
            let symmetric_only = params.import_type.is_some()
                || params.key_material_id.is_some()
                || params.description.is_some();
            if symmetric_only && previous.key_spec != KeySpec::SymmetricDefault {
                return Err(KmsError::Validation(
                    "ImportType, KeyMaterialId and KeyMaterialDescription are only valid for symmetric encryption KMS keys".into(),
                ));
            }
            let materials = imported_material(previous, &bytes)?;
            let digest = self.material_digest(&id, &bytes).await?;
            check_import_type(previous, &params, &digest)?;
            let sealed = SealedMaterialRow {
                version: 1,
                sealed: self.root.seal(&material_aad(&id, 1), &bytes)?,
            };
            drop(bytes);
            let mut record = previous.clone();
            if record.state == KeyState::PendingImport {
                record.state = KeyState::Enabled;
            }
            record.current_material = 1;
            record.expiration_model = Some(model.clone());
            record.valid_to_ms = params
                .valid_to_ms
                .filter(|_| model == ExpirationModelType::KeyMaterialExpires);
            record.material_digest = Some(digest);
            if let Some(description) = &params.description {
                record.material_description = Some(description.clone());
            }
            match self
                .store
                .replace_material(&record, previous, Some(&sealed))
                .await
            {
                Ok(()) => {
                    let updated = CachedKey {
                        record: record.clone(),
                        materials: Arc::new(materials),
                        policy: current.policy.clone(),
                        grants: current.grants.clone(),
                        material_ids: Default::default(),
                    };
                    self.keys.pin().insert(id, Arc::new(updated));
                    return Ok(record);
                }
                Err(StoreError::Conflict(_)) if conflicts < MAX_UPDATE_CONFLICTS => {
                    conflicts += 1;
                    self.keys.pin().remove(&id);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub async fn delete_imported_key_material(
        &self,
        caller: &Caller,
        key_id: &str,
        key_material_id: Option<&str>,
    ) -> Result<KeyRecord, KmsError> {
        let resolved = self.resolve(caller, key_id, AliasMode::Refuse)?;
        let id = resolved.id;
        let _guard = self.key_lock(&id).lock().await;
        let current = match self.key_locked(id).await {
            Err(KmsError::NotFound(_)) => return Err(resolved.not_found(caller)),
            other => other?,
        };
        visible(caller, &current.record, &resolved)?;
        self.authorize(
            caller,
            Action::DeleteImportedKeyMaterial,
            &current,
            &RequestFacts::default(),
            None,
        )?;
        require_external(&current.record)?;
        if let Some(wanted) = key_material_id
            && current_key_material_id(&current.record).as_deref() != Some(wanted)
        {
            return Err(KmsError::NotFound(format!(
                "Key material {wanted} is not associated with {}",
                current.record.arn
            )));
        }
        if current.record.expiration_model.is_none() {
            return Err(KmsError::InvalidState(format!(
                "{} is pending import.",
                current.record.arn
            )));
        }
        let has_material = |key: &KeyRecord| key.expiration_model.is_some();
        match self
            .remove_material_locked(id, current, has_material)
            .await?
        {
            Some(record) => Ok(record),
            // Another node removed it first.
            None => Err(KmsError::InvalidState(format!(
                "{} is pending import.",
                self.key_locked(id).await?.record.arn
            ))),
        }
    }

    /// Destroys a key's imported material (its stripe lock held) if
    /// `wanted` holds for the key: it is pending import (a key pending
    /// deletion stays so). `None`: `wanted` no longer holds on the key as
    /// stored (another node changed it meanwhile), nothing done.
    async fn remove_material_locked(
        &self,
        id: Uuid,
        mut current: Arc<CachedKey>,
        wanted: impl Fn(&KeyRecord) -> bool,
    ) -> Result<Option<KeyRecord>, KmsError> {
        let mut conflicts = 0;
        loop {
            if !wanted(&current.record) {
                return Ok(None);
            }
            let mut record = current.record.clone();
            if record.state != KeyState::PendingDeletion {
                record.state = KeyState::PendingImport;
            }
            record.expiration_model = None;
            record.valid_to_ms = None;
            match self
                .store
                .replace_material(&record, &current.record, None)
                .await
            {
                Ok(()) => {
                    let updated = CachedKey {
                        record: record.clone(),
                        materials: Arc::new(Materials::Symmetric(Box::new([]))),
                        policy: current.policy.clone(),
                        grants: current.grants.clone(),
                        material_ids: Default::default(),
                    };
                    self.keys.pin().insert(id, Arc::new(updated));
                    return Ok(Some(record));
                }
                // Decided again on the key as another node left it.
                Err(StoreError::Conflict(_)) if conflicts < MAX_UPDATE_CONFLICTS => {
                    conflicts += 1;
                    self.keys.pin().remove(&id);
                    current = self.key_locked(id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The lifecycle scheduler's expiry of imported material whose ValidTo
    /// has passed: the key as it was, or `None` if it is not due (any more).
    pub(super) async fn expire_if_due(&self, id: Uuid) -> Result<Option<KeyRecord>, KmsError> {
        let _guard = self.key_lock(&id).lock().await;
        // The store's copy: another node may have changed the key.
        self.keys.pin().remove(&id);
        let current = match self.key_locked(id).await {
            Err(KmsError::NotFound(_)) => return Ok(None),
            other => other?,
        };
        let now = self.now();
        let due = |key: &KeyRecord| {
            key.expiration_model.is_some() && key.valid_to_ms.is_some_and(|t| t <= now)
        };
        let before = current.record.clone();
        // Not due (any more), or another node expired it first (and
        // records it).
        if self
            .remove_material_locked(id, current, due)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        tracing::info!(key = %before.arn, "imported key material expired");
        Ok(Some(before))
    }
}
