//! Multi-Region keys: ReplicateKey and the family's related keys.
//!
//! A family F (a version-8 UUID) shows the KeyId `mrk-F` in every Region;
//! its key in a Region is stored under [`crate::ids::related_key_id`]. Each
//! related key holds its own copy of every material version, sealed under
//! its own id; ciphertexts carry F, so they open in any Region holding a
//! related key. Imported material (Origin EXTERNAL) is the exception: it
//! is imported into each related key (`mrk_import.rs`).

use super::*;
use std::collections::HashMap;

/// Parameters of ReplicateKey, already validated against the model.
#[derive(Debug, Default)]
pub struct ReplicateKey {
    pub replica_region: String,
    pub policy: Option<String>,
    pub bypass_policy_lockout_safety_check: bool,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
}

impl Kms {
    /// The keys of `key`'s family in its account (every Region, by Region);
    /// none for a single-Region key.
    pub async fn related_keys(&self, key: &KeyRecord) -> Result<Vec<KeyRecord>, KmsError> {
        match &key.multi_region {
            Some(mr) => Ok(self.store.related_keys(&key.account, mr.family).await?),
            None => Ok(Vec::new()),
        }
    }

    /// What listings show of keys named by internal id: (KeyId, key ARN),
    /// `mrk-…` for a multi-Region key. From the key cache, else the
    /// store's record; a key gone from both is left out.
    pub(super) async fn shown_keys(
        &self,
        ids: Vec<Uuid>,
    ) -> Result<HashMap<Uuid, (String, String)>, KmsError> {
        let mut shown = HashMap::new();
        for id in ids {
            if shown.contains_key(&id) {
                continue;
            }
            let cached = self.keys.pin().get(&id).map(|key| key.record.clone());
            let record = match cached {
                Some(record) => Some(record),
                None => self.store.get_key(id).await?,
            };
            if let Some(record) = record {
                shown.insert(id, (record.key_id(), record.arn));
            }
        }
        Ok(shown)
    }

