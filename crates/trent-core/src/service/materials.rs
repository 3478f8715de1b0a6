//! The state rules of a key's imported materials (AWS's 2025 additions),
//! without I/O: which material an import makes or re-imports and in which
//! state, what deleting or expiring one does to it and to the key, and
//! what on-demand rotation of imported material does. Each answers the key
//! as it is to be stored.
//!
//! - The first material imported is CURRENT and belongs to the key for
//!   good; a symmetric key takes more with ImportType NEW_KEY_MATERIAL,
//!   each PENDING_ROTATION (one at a time) until RotateKeyOnDemand makes it
//!   CURRENT and the one before NON_CURRENT (it still decrypts).
//! - Deleting or expiring a CURRENT or NON_CURRENT material keeps its row
//!   (PENDING_IMPORT) and makes the key PendingImport until it is imported
//!   again (AWS: "the deletion or expiration of any key material in a state
//!   other than PENDING_ROTATION changes the key state to Pending import").
//!   A material PENDING_ROTATION is not the key's for good: it goes whole.

use super::*;
use crate::model::ImportedMaterial;
use trent_wire::{ExpirationModelType, ImportState, ImportType, KeyMaterialState, RotationType};

/// What ImportKeyMaterial asks for, once the material's keyed digest is
/// known.
pub(super) struct ImportRequest<'a> {
    pub import_type: Option<ImportType>,
    pub key_material_id: Option<&'a str>,
    pub description: Option<&'a str>,
    pub digest: &'a [u8],
    pub expiration_model: ExpirationModelType,
    pub valid_to_ms: Option<i64>,
    /// The highest material version a related multi-Region key holds (0
    /// for a single-Region key): new material is numbered after it.
    pub versions_taken: u32,
}

/// The key after an import, and the material version the bytes go to.
#[derive(Debug)]
pub(super) struct Imported {
    pub record: KeyRecord,
    pub version: u32,
}

/// The KeyMaterialId of an imported material: its keyed digest in hex.
pub(super) fn id_of(material: &ImportedMaterial) -> String {
    crate::ids::hex(&material.digest)
}

/// Whether the key waits for imported material: it has none yet, or one
/// of its materials for good is deleted or expired.
pub(super) fn awaits_import(key: &KeyRecord) -> bool {
    key.origin == OriginType::External
        && (key.current_import().is_none()
            || key
                .imported
                .iter()
                .any(|m| m.is_permanent() && !m.is_imported()))
}

/// ImportType and KeyMaterialId as AWS decides them: the key with the
/// material imported.
pub(super) fn import(key: &KeyRecord, request: &ImportRequest<'_>) -> Result<Imported, KmsError> {
    let same = key
        .imported
        .iter()
        .find(|m| trent_crypto::constant_time_eq(&m.digest, request.digest));
    let import_type = request
        .import_type
        .clone()
        .unwrap_or(if key.imported.is_empty() {
            ImportType::NewKeyMaterial
        } else {
            ImportType::ExistingKeyMaterial
        });
    let mut record = key.clone();
    let version = match import_type {
        ImportType::NewKeyMaterial => {
            if same.is_some() {
                return Err(KmsError::IncorrectKeyMaterial(
                    "KMS expected new key material but the key material being imported is already associated with the KMS key".into(),
                ));
            }
            new_material(&mut record, request)?
        }
        _ => existing_material(&mut record, request, same)?,
    };
    if record.state == KeyState::PendingImport && !awaits_import(&record) {
        record.state = KeyState::Enabled;
    }
    Ok(Imported { record, version })
}

/// NEW_KEY_MATERIAL: the key's first material (CURRENT), or one more,
/// pending rotation.
fn new_material(record: &mut KeyRecord, request: &ImportRequest<'_>) -> Result<u32, KmsError> {
    let state = if record.imported.is_empty() {
        KeyMaterialState::Current
    } else {
        if record.key_spec != KeySpec::SymmetricDefault {
            return Err(KmsError::Unsupported(format!(
                "{} takes no new key material: only symmetric encryption KMS keys can have more than one",
                record.arn
            )));
        }
        if let Some(pending) = record
            .imported
            .iter()
            .find(|m| m.state == KeyMaterialState::PendingRotation)
        {
            return Err(KmsError::InvalidState(format!(
                "{} already has key material {} pending rotation. Rotate the key on demand, or delete that key material, before importing other new key material.",
                record.arn,
                id_of(pending)
            )));
        }
        KeyMaterialState::PendingRotation
    };
    let version = record
        .imported
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
        .max(request.versions_taken)
        + 1;
    record.imported.push(ImportedMaterial {
        version,
        digest: request.digest.to_vec(),
        description: request.description.map(str::to_owned),
        expiration_model: Some(request.expiration_model.clone()),
        valid_to_ms: request.valid_to_ms,
        import_state: ImportState::Imported,
        state: state.clone(),
        rotation: None,
    });
    if state == KeyMaterialState::Current {
        record.current_material = version;
    }
    Ok(version)
}

