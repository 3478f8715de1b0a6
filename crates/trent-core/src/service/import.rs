//! Imported key material (Origin EXTERNAL): GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial, and the expiry of
//! material with a ValidTo (the lifecycle scheduler's due work).
//!
//! The import token is stateless (`import_token.rs`). Each imported
//! material is sealed and stored as generated material is (its version);
//! a keyed digest of it (HMAC-SHA-256 under a key sealed under the root
//! key, in `meta`), its KeyMaterialId, stays with the key after the
//! material is deleted or expires, so that only the same material is
//! imported again. `materials.rs` decides the materials' states.

use super::import_rules::{imported_material, require_external, wrapping};
use super::import_token::{self, TokenFacts};
use super::materials;
use super::mrk_import;
use super::*;
use crate::ImportedWrite;
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
    /// The keyed digest that tells imported material apart, bound to the
    /// key: to a single-Region key's id, to a multi-Region key's family (so
    /// the same material has the same KeyMaterialId in every Region).
    async fn material_digest(&self, key: &KeyRecord, bytes: &[u8]) -> Result<Vec<u8>, KmsError> {
        let id = key.blob_id();
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

    /// The keys whose imported materials go with `key`'s, as the store has
    /// them: a multi-Region key's related keys with Origin EXTERNAL (none
    /// for other keys).
    pub(super) async fn material_family(
        &self,
        key: &KeyRecord,
    ) -> Result<Vec<KeyRecord>, KmsError> {
        if !mrk_import::has_family_materials(key) {
            return Ok(Vec::new());
        }
        let mut related = self.related_keys(key).await?;
        related.retain(|k| k.id != key.id);
        Ok(related)
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
    /// `materials.rs` decides (its first, one pending rotation, or one it
    /// had imported again); the key and the KeyMaterialId of the material
    /// imported.
    pub async fn import_key_material(
        &self,
        caller: &Caller,
        key_id: &str,
        params: ImportMaterial,
    ) -> Result<(KeyRecord, String), KmsError> {
        let model = params
            .expiration_model
            .clone()
            .unwrap_or(ExpirationModelType::KeyMaterialExpires);
        let now = self.now();
        check_expiry(&model, params.valid_to_ms, now)?;
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
        let current = match self.key_locked(id).await {
            Err(KmsError::NotFound(_)) => return Err(resolved.not_found(caller)),
            other => other?,
        };
        visible(caller, &current.record, &resolved)?;
        self.authorize(caller, Action::ImportKeyMaterial, &current, &facts, None)?;
        require_external(&current.record)?;
        refuse_pending_deletion(&current.record)?;
        let (token, pkcs8) =
            import_token::open(self.root.as_ref(), &params.import_token, &id, now)?;
        // RSA decryption (up to 4096 bits): off the async workers.
        let wrapped = params.encrypted_key_material.clone();
        let bytes = tokio::task::spawn_blocking(move || unwrap(&pkcs8, token.algorithm, &wrapped))
            .await
            .map_err(KmsError::internal)??;
        let symmetric_only = params.import_type.is_some()
            || params.key_material_id.is_some()
            || params.description.is_some();
        if symmetric_only && current.record.key_spec != KeySpec::SymmetricDefault {
            return Err(KmsError::Validation(
                "ImportType, KeyMaterialId and KeyMaterialDescription are only valid for symmetric encryption KMS keys".into(),
            ));
        }
        // Checked to fit the key's spec before anything is stored.
        imported_material(&current.record, &bytes)?;
        let digest = self.material_digest(&current.record, &bytes).await?;
        let request = |versions_taken| materials::ImportRequest {
            import_type: params.import_type.clone(),
            key_material_id: params.key_material_id.as_deref(),
            description: params.description.as_deref(),
            digest: &digest,
            valid_to_ms: params
                .valid_to_ms
                .filter(|_| model == ExpirationModelType::KeyMaterialExpires),
            expiration_model: model.clone(),
            versions_taken,
        };
        let changed = self
            .change_imported_locked(id, current, |key, related| {
                // Decided again on a key another node changed: allowed again.
                self.authorize(caller, Action::ImportKeyMaterial, key, &facts, None)?;
                refuse_pending_deletion(&key.record)?;
                // A replica takes only what its primary has.
                let done = match mrk_import::primary_of(&key.record, related) {
                    Some(primary) => {
                        let seeded = mrk_import::seed(&key.record, primary);
                        mrk_import::check_replica_import(&seeded, &digest)?;
                        materials::import(&seeded, &request(0))?
                    }
                    None => materials::import(
                        &key.record,
                        &request(mrk_import::versions_taken(related)),
                    )?,
                };
                let sealed = SealedMaterialRow {
                    version: done.version,
                    sealed: self.root.seal(&material_aad(&id, done.version), &bytes)?,
                };
                let material = imported_material(&key.record, &bytes)?;
                let named = material_id(&done.record, done.version);
                Ok(Some(MaterialChange {
                    put: Some((sealed, material)),
                    ..MaterialChange::of_key(done.record, named)
                }))
            })
            .await?;
        drop(bytes);
        changed.ok_or_else(|| KmsError::internal(StoreError::Conflict("import not made".into())))
    }

    /// DeleteImportedKeyMaterial: the material named (by KeyMaterialId,
    /// else the current one) destroyed; the key and the material's id.
    pub async fn delete_imported_key_material(
        &self,
        caller: &Caller,
        key_id: &str,
        key_material_id: Option<&str>,
    ) -> Result<(KeyRecord, String), KmsError> {
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
        let changed = self
            .change_imported_locked(id, current, |key, related| {
                self.authorize(
                    caller,
                    Action::DeleteImportedKeyMaterial,
                    key,
                    &RequestFacts::default(),
                    None,
                )?;
                let found = materials::to_delete(&key.record, key_material_id)?;
                Ok(Some(MaterialChange {
                    destroy: vec![found.version],
                    related: mrk_import::remove_pending(&key.record, found.version, related),
                    ..MaterialChange::of_key(
                        materials::remove(&key.record, found.version),
                        materials::id_of(found),
                    )
                }))
            })
            .await?;
        changed.ok_or_else(|| KmsError::internal(StoreError::Conflict("deletion not made".into())))
    }

    /// Writes a change of a key's imported materials (its stripe lock
    /// held): `change` decides it on the key as cached and, for a
    /// multi-Region key with imported material, its related keys as the
    /// store has them (`None`: nothing to do); the store writes it, with
    /// what it changes in related keys, in one transaction, and the cache
    /// then holds the key with its materials so changed. When another node
    /// changed the key or a related key meanwhile, they are read again and
    /// `change` decides again. The key as written and the id of the
    /// material `named`.
    pub(super) async fn change_imported_locked(
        &self,
        id: Uuid,
        mut current: Arc<CachedKey>,
        change: impl Fn(&CachedKey, &[KeyRecord]) -> Result<Option<MaterialChange>, KmsError>,
    ) -> Result<Option<(KeyRecord, String)>, KmsError> {
        let mut conflicts = 0;
        loop {
            let related = self.material_family(&current.record).await?;
            let Some(decided) = change(&current, &related)? else {
                return Ok(None);
            };
            let mut writes = vec![ImportedWrite {
                key: &decided.record,
                previous: &current.record,
                put: decided.put.as_ref().map(|(sealed, _)| sealed),
                destroy: &decided.destroy,
            }];
            writes.extend(decided.related.iter().map(|r| ImportedWrite {
                destroy: &r.destroy,
                ..ImportedWrite::rewrite(&r.record, &r.previous)
            }));
            match self.store.write_imported(&writes).await {
                Ok(()) => {
                    // Related keys are read again (as written) when next used.
                    for r in &decided.related {
                        self.keys.pin().remove(&r.record.id);
                    }
                    let materials = match decided.put {
                        Some((sealed, material)) => current.materials.set(sealed.version, material),
                        None => current.materials.without(&decided.destroy),
                    };
                    let record = decided.record;
                    let updated = CachedKey {
                        record: record.clone(),
                        materials: Arc::new(materials),
                        policy: current.policy.clone(),
                        grants: current.grants.clone(),
                        material_ids: Default::default(),
                    };
                    self.keys.pin().insert(id, Arc::new(updated));
                    return Ok(Some((record, decided.named)));
                }
                // Decided again on the keys as another node left them.
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
    /// has passed (each material of the key that is due): the key as it
    /// was, or `None` if none is due (any more).
    pub(super) async fn expire_if_due(&self, id: Uuid) -> Result<Option<KeyRecord>, KmsError> {
        let _guard = self.key_lock(&id).lock().await;
        // The store's copy: another node may have changed the key.
        self.keys.pin().remove(&id);
        let current = match self.key_locked(id).await {
            Err(KmsError::NotFound(_)) => return Ok(None),
            other => other?,
        };
        let now = self.now();
        let before = current.record.clone();
        // Not due (any more), or another node expired it first (and
        // records it).
        let changed = self
            .change_imported_locked(id, current, |key, related| {
                let due = materials::expired(&key.record, now);
                let Some(&first) = due.first() else {
                    return Ok(None);
                };
                let named = material_id(&key.record, first);
                // Material pending rotation expiring in a primary goes from
                // its replicas too, as when it is deleted.
                let related = due
                    .iter()
                    .flat_map(|v| mrk_import::remove_pending(&key.record, *v, related))
                    .collect();
                let record = due.iter().fold(key.record.clone(), |record, v| {
                    materials::remove(&record, *v)
                });
                Ok(Some(MaterialChange {
                    destroy: due,
                    related,
                    ..MaterialChange::of_key(record, named)
                }))
            })
            .await?;
        if changed.is_none() {
            return Ok(None);
        }
        tracing::info!(key = %before.arn, "imported key material expired");
        Ok(Some(before))
    }
}

/// A change of a key's imported materials, as decided on the key.
pub(super) struct MaterialChange {
    /// The key as it is to be.
    pub record: KeyRecord,
    /// A material version to store, sealed and in memory.
    pub put: Option<(SealedMaterialRow, Materials)>,
    /// Versions whose sealed material is destroyed.
    pub destroy: Vec<u32>,
    /// The KeyMaterialId the operation answers.
    pub named: String,
    /// What the change makes of related multi-Region keys.
    pub related: Vec<RelatedChange>,
}

impl MaterialChange {
    /// A change of the key alone.
    pub(super) fn of_key(record: KeyRecord, named: String) -> Self {
        Self {
            record,
            put: None,
            destroy: Vec::new(),
            named,
            related: Vec::new(),
        }
    }
}

/// A related multi-Region key changed with the key: rotated with its
/// primary, or losing the material its primary lost pending rotation.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RelatedChange {
    pub record: KeyRecord,
    /// As the store had it.
    pub previous: KeyRecord,
    /// Versions whose sealed material is destroyed.
    pub destroy: Vec<u32>,
}

/// ExpirationModel and ValidTo as AWS takes them together.
fn check_expiry(
    model: &ExpirationModelType,
    valid_to_ms: Option<i64>,
    now: i64,
) -> Result<(), KmsError> {
    match (model, valid_to_ms) {
        (ExpirationModelType::KeyMaterialExpires, None) => Err(KmsError::Validation(
            "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES".into(),
        )),
        (ExpirationModelType::KeyMaterialExpires, Some(t)) if t <= now => Err(
            KmsError::Validation("The validTo date must be in the future".into()),
        ),
        (ExpirationModelType::KeyMaterialExpires, Some(t)) if t > now + MAX_VALID_TO_MS => Err(
            KmsError::Validation("The validTo date must be at most 365 days from now".into()),
        ),
        (ExpirationModelType::KeyMaterialDoesNotExpire, Some(_)) => Err(KmsError::Validation(
            "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE"
                .into(),
        )),
        _ => Ok(()),
    }
}
