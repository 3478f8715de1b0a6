//! Multi-Region keys: ReplicateKey and the family's related keys.
//!
//! A family F (a version-8 UUID) shows the KeyId `mrk-F` in every Region;
//! its key in a Region is stored under [`crate::ids::related_key_id`]. Each
//! related key holds its own copy of every material version, sealed under
//! its own id; ciphertexts carry F, so they open in any Region holding a
//! related key.

use super::*;

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

    /// The KeyId a key id is shown as: `mrk-…` for a multi-Region key's
    /// internal id, the UUID otherwise.
    pub fn shown_key_id(&self, id: Uuid) -> String {
        match self.keys.pin().get(&id) {
            Some(key) => key.record.key_id(),
            None => id.to_string(),
        }
    }

    /// The ARN of a cached key, if the key is cached.
    pub fn cached_key_arn(&self, id: Uuid) -> Option<String> {
        self.keys.pin().get(&id).map(|key| key.record.arn.clone())
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
        // Every version of the primary's material, sealed for the replica.
        let mut rows = Vec::new();
        for row in self.store.key_materials(record.id).await? {
            let bytes = self
                .root
                .unseal(&material_aad(&record.id, row.version), &row.sealed)?;
            rows.push(SealedMaterialRow {
                version: row.version,
                sealed: self.root.seal(&material_aad(&id, row.version), &bytes)?,
            });
        }
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
        match self
            .store
            .insert_replica(&replica, &rows, self.config.max_keys as u64)
            .await
        {
            Err(StoreError::Conflict(_)) => {
                return Err(KmsError::AlreadyExists(format!(
                    "{} already exists",
                    replica.arn
                )));
            }
            other => other?,
        }
        let cached = self.build_cached(replica.clone(), rows, Vec::new())?;
        self.keys.pin().insert(id, Arc::new(cached));
        Ok(replica)
    }
}