/// EXISTING_KEY_MATERIAL: the material named by KeyMaterialId (else the
/// current one) imported again, its expiry as asked.
fn existing_material(
    record: &mut KeyRecord,
    request: &ImportRequest<'_>,
    same: Option<&ImportedMaterial>,
) -> Result<u32, KmsError> {
    let computed = crate::ids::hex(request.digest);
    let version = match request.key_material_id {
        Some(wanted) => {
            if !trent_crypto::constant_time_eq(wanted.as_bytes(), computed.as_bytes()) {
                return Err(KmsError::IncorrectKeyMaterial(format!(
                    "The key material being imported does not have the key material ID {wanted}"
                )));
            }
            same.map(|m| m.version)
        }
        None => record
            .current_import()
            .filter(|current| same.is_some_and(|s| s.version == current.version))
            .map(|m| m.version),
    };
    let Some(version) = version else {
        return Err(KmsError::IncorrectKeyMaterial(
            "The key material being imported is not the same key material that was previously imported into this KMS key".into(),
        ));
    };
    let material = record
        .imported
        .iter_mut()
        .find(|m| m.version == version)
        .ok_or_else(|| KmsError::internal(StoreError::Corrupt("imported material lost".into())))?;
    material.import_state = ImportState::Imported;
    material.expiration_model = Some(request.expiration_model.clone());
    material.valid_to_ms = request.valid_to_ms;
    if let Some(description) = request.description {
        material.description = Some(description.to_owned());
    }
    Ok(version)
}

/// The material DeleteImportedKeyMaterial names: by KeyMaterialId, else
/// the current one; it must be imported.
pub(super) fn to_delete<'k>(
    key: &'k KeyRecord,
    key_material_id: Option<&str>,
) -> Result<&'k ImportedMaterial, KmsError> {
    let found = match key_material_id {
        Some(wanted) => key
            .imported
            .iter()
            .find(|m| trent_crypto::constant_time_eq(id_of(m).as_bytes(), wanted.as_bytes()))
            .ok_or_else(|| {
                KmsError::NotFound(format!(
                    "Key material {wanted} is not associated with {}",
                    key.arn
                ))
            })?,
        None => key
            .current_import()
            .ok_or_else(|| KmsError::InvalidState(format!("{} is pending import.", key.arn)))?,
    };
    if !found.is_imported() {
        return Err(KmsError::InvalidState(format!(
            "Key material {} of {} is pending import.",
            id_of(found),
            key.arn
        )));
    }
    Ok(found)
}

/// The key with imported material `version` deleted (or expired): a
/// material pending rotation goes; one the key holds for good stays,
/// PENDING_IMPORT, and the key is PendingImport (a key pending deletion
/// stays so).
pub(super) fn remove(key: &KeyRecord, version: u32) -> KeyRecord {
    let mut record = key.clone();
    let permanent = record
        .import_of(version)
        .is_some_and(ImportedMaterial::is_permanent);
    if permanent {
        if let Some(m) = record.imported.iter_mut().find(|m| m.version == version) {
            m.import_state = ImportState::PendingImport;
            m.expiration_model = None;
            m.valid_to_ms = None;
        }
        if !matches!(
            record.state,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        ) {
            record.state = KeyState::PendingImport;
        }
    } else {
        record.imported.retain(|m| m.version != version);
    }
    record
}

/// The versions of imported material whose ValidTo is past at `now`.
pub(super) fn expired(key: &KeyRecord, now: i64) -> Vec<u32> {
    key.imported
        .iter()
        .filter(|m| m.is_imported() && m.valid_to_ms.is_some_and(|t| t <= now))
        .map(|m| m.version)
        .collect()
}

/// RotateKeyOnDemand of imported material: the material pending rotation
/// becomes CURRENT, the current one NON_CURRENT.
pub(super) fn rotate(key: &KeyRecord, now: i64) -> Result<KeyRecord, KmsError> {
    let Some(pending) = key
        .imported
        .iter()
        .find(|m| m.state == KeyMaterialState::PendingRotation)
        .map(|m| m.version)
    else {
        return Err(KmsError::InvalidState(format!(
            "{} has no key material in PENDING_ROTATION state. Import new key material (ImportType NEW_KEY_MATERIAL) before rotating a KMS key with imported key material on demand.",
            key.arn
        )));
    };
    Ok(rotate_to(key, pending, now))
}

