//! Key management: create, describe, list, state changes, rotation settings,
//! key policies and tags.

use super::*;

impl Kms {
    // ----- key management ---------------------------------------------

    pub async fn create_key(
        &self,
        caller: &Caller,
        params: CreateKey,
    ) -> Result<KeyRecord, KmsError> {
        if params.key_spec.is_some() && params.customer_master_key_spec.is_some() {
            return Err(KmsError::Validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec parameter instead.".into(),
            ));
        }
        let facts = RequestFacts {
            request_tags: Some(&params.tags),
            multi_region: Some(params.multi_region),
            ..Default::default()
        };
        self.authorize_account(caller, Action::CreateKey, &facts)?;
        if !params.tags.is_empty() {
            self.authorize_account(caller, Action::TagResource, &facts)?;
        }
        let key_spec = params
            .key_spec
            .or(params.customer_master_key_spec)
            .unwrap_or(KeySpec::SymmetricDefault);
        let key_usage = params.key_usage.unwrap_or(KeyUsageType::EncryptDecrypt);
        let origin = params.origin.unwrap_or(OriginType::AwsKms);
        let kind = spec_kind(&key_spec)?;
        let usage_fits = match kind {
            SpecKind::Symmetric => key_usage == KeyUsageType::EncryptDecrypt,
            SpecKind::Hmac(_) => key_usage == KeyUsageType::GenerateVerifyMac,
            SpecKind::Pair(spec) => pair_usage(&key_usage).is_some_and(|u| spec.allows(u)),
            SpecKind::Kem(_) => key_usage == KeyUsageType::EncapsulateDecapsulate,
        };
        if !usage_fits {
            return Err(KmsError::Validation(format!(
                "KeyUsage {key_usage} is not compatible with KeySpec {key_spec}"
            )));
        }
        let external = origin == OriginType::External;
        if origin != OriginType::AwsKms && !external {
            return Err(KmsError::Unsupported(format!(
                "Origin {origin} is not supported by this server yet"
            )));
        }
        if external && !super::import_rules::takes_imports(kind) {
            return Err(KmsError::Unsupported(format!(
                "KeySpec {key_spec} does not support imported key material"
            )));
        }
        if params.custom_key_store {
            return Err(KmsError::Unsupported(
                "Custom key stores are not supported by this server".into(),
            ));
        }
        // A multi-Region key is its family's primary: stored under the
        // family's id for this Region, shown as `mrk-…`.
        let multi_region = params.multi_region.then(|| MultiRegion {
            family: crate::ids::new_family(),
            primary_region: caller.region.clone(),
        });
        let (id, arn) = match &multi_region {
            Some(mr) => (
                crate::ids::related_key_id(&mr.family, &caller.region),
                crate::ids::mrk_key_arn(&caller.region, caller.account(), &mr.family),
            ),
            None => {
                let id = Uuid::new_v4();
                (id, key_arn(&caller.region, caller.account(), &id))
            }
        };
        let policy_text = params
            .policy
            .unwrap_or_else(|| policy::default_key_policy(caller.account()));
        policy::check_size(&policy_text)?;
        // Compile once to refuse a malformed policy; then share the text and
        // compiled form with every key that has the same policy.
        compile_policy(&policy_text)?;
        let (policy_text, compiled) = self.compiled_policy(&Arc::from(policy_text))?;
        if !params.bypass_policy_lockout_safety_check {
            self.check_lockout(caller, &compiled, &arn)?;
        }
        let tags = merge_tags(Vec::new(), params.tags, self.config.max_tags_per_key)?;

