//! Imported key material in multi-Region keys, without I/O.
//!
//! AWS does not copy imported material from a primary key to its
//! replicas: the same material is imported into each related key, each
//! with its own expiry. A replica therefore starts PendingImport, knowing
//! which materials its primary has (their KeyMaterialIds, keyed by the
//! family so they are the same in every Region) but holding none, and
//! takes only those: different material is IncorrectKeyMaterial.
//!
//! On-demand rotation goes the same way: new material is imported into
//! the primary (pending rotation, numbered after every version the family
//! holds), then into each replica, and RotateKeyOnDemand on the primary
//! then rotates every key of the family in one transaction.

use super::import::RelatedChange;
use super::materials;
use super::*;
use crate::model::ImportedMaterial;
use trent_wire::{ImportState, KeyMaterialState};

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
    if materials::awaits_import(&record)
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

/// Whether `key`'s imported materials go with its related keys' (a
/// multi-Region key with Origin EXTERNAL): its imports, rotations and
/// deletions are decided with theirs as the store has them.
pub(super) fn has_family_materials(key: &KeyRecord) -> bool {
    key.origin == OriginType::External && key.multi_region.is_some()
}

/// The primary among `related`, if `key` is a replica.
pub(super) fn primary_of<'a>(key: &KeyRecord, related: &'a [KeyRecord]) -> Option<&'a KeyRecord> {
    match key.multi_region.is_some() && !key.is_primary() {
        true => related.iter().find(|k| k.is_primary()),
        false => None,
    }
}

/// The highest material version any of `related` holds: a primary's new
/// material takes a version after it, so that a version names one
/// material in the whole family.
pub(super) fn versions_taken(related: &[KeyRecord]) -> u32 {
    related
        .iter()
        .flat_map(|k| k.imported.iter().map(|m| m.version))
        .max()
        .unwrap_or(0)
}

/// Whether `key` holds `material` imported (the same bytes under its
/// version).
fn holds(key: &KeyRecord, material: &ImportedMaterial) -> bool {
    key.import_of(material.version).is_some_and(|m| {
        m.is_imported() && trent_crypto::constant_time_eq(&m.digest, &material.digest)
    })
}

/// `key`'s materials as ListKeyRotations shows them: a replica's with the
/// materials of its primary it has not imported (PENDING_IMPORT), and a
/// material pending rotation that this key or a related key has not
/// imported yet PENDING_MULTI_REGION_IMPORT_AND_ROTATION (AWS: new material
/// is imported into the primary, then into each replica, before the
/// primary rotates).
pub(super) fn shown(key: &KeyRecord, related: &[KeyRecord]) -> KeyRecord {
    let mut record = match primary_of(key, related) {
        Some(primary) => seed(key, primary),
        None => key.clone(),
    };
    for m in &mut record.imported {
        let everywhere = m.is_imported() && related.iter().all(|k| holds(k, m));
        if m.state == KeyMaterialState::PendingRotation && !everywhere {
            m.state = KeyMaterialState::PendingMultiRegionImportAndRotation;
        }
    }
    record
}

/// RotateKeyOnDemand of a multi-Region primary with imported material:
/// the primary rotated as `materials::rotate` rotates a key, and each
/// related key with it, once every one of them has imported the material
/// pending rotation (`KMSInvalidStateException` before).
pub(super) fn rotate(
    primary: &KeyRecord,
    related: &[KeyRecord],
    now: i64,
) -> Result<(KeyRecord, Vec<RelatedChange>), KmsError> {
    let record = materials::rotate(primary, now)?;
    let Some(pending) = primary.import_of(record.current_material) else {
        return Err(KmsError::internal(StoreError::Corrupt(
            "rotated material lost".into(),
        )));
    };
    let mut changes = Vec::with_capacity(related.len());
    for replica in related {
        let seeded = seed(replica, primary);
        if !holds(&seeded, pending) {
            return Err(KmsError::InvalidState(format!(
                "Key material {} of {} is in PENDING_MULTI_REGION_IMPORT_AND_ROTATION state: import it into the replica key {} (ImportType EXISTING_KEY_MATERIAL) before rotating the primary key.",
                materials::id_of(pending),
                primary.arn,
                replica.arn
            )));
        }
        changes.push(RelatedChange {
            record: materials::rotate_to(&seeded, pending.version, now),
            previous: replica.clone(),
            destroy: Vec::new(),
        });
    }
    Ok((record, changes))
}