/// The key with material `version` CURRENT (rotated to on demand at
/// `now`), the current one NON_CURRENT.
pub(super) fn rotate_to(key: &KeyRecord, version: u32, now: i64) -> KeyRecord {
    let mut record = key.clone();
    for m in &mut record.imported {
        if m.version == version {
            m.state = KeyMaterialState::Current;
            m.rotation = Some((now, RotationType::OnDemand));
        } else if m.state == KeyMaterialState::Current {
            m.state = KeyMaterialState::NonCurrent;
        }
    }
    record.current_material = version;
    record
}

/// On-demand rotations of a key's imported material so far.
pub(super) fn on_demand_rotations(key: &KeyRecord) -> usize {
    key.imported
        .iter()
        .filter(|m| matches!(m.rotation, Some((_, RotationType::OnDemand))))
        .count()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A single-Region key awaiting its first import (`mrk_import.rs`'s
    /// tests make it multi-Region).
    pub(in crate::service) fn key(spec: KeySpec) -> KeyRecord {
        let id = Uuid::new_v4();
        KeyRecord {
            id,
            account: "111122223333".into(),
            region: "us-east-1".into(),
            arn: key_arn("us-east-1", "111122223333", &id),
            created_ms: 0,
            description: String::new(),
            key_usage: KeyUsageType::EncryptDecrypt,
            key_spec: spec,
            origin: OriginType::External,
            state: KeyState::PendingImport,
            deletion_date_ms: None,
            pending_window_days: None,
            policy: "{}".into(),
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation_ms: None,
            current_material: 1,
            tags: Vec::new(),
            imported: Vec::new(),
            multi_region: None,
        }
    }

    fn request<'a>(
        import_type: Option<ImportType>,
        id: Option<&'a str>,
        digest: &'a [u8],
    ) -> ImportRequest<'a> {
        ImportRequest {
            import_type,
            key_material_id: id,
            description: None,
            digest,
            expiration_model: ExpirationModelType::KeyMaterialDoesNotExpire,
            valid_to_ms: None,
            versions_taken: 0,
        }
    }

    fn states(key: &KeyRecord) -> Vec<(u32, KeyMaterialState, ImportState)> {
        key.imported
            .iter()
            .map(|m| (m.version, m.state.clone(), m.import_state.clone()))
            .collect()
    }

    const A: &[u8] = &[0xaa; 32];
    const B: &[u8] = &[0xbb; 32];
    const C: &[u8] = &[0xcc; 32];

    /// A key with A current and B pending rotation.
    fn with_pending() -> KeyRecord {
        let first = import(&key(KeySpec::SymmetricDefault), &request(None, None, A)).unwrap();
        let next = import(
            &first.record,
            &request(Some(ImportType::NewKeyMaterial), None, B),
        )
        .unwrap();
        assert_eq!(next.version, 2);
        next.record
    }

    #[test]
    fn first_import_is_current_and_enables_the_key() {
        let done = import(&key(KeySpec::SymmetricDefault), &request(None, None, A)).unwrap();
        assert_eq!(done.version, 1);
        assert_eq!(done.record.state, KeyState::Enabled);
        assert_eq!(done.record.current_material, 1);
        assert_eq!(
            states(&done.record),
            [(1, KeyMaterialState::Current, ImportState::Imported)]
        );
        assert!(!awaits_import(&done.record));
        // EXISTING before any material: nothing to be the same as.
        assert!(matches!(
            import(
                &key(KeySpec::SymmetricDefault),
                &request(Some(ImportType::ExistingKeyMaterial), None, A)
            ),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
    }

    #[test]
    fn new_material_waits_pending_rotation_one_at_a_time() {
        let key = with_pending();
        assert_eq!(key.current_material, 1, "the pending one encrypts nothing");
        assert_eq!(
            states(&key),
            [
                (1, KeyMaterialState::Current, ImportState::Imported),
                (2, KeyMaterialState::PendingRotation, ImportState::Imported)
            ]
        );
        let again = |import_type, digest| import(&key, &request(Some(import_type), None, digest));
        assert!(matches!(
            again(ImportType::NewKeyMaterial, C),
            Err(KmsError::InvalidState(_))
        ));
        // Either material already associated is not new.
        for digest in [A, B] {
            assert!(matches!(
                again(ImportType::NewKeyMaterial, digest),
                Err(KmsError::IncorrectKeyMaterial(_))
            ));
        }
    }

    #[test]
    fn existing_material_by_id_or_the_current_one() {
        let key = with_pending();
        let b_id = crate::ids::hex(B);
        let by_id = import(&key, &request(None, Some(&b_id), B)).unwrap();
        assert_eq!(by_id.version, 2);
        // Wrong bytes for the id, or an id of other bytes.
        assert!(matches!(
            import(&key, &request(None, Some(&b_id), A)),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
        let c_id = crate::ids::hex(C);
        assert!(matches!(
            import(&key, &request(None, Some(&c_id), C)),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
        // Without an id, EXISTING is the current material only.
        assert_eq!(import(&key, &request(None, None, A)).unwrap().version, 1);
        assert!(matches!(
            import(&key, &request(None, None, B)),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
    }

    #[test]
    fn rotation_makes_the_pending_material_current() {
        let key = with_pending();
        let rotated = rotate(&key, 5_000).unwrap();
        assert_eq!(rotated.current_material, 2);
        assert_eq!(
            states(&rotated),
            [
                (1, KeyMaterialState::NonCurrent, ImportState::Imported),
                (2, KeyMaterialState::Current, ImportState::Imported)
            ]
        );
        assert_eq!(
            rotated.import_of(2).unwrap().rotation,
            Some((5_000, RotationType::OnDemand))
        );
        assert_eq!(on_demand_rotations(&rotated), 1);
        // Nothing pending any more.
        assert!(matches!(
            rotate(&rotated, 6_000),
            Err(KmsError::InvalidState(_))
        ));
    }

    #[test]
    fn ids_are_the_digests_in_hex() {
        use super::super::import_rules::{current_key_material_id, material_id};
        assert_eq!(
            current_key_material_id(&key(KeySpec::SymmetricDefault)),
            None
        );
        let staged = with_pending();
        assert_eq!(current_key_material_id(&staged), Some(crate::ids::hex(A)));
        let rotated = rotate(&staged, 1).unwrap();
        assert_eq!(current_key_material_id(&rotated), Some(crate::ids::hex(B)));
        assert_eq!(material_id(&rotated, 1), crate::ids::hex(A));
        assert_eq!(material_id(&rotated, 2), crate::ids::hex(B));
    }

    #[test]
    fn losing_a_material_for_good_makes_the_key_pending_import() {
        let mut key = rotate(&with_pending(), 5_000).unwrap();
        key.state = KeyState::Enabled;
        let a_id = crate::ids::hex(A);
        assert_eq!(to_delete(&key, Some(&a_id)).unwrap().version, 1);
        assert_eq!(to_delete(&key, None).unwrap().version, 2);
        assert!(matches!(
            to_delete(&key, Some(&crate::ids::hex(C))),
            Err(KmsError::NotFound(_))
        ));
        let deleted = remove(&key, 1);
        assert_eq!(deleted.state, KeyState::PendingImport);
        assert_eq!(
            states(&deleted),
            [
                (1, KeyMaterialState::NonCurrent, ImportState::PendingImport),
                (2, KeyMaterialState::Current, ImportState::Imported)
            ]
        );
        assert!(deleted.import_of(1).unwrap().expiration_model.is_none());
        assert!(awaits_import(&deleted));
        assert!(matches!(
            to_delete(&deleted, Some(&a_id)),
            Err(KmsError::InvalidState(_))
        ));
        // Imported again: the key is usable again.
        let back = import(&deleted, &request(None, Some(&a_id), A)).unwrap();
        assert_eq!(back.record.state, KeyState::Enabled);
        assert_eq!(back.record.current_material, 2);
        // A key pending deletion stays so.
        let mut doomed = key.clone();
        doomed.state = KeyState::PendingDeletion;
        assert_eq!(remove(&doomed, 2).state, KeyState::PendingDeletion);
    }

    #[test]
    fn pending_material_goes_whole_and_the_key_stays() {
        let mut key = with_pending();
        key.state = KeyState::Enabled;
        let gone = remove(&key, 2);
        assert_eq!(gone.state, KeyState::Enabled);
        assert_eq!(
            states(&gone),
            [(1, KeyMaterialState::Current, ImportState::Imported)]
        );
        // Other new material may take its place.
        let other = import(&gone, &request(Some(ImportType::NewKeyMaterial), None, C)).unwrap();
        assert_eq!(other.version, 2);
    }

    #[test]
    fn expiry_is_per_material() {
        let mut key = with_pending();
        key.imported[0].valid_to_ms = Some(1_000);
        key.imported[0].expiration_model = Some(ExpirationModelType::KeyMaterialExpires);
        key.imported[1].valid_to_ms = Some(2_000);
        key.imported[1].expiration_model = Some(ExpirationModelType::KeyMaterialExpires);
        assert!(expired(&key, 999).is_empty());
        assert_eq!(expired(&key, 1_000), [1]);
        assert_eq!(expired(&key, 2_000), [1, 2]);
        assert!(expired(&remove(&key, 1), 1_500).is_empty());
    }

    #[test]
    fn other_kinds_keep_one_material() {
        let hmac = import(&key(KeySpec::Hmac256), &request(None, None, A)).unwrap();
        assert!(matches!(
            import(
                &hmac.record,
                &request(Some(ImportType::NewKeyMaterial), None, B)
            ),
            Err(KmsError::Unsupported(_))
        ));
        // The default for a key with material: the same material again.
        assert!(matches!(
            import(&hmac.record, &request(None, None, B)),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
    }
}