        // Imported material comes later (ImportKeyMaterial).
        let bytes: Zeroizing<Vec<u8>> = match kind {
            _ if external => Zeroizing::new(Vec::new()),
            SpecKind::Symmetric => Zeroizing::new(SymmetricKey::generate_bytes()?.to_vec()),
            SpecKind::Hmac(alg) => alg.generate_bytes()?,
            // RSA generation takes up to a second: keep it off the workers.
            SpecKind::Pair(spec) => tokio::task::spawn_blocking(move || spec.generate_pkcs8())
                .await
                .map_err(KmsError::internal)??,
            SpecKind::Kem(kem) => kem.generate()?,
        };
        let sealed = (!external)
            .then(|| -> Result<_, KmsError> {
                Ok(SealedMaterialRow {
                    version: 1,
                    sealed: self.root.seal(&material_aad(&id, 1), bytes.as_ref())?,
                })
            })
            .transpose()?;
        let record = KeyRecord {
            id,
            account: caller.account().to_owned(),
            region: caller.region.clone(),
            arn,
            created_ms: self.now(),
            description: params.description,
            key_usage,
            key_spec,
            origin,
            state: if external {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            deletion_date_ms: None,
            pending_window_days: None,
            policy: policy_text,
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation_ms: None,
            current_material: 1,
            tags,
            imported: Vec::new(),
            multi_region,
        };
        let materials = match &sealed {
            Some(_) => material_of(&record, &bytes)?,
            None => Materials::Symmetric(Box::new([])),
        };
        drop(bytes);
        // The store counts the account's keys in the Region as it inserts,
        // so the quota holds across every node writing to it.
        let max_keys = self.config.max_keys as u64;
        match &sealed {
            Some(sealed) => self.store.insert_key(&record, sealed, max_keys).await?,
            None => {
                self.store
                    .insert_key_without_material(&record, max_keys)
                    .await?
            }
        }
        let cached = Arc::new(CachedKey {
            record: record.clone(),
            materials: Arc::new(materials),
            policy: compiled,
            grants: Arc::new(Vec::new()),
            material_ids: Default::default(),
        });
        self.keys.pin().insert(id, cached);
        Ok(record)
    }

    pub async fn describe_key(&self, caller: &Caller, key_id: &str) -> Result<KeyRecord, KmsError> {
        let (key, resolved) = self.target(caller, key_id, AliasMode::Accept).await?;
        let facts = RequestFacts {
            request_alias: resolved.alias.as_deref(),
            ..Default::default()
        };
        self.authorize(
            caller,
            Action::DescribeKey,
            &key,
            &facts,
            Some("DescribeKey"),
        )?;
        Ok(key.record.clone())
    }