/// What a primary losing material `version` pending rotation (deleted or
/// expired) makes of its related keys: each loses it too (AWS: deleting
/// such material of a primary key deletes it from its replica keys), its
/// sealed copy destroyed. Nothing for a replica, or for material a key
/// holds for good.
pub(super) fn remove_pending(
    key: &KeyRecord,
    version: u32,
    related: &[KeyRecord],
) -> Vec<RelatedChange> {
    let pending = key.import_of(version).is_some_and(|m| !m.is_permanent());
    if !key.is_primary() || !pending {
        return Vec::new();
    }
    related
        .iter()
        .filter_map(|replica| {
            let m = replica.import_of(version).filter(|m| !m.is_permanent())?;
            Some(RelatedChange {
                destroy: m.is_imported().then_some(version).into_iter().collect(),
                record: materials::remove(replica, version),
                previous: replica.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MultiRegion;
    use trent_wire::ExpirationModelType;

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
        replica_in(primary, "eu-west-1")
    }

    fn replica_in(primary: &KeyRecord, region: &str) -> KeyRecord {
        let family = primary.multi_region.as_ref().map(|mr| mr.family).unwrap();
        KeyRecord {
            state: KeyState::Enabled,
            imported: primary.imported.clone(),
            ..key(region, family)
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
        let related = [primary.clone()];
        assert_eq!(primary_of(&replica, &related), Some(&primary));
        assert_eq!(primary_of(&primary, &[replica]), None);
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

    /// `primary` with material B imported pending rotation (as numbered
    /// after `taken`), and `replicas` as the store has them.
    fn staged(primary: &KeyRecord, taken: u32) -> KeyRecord {
        let request = materials::ImportRequest {
            import_type: Some(trent_wire::ImportType::NewKeyMaterial),
            key_material_id: None,
            description: None,
            digest: &[0xbb; 32],
            expiration_model: ExpirationModelType::KeyMaterialDoesNotExpire,
            valid_to_ms: None,
            versions_taken: taken,
        };
        materials::import(primary, &request).unwrap().record
    }

    /// `replica` with `version` of its primary imported.
    fn imported_into(replica: &KeyRecord, primary: &KeyRecord, version: u32) -> KeyRecord {
        let mut done = seed(replica, primary);
        for m in &mut done.imported {
            if m.version == version {
                m.import_state = ImportState::Imported;
            }
        }
        done
    }

    fn state_of(key: &KeyRecord, version: u32) -> KeyMaterialState {
        key.import_of(version).unwrap().state.clone()
    }

    #[test]
    fn new_material_is_numbered_after_every_version_of_the_family() {
        let primary = primary_with(&[0xaa; 32], 1);
        let mut replica = imported_into(&replica_of(&primary), &primary, 1);
        replica.imported[0].version = 4;
        assert_eq!(versions_taken(&[replica]), 4);
        assert_eq!(versions_taken(&[]), 0);
        assert!(staged(&primary, 4).import_of(5).is_some());
        assert!(staged(&primary, 0).import_of(2).is_some());
    }

    #[test]
    fn pending_material_waits_for_every_replica() {
        let primary = staged(&primary_with(&[0xaa; 32], 1), 1);
        let replica = |region| {
            let new = new_replica(replica_in(&primary, region), &primary);
            imported_into(&new, &primary, 1)
        };
        let (east, west) = (replica("eu-west-1"), replica("us-west-2"));
        let pending_everywhere = KeyMaterialState::PendingMultiRegionImportAndRotation;
        // Shown so in every Region until each replica has imported it.
        let family = [east.clone(), west.clone()];
        assert_eq!(state_of(&shown(&primary, &family), 2), pending_everywhere);
        let east_shown = shown(&east, &[primary.clone(), west.clone()]);
        assert_eq!(state_of(&east_shown, 2), pending_everywhere);
        assert_eq!(
            east_shown.import_of(2).unwrap().import_state,
            ImportState::PendingImport
        );
        assert_eq!(state_of(&east_shown, 1), KeyMaterialState::Current);
        // Rotation refused, naming the replica that lacks it.
        let east = imported_into(&east, &primary, 2);
        let refused = rotate(&primary, &[east.clone(), west.clone()], 9);
        assert!(
            matches!(&refused, Err(KmsError::InvalidState(m)) if m.contains(&west.arn) && !m.contains(&east.arn))
        );
        // Once every replica has it: PENDING_ROTATION, and the family rotates.
        let west = imported_into(&west, &primary, 2);
        let family = [east.clone(), west.clone()];
        assert_eq!(
            state_of(&shown(&primary, &family), 2),
            KeyMaterialState::PendingRotation
        );
        let (rotated, related) = rotate(&primary, &family, 9).unwrap();
        assert_eq!(rotated.current_material, 2);
        assert_eq!(related.len(), 2);
        for (change, before) in related.iter().zip(&family) {
            assert_eq!(&change.previous, before);
            assert!(change.destroy.is_empty());
            assert_eq!(change.record.current_material, 2);
            assert_eq!(state_of(&change.record, 1), KeyMaterialState::NonCurrent);
            assert_eq!(state_of(&change.record, 2), KeyMaterialState::Current);
        }
        // A primary without replicas rotates alone.
        assert!(rotate(&primary, &[], 9).unwrap().1.is_empty());
        // A replica holding other material pending rotation (staged while
        // it was the primary) rotates to its primary's.
        let mut stale = west.clone();
        stale.imported.insert(
            0,
            ImportedMaterial {
                version: 0,
                digest: vec![0xcc; 32],
                ..west.import_of(2).unwrap().clone()
            },
        );
        let (_, related) = rotate(&primary, &[east, stale], 9).unwrap();
        assert_eq!(related[1].record.current_material, 2);
        assert_eq!(
            state_of(&related[1].record, 0),
            KeyMaterialState::PendingRotation
        );
    }

    #[test]
    fn a_primary_losing_pending_material_takes_it_from_its_replicas() {
        let primary = staged(&primary_with(&[0xaa; 32], 1), 1);
        let holding = imported_into(&new_replica(replica_of(&primary), &primary), &primary, 2);
        let lacking = replica_in(&primary_with(&[0xaa; 32], 1), "us-west-2");
        let changes = remove_pending(&primary, 2, &[holding.clone(), lacking.clone()]);
        assert_eq!(changes.len(), 1, "only a replica that has it");
        assert_eq!(changes[0].previous, holding);
        assert_eq!(changes[0].destroy, [2]);
        assert!(changes[0].record.import_of(2).is_none());
        assert!(changes[0].record.import_of(1).is_some());
        // Material for good, or a replica's loss: nothing elsewhere.
        assert!(remove_pending(&primary, 1, std::slice::from_ref(&holding)).is_empty());
        assert!(remove_pending(&holding, 2, &[primary]).is_empty());
    }
}
