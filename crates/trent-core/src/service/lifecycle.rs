//! Rotation and deletion: on demand, and when due by the lifecycle clock
//! (the server's scheduler calls [`Kms::run_due_work`]). What is due lives
//! in the store, so a restart loses nothing.

use super::import::MaterialChange;
use super::mrk_import;
use super::*;
use crate::model::{DueWork, ImportedMaterial, RotationRecord};

impl Kms {
    /// Adds a material version to a key (its stripe lock held): new
    /// ciphertexts use it, every older version still decrypts. `false`:
    /// another node stored that version first (its rotation stands; this
    /// node's copy of the key is forgotten, to be read again).
    async fn rotate_locked(&self, id: Uuid, on_demand: bool) -> Result<bool, KmsError> {
        let current = self.key_locked(id).await?;
        // Asymmetric and HMAC keys never get here (rotation is refused for
        // them); checked again so their material can't be replaced.
        require_rotatable(&current.record)?;
        require_rotates_here(&current.record)?;
        let version = current.record.current_material + 1;
        let bytes = SymmetricKey::generate_bytes()?;
        let symmetric = AesKey::from_bytes(bytes.as_ref())?;
        let now = self.now();
        let mut record = current.record.clone();
        record.current_material = version;
        if !on_demand {
            let period = record.rotation_period_days.unwrap_or(365);
            record.next_rotation_ms = Some(now + i64::from(period) * DAY_MS);
        }
        let rotation_of = |key_id: Uuid| RotationRecord {
            key_id,
            version,
            rotated_ms: now,
            on_demand,
        };
        let sealed_for = |key_id: &Uuid| -> Result<SealedMaterialRow, KmsError> {
            Ok(SealedMaterialRow {
                version,
                sealed: self
                    .root
                    .seal(&material_aad(key_id, version), bytes.as_ref())?,
            })
        };
        // A multi-Region primary's new version goes to every related key in
        // the same transaction: no replica lacks a version the primary
        // encrypts with.
        let replicas: Vec<KeyRecord> = match &record.multi_region {
            Some(mr) => self
                .store
                .related_keys(&record.account, mr.family)
                .await?
                .into_iter()
                .filter(|k| k.id != id)
                .collect(),
            None => Vec::new(),
        };
        // A multi-Region primary rotates as a family even alone: the store
        // then refuses it if a replica appeared since `related_keys`.
        let stored = if record.multi_region.is_none() {
            let sealed = sealed_for(&id)?;
            self.store
                .rotate_key(&record, &sealed, &rotation_of(id))
                .await
        } else {
            let mut rotations = vec![(record.clone(), sealed_for(&id)?, rotation_of(id))];
            for mut replica in replicas.iter().cloned() {
                let sealed = sealed_for(&replica.id)?;
                let rotation = rotation_of(replica.id);
                replica.current_material = version;
                rotations.push((replica, sealed, rotation));
            }
            self.store.rotate_family(&rotations).await
        };
        drop(bytes);
        match stored {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                self.keys.pin().remove(&id);
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        // The replicas are read again (with the new version) when next used.
        for replica in &replicas {
            self.keys.pin().remove(&replica.id);
        }
        let updated = CachedKey {
            record,
            materials: Arc::new(current.materials.with(symmetric)),
            policy: current.policy.clone(),
            grants: current.grants.clone(),
            material_ids: Default::default(),
        };
        self.keys.pin().insert(id, Arc::new(updated));
        Ok(true)
    }

    /// RotateKeyOnDemand: at most `max_on_demand_rotations` per key.
    pub async fn rotate_key_on_demand(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<String, KmsError> {
        let resolved = self.resolve(caller, key_id, AliasMode::Refuse)?;
        let id = resolved.id;
        let _guard = self.key_lock(&id).lock().await;
        let key = match self.key_locked(id).await {
            Err(KmsError::NotFound(_)) => return Err(resolved.not_found(caller)),
            other => other?,
        };
        visible(caller, &key.record, &resolved)?;
        self.authorize(
            caller,
            Action::RotateKeyOnDemand,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        // AWS's order: the key's state before its type (a disabled HMAC
        // key is DisabledException, not UnsupportedOperationException).
        require_enabled(&key.record)?;
        if is_imported_symmetric(&key.record) {
            require_rotates_here(&key.record)?;
            return self.rotate_imported_locked(caller, id, key).await;
        }
        require_rotatable(&key.record)?;
        require_rotates_here(&key.record)?;
        let done = self
            .store
            .list_rotations(id)
            .await?
            .iter()
            .filter(|r| r.on_demand)
            .count();
        self.within_on_demand_rotations(&key.record, done)?;
        // Another node's rotation in between: this one follows it.
        if !self.rotate_locked(id, true).await? && !self.rotate_locked(id, true).await? {
            return Err(KmsError::internal(StoreError::Conflict(format!(
                "{} was rotated by other nodes twice while this rotation was made",
                key.record.arn
            ))));
        }
        Ok(key.record.arn.clone())
    }

    /// `LimitExceededException` once a key had `done` on-demand rotations
    /// of the most it may have.
    fn within_on_demand_rotations(&self, key: &KeyRecord, done: usize) -> Result<(), KmsError> {
        if done >= self.config.max_on_demand_rotations {
            return Err(KmsError::LimitExceeded(format!(
                "{} has reached the limit of {} on-demand rotations",
                key.arn, self.config.max_on_demand_rotations
            )));
        }
        Ok(())
    }

    /// RotateKeyOnDemand of a symmetric key with imported material (its
    /// stripe lock held): the material imported pending rotation becomes
    /// current, the current one non-current, in one transaction.
    async fn rotate_imported_locked(
        &self,
        caller: &Caller,
        id: Uuid,
        key: Arc<CachedKey>,
    ) -> Result<String, KmsError> {
        let arn = key.record.arn.clone();
        let now = self.now();
        self.change_imported_locked(id, key, |key, related| {
            // Decided again on a key another node changed: allowed again.
            self.authorize(
                caller,
                Action::RotateKeyOnDemand,
                key,
                &RequestFacts::default(),
                None,
            )?;
            require_enabled(&key.record)?;
            self.within_on_demand_rotations(
                &key.record,
                materials::on_demand_rotations(&key.record),
            )?;
            // A multi-Region primary rotates with its replicas.
            let (record, related) = mrk_import::rotate(&key.record, related, now)?;
            let named = material_id(&record, record.current_material);
            Ok(Some(MaterialChange {
                related,
                ..MaterialChange::of_key(record, named)
            }))
        })
        .await?;
        Ok(arn)
    }

    /// ListKeyRotations: the completed rotations of a key, oldest first;
    /// with `include_all` (IncludeKeyMaterial ALL_KEY_MATERIAL) the first
    /// key material before them and (imported material) any pending
    /// rotation after them.
    pub async fn list_key_rotations(
        &self,
        caller: &Caller,
        key_id: &str,
        include_all: bool,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<(KeyRecord, Page<ListedMaterial>), KmsError> {
        let (key, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        self.authorize(
            caller,
            Action::ListKeyRotations,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        // A multi-Region key's materials as its related keys make them.
        let related = self.material_family(&key.record).await?;
        let shown = mrk_import::shown(&key.record, &related);
        let record = &shown;
        let listed: Vec<ListedMaterial> = if is_imported_symmetric(record) {
            // Each imported material, with its states: ROTATIONS_ONLY those
            // a rotation made current.
            record
                .imported
                .iter()
                .filter(|m| include_all || m.rotation.is_some())
                .map(|m| ListedMaterial {
                    version: m.version,
                    rotation: m.rotation.as_ref().map(|(at, kind)| RotationRecord {
                        key_id: record.id,
                        version: m.version,
                        rotated_ms: *at,
                        on_demand: *kind == trent_wire::RotationType::OnDemand,
                    }),
                    imported: Some(m.clone()),
                })
                .collect()
        } else {
            require_rotatable(record)?;
            let first = include_all.then_some(ListedMaterial {
                version: 1,
                rotation: None,
                imported: None,
            });
            let rotations = self.store.list_rotations(record.id).await?;
            first
                .into_iter()
                .chain(rotations.into_iter().map(|r| ListedMaterial {
                    version: r.version,
                    rotation: Some(r),
                    imported: None,
                }))
                .collect()
        };
        let page = self.paginate(
            &format!("ListKeyRotations/{}/{include_all}", record.id),
            &listed,
            limit,
            marker,
        )?;
        Ok((shown, page))
    }

    /// Runs every rotation, deletion and expiry of imported material that
    /// is due; returns what was done, with the key as it was, for the audit
    /// trail.
    pub async fn run_due_work(&self) -> Result<Vec<(DueWork, KeyRecord)>, KmsError> {
        let due = self.store.due_work(self.now()).await?;
        let mut done = Vec::new();
        for work in due {
            let result = match work {
                DueWork::Rotate(id) => self.rotate_if_due(id).await,
                DueWork::Delete(id) => self.delete_if_due(id).await,
                DueWork::Expire(id) => self.expire_if_due(id).await,
            };
            match result {
                Ok(Some(key)) => done.push((work, key)),
                Ok(None) => {}
                Err(e) => tracing::error!(?work, error = %e, "scheduled lifecycle work failed"),
            }
        }
        Ok(done)
    }

    async fn rotate_if_due(&self, id: Uuid) -> Result<Option<KeyRecord>, KmsError> {
        let _guard = self.key_lock(&id).lock().await;
        let key = self.key_locked(id).await?;
        let record = &key.record;
        let due = record.state == KeyState::Enabled
            && record.rotation_enabled
            && record.next_rotation_ms.is_some_and(|t| t <= self.now());
        if !due {
            return Ok(None);
        }
        if !self.rotate_locked(id, false).await? {
            // Another node rotated it first, and records it.
            return Ok(None);
        }
        tracing::info!(key = %record.arn, "automatic rotation done");
        Ok(Some(record.clone()))
    }

    /// Deletes a key whose waiting period is over: material destroyed,
    /// aliases and grants gone, DescribeKey answers NotFoundException.
    async fn delete_if_due(&self, id: Uuid) -> Result<Option<KeyRecord>, KmsError> {
        // Alias lock before key lock, the order alias operations take them in.
        let _aliases = self.alias_lock.lock().await;
        let _guard = self.key_lock(&id).lock().await;
        let Some(record) = self.store.get_key(id).await? else {
            // Deleted by another node since this one found it due.
            self.keys.pin().remove(&id);
            return Ok(None);
        };
        // A multi-Region primary whose replicas are all gone starts its
        // waiting period now.
        if record.state == KeyState::PendingReplicaDeletion {
            self.release_primary(&record).await?;
            return Ok(None);
        }
        let due = record.state == KeyState::PendingDeletion
            && record.deletion_date_ms.is_some_and(|t| t <= self.now());
        if !due {
            return Ok(None);
        }
        if !self.store.delete_key(id).await? {
            // Another node deleted it first (and records it).
            self.keys.pin().remove(&id);
            return Ok(None);
        }
        if let Some(usage) = self.usage.get() {
            usage.forget(id);
        }
        self.keys.pin().remove(&id);
        {
            let aliases = self.aliases.pin();
            let gone: Vec<AliasKey> = aliases
                .iter()
                .filter(|(_, alias)| alias.target == id)
                .map(|(key, _)| key.clone())
                .collect();
            for key in gone {
                aliases.remove(&key);
            }
        }
        tracing::info!(key = %record.arn, "scheduled key deletion done");
        if record.multi_region.is_some() && !record.is_primary() {
            self.after_replica_deleted(&record).await?;
        }
        Ok(Some(record))
    }
}

/// A key material ListKeyRotations lists: a rotation's, or (no rotation)
/// the first or one pending rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMaterial {
    pub version: u32,
    pub rotation: Option<RotationRecord>,
    /// An imported material's id, description, expiry and states.
    pub imported: Option<ImportedMaterial>,
}

/// Whether a key is a symmetric encryption key with imported material: it
/// rotates on demand only, by material imported pending rotation.
fn is_imported_symmetric(key: &KeyRecord) -> bool {
    key.origin == OriginType::External && key.key_spec == KeySpec::SymmetricDefault
}

/// Only symmetric keys with material from KMS rotate automatically, or by
/// a new version KMS makes (as in AWS, where asymmetric and HMAC keys never
/// rotate, and a symmetric key with imported material rotates on demand
/// only, to material imported for it: [`is_imported_symmetric`]).
pub(super) fn require_rotatable(key: &KeyRecord) -> Result<(), KmsError> {
    if key.key_spec != KeySpec::SymmetricDefault || key.origin != OriginType::AwsKms {
        return Err(KmsError::Unsupported(format!(
            "{} does not support automatic or on-demand rotation",
            key.arn
        )));
    }
    Ok(())
}

/// A multi-Region key rotates as a family, from its primary (a new version
/// written to every related key in one transaction): a replica refuses
/// rotation settings and on-demand rotation, as AWS does.
pub(super) fn require_rotates_here(key: &KeyRecord) -> Result<(), KmsError> {
    if key.multi_region.is_some() && !key.is_primary() {
        return Err(KmsError::Unsupported(format!(
            "{} is a multi-Region replica key; rotation is managed on its primary key",
            key.arn
        )));
    }
    Ok(())
}
