//! Imported key material (Origin EXTERNAL): GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial, and the expiry of
//! material with a ValidTo (the lifecycle scheduler's due work).
//!
//! The import token is stateless (`import_token.rs`). Imported material is
//! sealed and stored as generated material is (version 1); a keyed digest
//! of it (HMAC-SHA-256 under a key sealed under the root key, in `meta`)
//! stays with the key after the material is deleted or expires, so that
//! only the same material is imported again.

use super::import_token::{self, TokenFacts};
use super::*;
use trent_crypto::import::{WrappingAlgorithm, fits_spec, generate_wrapping_key, unwrap};
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
    /// Whether a KeyMaterialDescription was given (not kept yet).
    pub has_description: bool,
}

/// The id of a key's current material: for imported material its keyed
/// digest in hex (AWS: "based on the KMS key ID and the imported key
/// material"; `None` before the first import), else per version.
pub fn current_key_material_id(key: &KeyRecord) -> Option<String> {
    if key.origin == OriginType::External {
        return key.material_digest.as_deref().map(hex);
    }
    Some(crate::ids::key_material_id(&key.id, key.current_material))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// ImportType and KeyMaterialId as AWS decides them, once the material's
/// digest is known.
fn check_import_type(
    record: &KeyRecord,
    params: &ImportMaterial,
    digest: &[u8],
) -> Result<(), KmsError> {
    let known = record.material_digest.as_deref();
    let same = known.is_some_and(|k| trent_crypto::constant_time_eq(k, digest));
    let import_type = params.import_type.clone().unwrap_or(if known.is_some() {
        ImportType::ExistingKeyMaterial
    } else {
        ImportType::NewKeyMaterial
    });
    match import_type {
        ImportType::NewKeyMaterial if same => Err(KmsError::IncorrectKeyMaterial(
            "KMS expected new key material but the key material being imported is already associated with the KMS key".into(),
        )),
        ImportType::NewKeyMaterial if known.is_some() => Err(KmsError::Unsupported(
            "Importing new key material into a KMS key that already has key material is not supported by this server yet".into(),
        )),
        ImportType::NewKeyMaterial => Ok(()),
        _ if !same => Err(KmsError::IncorrectKeyMaterial(
            "The key material being imported is not the same key material that was previously imported into this KMS key".into(),
        )),
        _ => match &params.key_material_id {
            Some(id) if !trent_crypto::constant_time_eq(id.as_bytes(), hex(digest).as_bytes()) => {
                Err(KmsError::IncorrectKeyMaterial(format!(
                    "The key material being imported does not have the key material ID {id}"
                )))
            }
            _ => Ok(()),
        },
    }
}

/// A wrapping algorithm and key spec as AWS accepts them together.
fn wrapping(
    algorithm: &AlgorithmSpec,
    spec: &WrappingKeySpec,
) -> Result<(WrappingAlgorithm, PairSpec), KmsError> {
    let algorithm = match algorithm {
        AlgorithmSpec::RsaesOaepSha1 => WrappingAlgorithm::RsaesOaepSha1,
        AlgorithmSpec::RsaesOaepSha256 => WrappingAlgorithm::RsaesOaepSha256,
        AlgorithmSpec::RsaAesKeyWrapSha1 => WrappingAlgorithm::RsaAesKeyWrapSha1,
        AlgorithmSpec::RsaAesKeyWrapSha256 => WrappingAlgorithm::RsaAesKeyWrapSha256,
        AlgorithmSpec::RsaesPkcs1V15 => {
            return Err(KmsError::Unsupported(
                "KMS does not support the RSAES_PKCS1_V1_5 wrapping algorithm. Use an RSAES_OAEP or RSA_AES_KEY_WRAP wrapping algorithm.".into(),
            ));
        }
        AlgorithmSpec::Sm2pke if *spec == WrappingKeySpec::Sm2 => {
            return Err(KmsError::Unsupported(
                "The SM2PKE wrapping algorithm is not supported by this server".into(),
            ));
        }
        other => {
            return Err(KmsError::Validation(format!(
                "WrappingAlgorithm {other} is not valid with WrappingKeySpec {spec}"
            )));
        }
    };
    let spec = match spec {
        WrappingKeySpec::Rsa2048 => PairSpec::Rsa2048,
        WrappingKeySpec::Rsa3072 => PairSpec::Rsa3072,
        WrappingKeySpec::Rsa4096 => PairSpec::Rsa4096,
        other => {
            return Err(KmsError::Validation(format!(
                "WrappingKeySpec {other} is only valid with WrappingAlgorithm SM2PKE"
            )));
        }
    };
    Ok((algorithm, spec))
}

/// `UnsupportedOperationException` unless the key's material is imported.
fn require_external(key: &KeyRecord) -> Result<(), KmsError> {
    if key.origin != OriginType::External {
        return Err(KmsError::Unsupported(format!(
            "{} origin is {} which is not valid for this operation.",
            key.arn, key.origin
        )));
    }
    Ok(())
}

/// The unwrapped material as the key's in-memory material, if it fits the
/// key's spec.
fn imported_material(record: &KeyRecord, bytes: &[u8]) -> Result<Materials, KmsError> {
    let incorrect = || {
        KmsError::IncorrectKeyMaterial(format!(
            "The key material is not valid for a KMS key with key spec {}",
            record.key_spec
        ))
    };
    let fits = match spec_kind(&record.key_spec)? {
        SpecKind::Symmetric => bytes.len() == trent_crypto::KEY_LEN,
        SpecKind::Hmac(alg) => alg.import_lens().contains(&bytes.len()),
        SpecKind::Pair(spec) => fits_spec(spec, bytes),
    };
    if !fits {
        return Err(incorrect());
    }
    material_of(record, bytes).map_err(|_| incorrect())
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
            let bytes = unwrap(&pkcs8, token.algorithm, &params.encrypted_key_material)?;
            drop(pkcs8);
            let symmetric_only = params.import_type.is_some()
                || params.key_material_id.is_some()
                || params.has_description;
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
        self.remove_material_locked(id, current).await
    }

    /// Destroys a key's imported material (its stripe lock held): the key
    /// is pending import (a key pending deletion stays so).
    async fn remove_material_locked(
        &self,
        id: Uuid,
        mut current: Arc<CachedKey>,
    ) -> Result<KeyRecord, KmsError> {
        let mut conflicts = 0;
        loop {
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
                    };
                    self.keys.pin().insert(id, Arc::new(updated));
                    return Ok(record);
                }
                Err(StoreError::Conflict(_)) if conflicts < MAX_UPDATE_CONFLICTS => {
                    conflicts += 1;
                    self.keys.pin().remove(&id);
                    current = self.key_locked(id).await?;
                    if current.record.expiration_model.is_none() {
                        // Another node removed it meanwhile.
                        return Ok(current.record.clone());
                    }
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
        let due = current.record.expiration_model.is_some()
            && current.record.valid_to_ms.is_some_and(|t| t <= self.now());
        if !due {
            return Ok(None);
        }
        let before = current.record.clone();
        self.remove_material_locked(id, current).await?;
        tracing::info!(key = %before.arn, "imported key material expired");
        Ok(Some(before))
    }
}