    /// ReplicateKey: a replica of the primary key `key_id` in
    /// `params.replica_region`, with every material version of the primary,
    /// inserted in one store transaction. `regions`: the Regions this server
    /// serves (empty: any). Answers the replica.
    pub async fn replicate_key(
        &self,
        caller: &Caller,
        key_id: &str,
        params: ReplicateKey,
        regions: &[String],
    ) -> Result<KeyRecord, KmsError> {
        let (primary, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        let facts = RequestFacts {
            replica_region: Some(&params.replica_region),
            request_tags: Some(&params.tags),
            multi_region: Some(true),
            ..Default::default()
        };
        self.authorize(caller, Action::ReplicateKey, &primary, &facts, None)?;
        let record = &primary.record;
        let Some(mr) = record.multi_region.clone() else {
            return Err(KmsError::Unsupported(format!(
                "{} is not a multi-Region key",
                record.arn
            )));
        };
        if !record.is_primary() {
            return Err(KmsError::Unsupported(format!(
                "{} is not a multi-Region primary key",
                record.arn
            )));
        }
        let region = params.replica_region.clone();
        if region == record.region {
            return Err(KmsError::Unsupported(format!(
                "The replica Region {region} is the Region of the primary key"
            )));
        }
        if !regions.is_empty() && !regions.contains(&region) {
            return Err(KmsError::Unsupported(format!(
                "The Region {region} is not served by this server"
            )));
        }
        require_enabled(record)?;
        // What the replica Region's IAM policies must allow.
        let mut in_replica = caller.clone();
        in_replica.region = region.clone();
        self.authorize_account(&in_replica, Action::CreateKey, &facts)?;
        if !params.tags.is_empty() {
            self.authorize_account(&in_replica, Action::TagResource, &facts)?;
        }
        let id = crate::ids::related_key_id(&mr.family, &region);
        let arn = crate::ids::mrk_key_arn(&region, &record.account, &mr.family);
        let policy_text = params
            .policy
            .unwrap_or_else(|| policy::default_key_policy(&record.account));
        policy::check_size(&policy_text)?;
        compile_policy(&policy_text)?;
        let (policy_text, compiled) = self.compiled_policy(&Arc::from(policy_text))?;
        if !params.bypass_policy_lockout_safety_check {
            self.check_lockout(&in_replica, &compiled, &arn)?;
        }
        let tags = merge_tags(Vec::new(), params.tags, self.config.max_tags_per_key)?;
        let replica = KeyRecord {
            id,
            account: record.account.clone(),
            region: region.clone(),
            arn,
            created_ms: self.now(),
            description: params.description.unwrap_or_default(),
            state: KeyState::Enabled,
            deletion_date_ms: None,
            pending_window_days: None,
            policy: policy_text,
            tags,
            // Rotation is the primary's: a replica has no schedule of its own.
            next_rotation_ms: None,
            multi_region: Some(MultiRegion {
                family: mr.family,
                primary_region: record.region.clone(),
            }),
            ..record.clone()
        };
        // Imported material is not copied: the replica awaits its own
        // import of the same material (`mrk_import.rs`).
        let external = record.origin == OriginType::External;
        let replica = match external {
            true => super::mrk_import::new_replica(replica, record),
            false => replica,
        };
        // Every version of the primary's material, sealed for the replica,
        // inserted with it. The store refuses the copy if the primary was
        // rotated since it was read: read again.
        let mut attempts = 0;
        let (replica, rows) = loop {
            let rows = match external {
                true => Vec::new(),
                false => self.copy_materials(record.id, id).await?,
            };
            // Copied as stored: the replica encrypts with the newest version.
            let replica = KeyRecord {
                current_material: rows.last().map_or(replica.current_material, |r| r.version),
                ..replica.clone()
            };
            match self
                .store
                .insert_replica(&replica, record.id, &rows, self.config.max_keys as u64)
                .await
            {
                Ok(()) => break (replica, rows),
                Err(StoreError::Conflict(_)) if self.store.get_key(id).await?.is_some() => {
                    return Err(KmsError::AlreadyExists(format!(
                        "{} already exists",
                        replica.arn
                    )));
                }
                Err(StoreError::Conflict(_)) if attempts < MAX_UPDATE_CONFLICTS => attempts += 1,
                // The primary Region moved meanwhile (or rotations kept
                // coming): this node's copy of the primary is stale.
                Err(StoreError::Conflict(_)) => {
                    self.keys.pin().remove(&record.id);
                    return Err(KmsError::InvalidState(format!(
                        "{} changed while it was replicated; try again",
                        record.arn
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let cached = self.build_cached(replica.clone(), rows, Vec::new())?;
        self.keys.pin().insert(id, Arc::new(cached));
        Ok(replica)
    }

    /// Whether `key_id` names a multi-Region primary that has replicas
    /// (false for anything else, also a key not found: the caller's
    /// operation reports that).
    pub(super) async fn has_replicas(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<bool, KmsError> {
        let key = match self.target(caller, key_id, AliasMode::Refuse).await {
            Ok((key, _)) => key,
            Err(_) => return Ok(false),
        };
        if !key.record.is_primary() {
            return Ok(false);
        }
        let related = self.related_keys(&key.record).await?;
        Ok(related.iter().any(|k| k.id != key.record.id))
    }

    /// After a replica's deletion: its family's primary, if it waits in
    /// PendingReplicaDeletion and this was its last replica, starts its
    /// own waiting period ([`Self::release_primary`]).
    pub(super) async fn after_replica_deleted(&self, replica: &KeyRecord) -> Result<(), KmsError> {
        let related = self.related_keys(replica).await?;
        match related.iter().find(|k| k.is_primary()) {
            Some(primary) => self.release_primary(primary).await,
            None => Ok(()),
        }
    }

    /// A primary in PendingReplicaDeletion that has no replica left goes
    /// to PendingDeletion, its window from now. A compare-and-set on its
    /// row: a concurrent change to it wins, and is left as is. Called when
    /// a replica is deleted, and by the scheduler (`due_work` lists such a
    /// primary), so a node stopping in between leaves no primary waiting.
    pub(super) async fn release_primary(&self, primary: &KeyRecord) -> Result<(), KmsError> {
        if primary.state != KeyState::PendingReplicaDeletion || !primary.is_primary() {
            return Ok(());
        }
        let related = self.related_keys(primary).await?;
        if related.iter().any(|k| k.id != primary.id) {
            return Ok(());
        }
        let mut next = primary.clone();
        next.state = KeyState::PendingDeletion;
        let days = primary.pending_window_days.unwrap_or(30);
        next.deletion_date_ms = Some(self.now() + i64::from(days) * DAY_MS);
        match self.store.update_key(&next, primary).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.keys.pin().remove(&primary.id);
        tracing::info!(key = %primary.arn, "last replica deleted: primary pending deletion");
        Ok(())
    }

    /// Every material version of `from`, unsealed and sealed for `to`.
    async fn copy_materials(
        &self,
        from: Uuid,
        to: Uuid,
    ) -> Result<Vec<SealedMaterialRow>, KmsError> {
        let mut rows = Vec::new();
        for row in self.store.key_materials(from).await? {
            let bytes = self
                .root
                .unseal(&material_aad(&from, row.version), &row.sealed)?;
            rows.push(SealedMaterialRow {
                version: row.version,
                sealed: self.root.seal(&material_aad(&to, row.version), &bytes)?,
            });
        }
        Ok(rows)
    }

    /// UpdatePrimaryRegion: the replica in `region` becomes the family's
    /// primary and the primary `key_id` a replica; the rotation schedule
    /// moves to the new primary. Every related key is rewritten in one
    /// store transaction.
    pub async fn update_primary_region(
        &self,
        caller: &Caller,
        key_id: &str,
        region: &str,
    ) -> Result<(), KmsError> {
        let (primary, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        let facts = RequestFacts {
            primary_region: Some(region),
            ..Default::default()
        };
        self.authorize(caller, Action::UpdatePrimaryRegion, &primary, &facts, None)?;
        let record = &primary.record;
        if record.multi_region.is_none() {
            return Err(KmsError::Unsupported(format!(
                "{} is not a multi-Region key",
                record.arn
            )));
        }
        if !record.is_primary() {
            return Err(KmsError::Unsupported(format!(
                "{} is not a multi-Region primary key",
                record.arn
            )));
        }
        if region == record.region {
            return Err(KmsError::Unsupported(format!(
                "{} is already the primary key in {region}",
                record.arn
            )));
        }
        let related = self.related_keys(record).await?;
        let Some(replica) = related.iter().find(|k| k.region == region) else {
            return Err(KmsError::NotFound(format!(
                "{} has no replica key in {region}",
                record.arn
            )));
        };
        // The replica's key policy must allow it too, in its Region.
        let mut in_replica = caller.clone();
        in_replica.region = region.to_owned();
        let cached_replica = self.key(replica.id).await?;
        self.authorize(
            &in_replica,
            Action::UpdatePrimaryRegion,
            &cached_replica,
            &facts,
            None,
        )?;
        require_enabled(record)?;
        require_enabled(replica)?;
        let old = related
            .iter()
            .find(|k| k.id == record.id)
            .ok_or_else(|| not_found(caller, &record.id))?;
        let mut writes = Vec::with_capacity(related.len());
        for key in &related {
            let mut next = key.clone();
            if let Some(mr) = &mut next.multi_region {
                mr.primary_region = region.to_owned();
            }
            if key.id == replica.id {
                next.rotation_enabled = old.rotation_enabled;
                next.rotation_period_days = old.rotation_period_days;
                next.next_rotation_ms = old.next_rotation_ms;
            } else if key.id == old.id {
                next.next_rotation_ms = None;
            }
            writes.push((next, key.clone()));
        }
        let result = self.store.update_keys(&writes).await;
        // Every related key is read again when next used (this node's
        // copies; other nodes follow the change feed).
        for key in &related {
            self.keys.pin().remove(&key.id);
        }
        match result {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(KmsError::InvalidState(format!(
                "{} changed while its primary Region was updated; try again",
                record.arn
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