    pub async fn list_keys(
        &self,
        caller: &Caller,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<(Uuid, String)>, KmsError> {
        self.authorize_account(caller, Action::ListKeys, &RequestFacts::default())?;
        let list = format!("ListKeys/{}/{}", caller.account(), caller.region);
        let after = match marker {
            None => None,
            Some(m) => Some(
                Uuid::try_parse(&self.markers.open(&list, m)?)
                    .map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
            ),
        };
        let mut items = self
            .store
            .list_keys(caller.account(), &caller.region, after, limit + 1)
            .await?;
        let next_marker = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|(id, _)| self.markers.issue(&list, &id.to_string()))
        } else {
            None
        };
        Ok(Page { items, next_marker })
    }

    pub async fn update_key_description(
        &self,
        caller: &Caller,
        key_id: &str,
        description: String,
    ) -> Result<(), KmsError> {
        self.mutate(caller, key_id, Action::UpdateKeyDescription, |key| {
            refuse_pending_deletion(key)?;
            key.description = description.clone();
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn enable_key(&self, caller: &Caller, key_id: &str) -> Result<(), KmsError> {
        self.mutate(caller, key_id, Action::EnableKey, |key| {
            refuse_pending_deletion(key)?;
            refuse_pending_import(key)?;
            key.state = KeyState::Enabled;
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn disable_key(&self, caller: &Caller, key_id: &str) -> Result<(), KmsError> {
        self.mutate(caller, key_id, Action::DisableKey, |key| {
            refuse_pending_deletion(key)?;
            refuse_pending_import(key)?;
            key.state = KeyState::Disabled;
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn schedule_key_deletion(
        &self,
        caller: &Caller,
        key_id: &str,
        pending_window_days: Option<i32>,
    ) -> Result<KeyRecord, KmsError> {
        let days = pending_window_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            let bound = if days < 7 {
                "greater than or equal to 7"
            } else {
                "less than or equal to 30"
            };
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value {bound}"
            )));
        }
        // A multi-Region primary with replicas waits for them to be deleted
        // (PendingReplicaDeletion); its window starts when the last one is.
        let with_replicas = self.has_replicas(caller, key_id).await?;
        self.mutate(caller, key_id, Action::ScheduleKeyDeletion, |key| {
            refuse_pending_deletion(key)?;
            if with_replicas && key.is_primary() {
                key.state = KeyState::PendingReplicaDeletion;
                key.deletion_date_ms = None;
            } else {
                key.state = KeyState::PendingDeletion;
                key.deletion_date_ms = Some(self.now() + i64::from(days) * DAY_MS);
            }
            key.pending_window_days = Some(days);
            Ok(())
        })
        .await
    }

    pub async fn cancel_key_deletion(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<KeyRecord, KmsError> {
        self.mutate(caller, key_id, Action::CancelKeyDeletion, |key| {
            if !matches!(
                key.state,
                KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
            ) {
                return Err(KmsError::InvalidState(format!(
                    "{} is not pending deletion.",
                    key.arn
                )));
            }
            // A key whose imported material is gone (deleted, expired)
            // waits for it again.
            key.state = if materials::awaits_import(key) {
                KeyState::PendingImport
            } else {
                KeyState::Disabled
            };
            key.deletion_date_ms = None;
            key.pending_window_days = None;
            Ok(())
        })
        .await
    }

    // ----- rotation -----------------------------------------------------

    pub async fn enable_key_rotation(
        &self,
        caller: &Caller,
        key_id: &str,
        period_days: Option<i32>,
    ) -> Result<(), KmsError> {
        let period = period_days.unwrap_or(365);
        self.mutate(caller, key_id, Action::EnableKeyRotation, |key| {
            // AWS's order: the key's state before its type.
            require_enabled(key)?;
            lifecycle::require_rotatable(key)?;
            lifecycle::require_rotates_here(key)?;
            key.rotation_enabled = true;
            key.rotation_period_days = Some(period);
            key.next_rotation_ms = Some(self.now() + i64::from(period) * DAY_MS);
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn disable_key_rotation(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<(), KmsError> {
        self.mutate(caller, key_id, Action::DisableKeyRotation, |key| {
            // AWS's order: the key's state before its type.
            require_enabled(key)?;
            lifecycle::require_rotatable(key)?;
            lifecycle::require_rotates_here(key)?;
            key.rotation_enabled = false;
            key.next_rotation_ms = None;
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn key_rotation_status(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<KeyRecord, KmsError> {
        let (key, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        self.authorize(
            caller,
            Action::GetKeyRotationStatus,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        lifecycle::require_rotatable(&key.record)?;
        let mut record = key.record.clone();
        // A replica's rotation status is its primary's (rotation is a
        // property the family shares).
        if record.multi_region.is_some() && !record.is_primary() {
            let primary = self
                .related_keys(&record)
                .await?
                .into_iter()
                .find(|k| k.is_primary());
            if let Some(primary) = primary {
                record.rotation_enabled = primary.rotation_enabled;
                record.rotation_period_days = primary.rotation_period_days;
                record.next_rotation_ms = primary.next_rotation_ms;
            }
        }
        Ok(record)
    }

    /// `GetKeyLastUsage`: the key's last successful cryptographic operation
    /// (as the audit writer recorded it) and when tracking began. Not
    /// cross-account: another account's key is not found.
    pub async fn key_last_usage(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<crate::model::KeyLastUsage, KmsError> {
        let (key, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        if key.record.account != caller.account() {
            return Err(not_found(caller, &key.record.id));
        }
        self.authorize(
            caller,
            Action::GetKeyLastUsage,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        let unstored = match self.usage.get() {
            Some(tracker) => tracker.get(key.record.id).await,
            None => None,
        };
        // This node's usage not yet stored, or the store's (where other
        // nodes' usage is), whichever is newer.
        let stored = self.store.key_last_usage(key.record.id).await?;
        let last = match (unstored, stored) {
            (Some(a), Some(b)) => Some(if a.time_ms >= b.time_ms { a } else { b }),
            (a, b) => a.or(b),
        };
        // Set at the audit writer's first start; if no writer ever ran,
        // tracking starts now.
        let now = crate::model::now_millis().to_string();
        let stored = self
            .store
            .meta_secret(crate::audit::usage::TRACKING_START_META, now.as_bytes())
            .await?;
        let tracking_start_ms = crate::audit::usage::parse_tracking_start(&stored)
            .ok_or_else(|| KmsError::Internal("unreadable usage tracking start".into()))?;
        Ok(crate::model::KeyLastUsage {
            key: key.record.clone(),
            last,
            tracking_start_ms,
        })
    }

    // ----- policies -----------------------------------------------------

    pub async fn get_key_policy(
        &self,
        caller: &Caller,
        key_id: &str,
        name: Option<&str>,
    ) -> Result<String, KmsError> {
        check_policy_name(name)?;
        let (key, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        self.authorize(
            caller,
            Action::GetKeyPolicy,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        Ok(key.record.policy.to_string())
    }

    pub async fn put_key_policy(
        &self,
        caller: &Caller,
        key_id: &str,
        name: Option<&str>,
        policy: String,
        bypass_lockout_check: bool,
    ) -> Result<(), KmsError> {
        check_policy_name(name)?;
        policy::check_size(&policy)?;
        let compiled = compile_policy(&policy)?;
        self.mutate(caller, key_id, Action::PutKeyPolicy, |key| {
            refuse_pending_deletion(key)?;
            if !bypass_lockout_check {
                self.check_lockout(caller, &compiled, &key.arn)?;
            }
            key.policy = policy.as_str().into();
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn list_key_policies(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<Vec<String>, KmsError> {
        let (key, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        self.authorize(
            caller,
            Action::ListKeyPolicies,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        Ok(vec!["default".to_owned()])
    }

    // ----- tags ------------------------------------------------------------

    pub async fn tag_resource(
        &self,
        caller: &Caller,
        key_id: &str,
        tags: Vec<Tag>,
    ) -> Result<(), KmsError> {
        let new_tags = tags.clone();
        let facts = RequestFacts {
            request_tags: Some(&new_tags),
            ..Default::default()
        };
        let max_tags = self.config.max_tags_per_key;
        self.mutate_with(caller, key_id, Action::TagResource, &facts, |key| {
            refuse_pending_deletion(key)?;
            key.tags = merge_tags(std::mem::take(&mut key.tags), tags.clone(), max_tags)?;
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn untag_resource(
        &self,
        caller: &Caller,
        key_id: &str,
        tag_keys: Vec<String>,
    ) -> Result<(), KmsError> {
        let as_tags: Vec<Tag> = tag_keys
            .iter()
            .map(|k| Tag {
                key: k.clone(),
                value: String::new(),
            })
            .collect();
        let facts = RequestFacts {
            request_tags: Some(&as_tags),
            ..Default::default()
        };
        self.mutate_with(caller, key_id, Action::UntagResource, &facts, |key| {
            refuse_pending_deletion(key)?;
            key.tags.retain(|tag| !tag_keys.contains(&tag.key));
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn list_resource_tags(
        &self,
        caller: &Caller,
        key_id: &str,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<Tag>, KmsError> {
        let (key, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        self.authorize(
            caller,
            Action::ListResourceTags,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        self.paginate(
            &format!("ListResourceTags/{}", key.record.id),
            &key.record.tags,
            limit,
            marker,
        )
    }
}
