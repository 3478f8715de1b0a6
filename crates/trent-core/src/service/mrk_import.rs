//! Imported key material in multi-Region keys, without I/O.
//!
//! AWS does not copy imported material from a primary key to its
//! replicas: the same material is imported into each related key, each
//! with its own expiry. A replica therefore starts PendingImport, knowing
//! which materials its primary has (their KeyMaterialIds, keyed by the
//! family so they are the same in every Region) but holding none, and
//! takes only those: different material is IncorrectKeyMaterial.

use super::*;
use crate::model::ImportedMaterial;
use trent_wire::{ImportState, ImportType};

/// Whether `key` is a replica of a multi-Region key with imported material.
pub(super) fn is_external_replica(key: &KeyRecord) -> bool {
    key.origin == OriginType::External && key.multi_region.is_some() && !key.is_primary()
}

/// `replica` knowing every material of `primary` it does not know yet,
/// each PENDING_IMPORT (nothing is copied but the material's version, id
/// and state: its expiry and description are each key's own); its current
/// version the primary's if it had none.
pub(super) fn seed(replica: &KeyRecord, primary: &KeyRecord) -> KeyRecord {
    let mut record = replica.clone();
    let had_none = record.imported.is_empty();
    for m in &primary.imported {
        if record.import_of(m.version).is_some() {
            continue;
        }
        record.imported.push(ImportedMaterial {
            import_state: ImportState::PendingImport,
            expiration_model: None,
            valid_to_ms: None,
            description: None,
            ..m.clone()
        });
    }
    record.imported.sort_by_key(|m| m.version);
    if had_none && !primary.imported.is_empty() {
        record.current_material = primary.current_material;
    }
    if super::materials::awaits_import(&record)
        && matches!(record.state, KeyState::Enabled | KeyState::PendingImport)
    {
        record.state = KeyState::PendingImport;
    }
    record
}

/// A new replica of an EXTERNAL primary: without material, PendingImport.
pub(super) fn new_replica(replica: KeyRecord, primary: &KeyRecord) -> KeyRecord {
    let bare = KeyRecord {
        imported: Vec::new(),
        state: KeyState::PendingImport,
        ..replica
    };
    seed(&bare, primary)
}

/// A replica takes only material its primary has (AWS: new key material
/// is imported into the primary key first, never directly into a replica).
pub(super) fn check_replica_import(seeded: &KeyRecord, digest: &[u8]) -> Result<(), KmsError> {
    let known = seeded
        .imported
        .iter()
        .any(|m| trent_crypto::constant_time_eq(&m.digest, digest));
    if known {
        return Ok(());
    }
    Err(KmsError::IncorrectKeyMaterial(format!(
        "The key material being imported is not the same key material that was imported into the primary key of {}. Import key material into the multi-Region primary key first, then the same key material into its replica keys.",
        seeded.arn
    )))
}

/// NEW_KEY_MATERIAL on a multi-Region key that has material: on-demand
/// rotation of imported material in multi-Region keys (AWS's
/// PENDING_MULTI_REGION_IMPORT_AND_ROTATION) is not built.
pub(super) fn refuse_new_material(
    key: &KeyRecord,
    import_type: Option<&ImportType>,
) -> Result<(), KmsError> {
    if key.multi_region.is_some()
        && !key.imported.is_empty()
        && import_type == Some(&ImportType::NewKeyMaterial)
    {
        return Err(KmsError::Unsupported(format!(
            "{} is a multi-Region key: importing new key material (ImportType NEW_KEY_MATERIAL) for on-demand rotation of multi-Region keys is not supported by this server",
            key.arn
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MultiRegion;
    use trent_wire::{ExpirationModelType, KeyMaterialState};

    fn key(region: &str, family: Uuid) -> KeyRecord {
        KeyRecord {
            id: crate::ids::related_key_id(&family, region),
            region: region.into(),
            arn: crate::ids::mrk_key_arn(region, "111122223333", &family),
            multi_region: Some(MultiRegion {
                family,
                primary_region: "us-east-1".into(),
            }),
            ..super::super::materials::tests::key(KeySpec::SymmetricDefault)
        }
    }

    fn primary_with(digest: &[u8], version: u32) -> KeyRecord {
        let mut primary = key("us-east-1", crate::ids::new_family());
        primary.state = KeyState::Enabled;
        primary.current_material = version;
        primary.imported.push(ImportedMaterial {
            version,
            digest: digest.to_vec(),
            description: Some("first".into()),
            expiration_model: Some(ExpirationModelType::KeyMaterialExpires),
            valid_to_ms: Some(1_000),
            import_state: ImportState::Imported,
            state: KeyMaterialState::Current,
            rotation: None,
        });
        primary
    }

    fn replica_of(primary: &KeyRecord) -> KeyRecord {
        let family = primary.multi_region.as_ref().map(|mr| mr.family).unwrap();
        KeyRecord {
            state: KeyState::Enabled,
            imported: primary.imported.clone(),
            ..key("eu-west-1", family)
        }
    }

    #[test]
    fn a_new_replica_holds_no_material_and_awaits_import() {
        let primary = primary_with(&[0xaa; 32], 3);
        let replica = new_replica(replica_of(&primary), &primary);
        assert_eq!(replica.state, KeyState::PendingImport);
        assert_eq!(replica.current_material, 3);
        let m = &replica.imported[0];
        assert_eq!(m.digest, vec![0xaa; 32]);
        assert_eq!(m.import_state, ImportState::PendingImport);
        assert_eq!(m.state, KeyMaterialState::Current);
        assert!(m.expiration_model.is_none() && m.valid_to_ms.is_none());
        assert!(m.description.is_none());
        assert!(is_external_replica(&replica));
        assert!(!is_external_replica(&primary));
    }

    #[test]
    fn a_replica_of_a_primary_without_material_knows_none() {
        let primary = key("us-east-1", crate::ids::new_family());
        let replica = new_replica(replica_of(&primary), &primary);
        assert!(replica.imported.is_empty());
        assert_eq!(replica.state, KeyState::PendingImport);
        // Only the primary's material, once it has one.
        assert!(matches!(
            check_replica_import(&replica, &[0xaa; 32]),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
    }

    #[test]
    fn seeding_keeps_what_the_replica_has_imported() {
        let primary = primary_with(&[0xaa; 32], 1);
        let mut replica = new_replica(replica_of(&primary), &primary);
        replica.imported[0].import_state = ImportState::Imported;
        replica.state = KeyState::Enabled;
        let again = seed(&replica, &primary);
        assert_eq!(again, replica);
    }

    #[test]
    fn a_replica_takes_only_its_primarys_material() {
        let primary = primary_with(&[0xaa; 32], 1);
        let replica = new_replica(replica_of(&primary), &primary);
        assert!(check_replica_import(&replica, &[0xaa; 32]).is_ok());
        assert!(matches!(
            check_replica_import(&replica, &[0xbb; 32]),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
    }

    #[test]
    fn new_key_material_is_refused_once_a_multi_region_key_has_material() {
        let primary = primary_with(&[0xaa; 32], 1);
        let new = ImportType::NewKeyMaterial;
        assert!(matches!(
            refuse_new_material(&primary, Some(&new)),
            Err(KmsError::Unsupported(_))
        ));
        assert!(refuse_new_material(&primary, None).is_ok());
        let empty = key("us-east-1", crate::ids::new_family());
        assert!(refuse_new_material(&empty, Some(&new)).is_ok());
    }
}
