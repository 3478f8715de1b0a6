//! Aliases: friendly names for keys, per account and region.

use super::*;

impl Kms {
    // ----- aliases ---------------------------------------------------------

    /// An alias change needs the alias action on the key (key policy) and on
    /// the alias ARN (IAM policies), as in AWS.
    async fn alias_target(
        &self,
        caller: &Caller,
        action: Action,
        name: &str,
        target_key_id: &str,
    ) -> Result<Arc<CachedKey>, KmsError> {
        let (target, _) = self
            .target(caller, target_key_id, AliasMode::Refuse)
            .await?;
        // Another account's key is refused there: aliases are not a
        // cross-account operation.
        self.authorize(caller, action, &target, &RequestFacts::default(), None)?;
        self.authorize_alias_arn(caller, action, name)?;
        refuse_pending_deletion(&target.record)?;
        Ok(target)
    }

    fn authorize_alias_arn(
        &self,
        caller: &Caller,
        action: Action,
        name: &str,
    ) -> Result<(), KmsError> {
        if caller.is_root() {
            return Ok(());
        }
        let arn = alias_arn(&caller.region, caller.account(), name);
        let facts = RequestFacts::default();
        let context = AuthzContext::for_request(caller, &facts);
        match evaluate_identity(caller, action.name(), &arn, &context) {
            Outcome::Allow => Ok(()),
            other => Err(KmsError::AccessDenied(deny_message(
                caller,
                action.name(),
                &arn,
                other == Outcome::ExplicitDeny,
                "identity",
            ))),
        }
    }

    pub async fn create_alias(
        &self,
        caller: &Caller,
        name: &str,
        target_key_id: &str,
    ) -> Result<(), KmsError> {
        check_alias_name(name)?;
        // The model's pattern allows ':', the service does not (AWS's
        // alias alphabet: letters, digits, '/', '_', '-').
        if name.contains(':') {
            return Err(KmsError::Validation(format!(
                "{name} contains invalid characters for an alias"
            )));
        }
        let _guard = self.alias_lock.lock().await;
        let target = self
            .alias_target(caller, Action::CreateAlias, name, target_key_id)
            .await?;
        let key = (
            caller.account().to_owned(),
            caller.region.clone(),
            name.to_owned(),
        );
        if self.aliases.pin().contains_key(&key) {
            return Err(alias_exists(caller, name));
        }
        let now = self.now();
        let alias = AliasRecord {
            account: key.0.clone(),
            region: key.1.clone(),
            name: name.to_owned(),
            target: target.record.id,
            created_ms: now,
            updated_ms: now,
        };
        // The store counts the target's aliases as it inserts, so the quota
        // holds across every node writing to it.
        match self
            .store
            .insert_alias(&alias, self.config.max_aliases_per_key as u64)
            .await
        {
            Err(StoreError::Conflict(_)) => return Err(alias_exists(caller, name)),
            other => other?,
        }
        self.aliases.pin().insert(key, alias);
        Ok(())
    }

    pub async fn update_alias(
        &self,
        caller: &Caller,
        name: &str,
        target_key_id: &str,
    ) -> Result<(), KmsError> {
        check_alias_name(name)?;
        let _guard = self.alias_lock.lock().await;
        let key = (
            caller.account().to_owned(),
            caller.region.clone(),
            name.to_owned(),
        );
        let Some(mut alias) = self.aliases.pin().get(&key).cloned() else {
            return Err(alias_not_found(caller, name));
        };
        let target = self
            .alias_target(caller, Action::UpdateAlias, name, target_key_id)
            .await?;
        let current = self.key(alias.target).await?;
        self.authorize(
            caller,
            Action::UpdateAlias,
            &current,
            &RequestFacts::default(),
            None,
        )?;
        if current.record.key_usage != target.record.key_usage
            || current.record.key_spec != target.record.key_spec
        {
            return Err(KmsError::Validation(format!(
                "Alias {name} must point to a key with the same key spec and key usage as its current key"
            )));
        }
        alias.target = target.record.id;
        alias.updated_ms = self.now();
        self.store
            .update_alias(&alias, self.config.max_aliases_per_key as u64)
            .await?;
        self.aliases.pin().insert(key, alias);
        Ok(())
    }

    pub async fn delete_alias(&self, caller: &Caller, name: &str) -> Result<(), KmsError> {
        let _guard = self.alias_lock.lock().await;
        let key = (
            caller.account().to_owned(),
            caller.region.clone(),
            name.to_owned(),
        );
        let Some(alias) = self.aliases.pin().get(&key).cloned() else {
            return Err(alias_not_found(caller, name));
        };
        let target = self.key(alias.target).await?;
        self.authorize(
            caller,
            Action::DeleteAlias,
            &target,
            &RequestFacts::default(),
            None,
        )?;
        self.authorize_alias_arn(caller, Action::DeleteAlias, name)?;
        self.store
            .delete_alias(caller.account(), &caller.region, name)
            .await?;
        self.aliases.pin().remove(&key);
        Ok(())
    }

    /// Aliases of the caller's account and region, by name; only those of
    /// one key when `key_id` is given.
    pub async fn list_aliases(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<ListedAlias>, KmsError> {
        self.authorize_account(caller, Action::ListAliases, &RequestFacts::default())?;
        let target = match key_id {
            Some(raw) => Some(
                self.target(caller, raw, AliasMode::Refuse)
                    .await?
                    .0
                    .record
                    .id,
            ),
            None => None,
        };
        let mut all: Vec<ListedAlias> = self
            .aliases
            .pin()
            .values()
            .filter(|a| a.account == caller.account() && a.region == caller.region)
            .filter(|a| target.is_none_or(|t| a.target == t))
            .map(|a| ListedAlias {
                name: a.name.clone(),
                arn: alias_arn(&a.region, &a.account, &a.name),
                record: Some(a.clone()),
                target_key_id: None,
            })
            .collect();
        // AWS's predefined aliases, not yet associated with a key: in every
        // account's unfiltered list, without a target.
        if target.is_none() {
            all.extend(PREDEFINED_ALIASES.iter().map(|name| ListedAlias {
                name: (*name).to_owned(),
                arn: alias_arn(&caller.region, caller.account(), name),
                record: None,
                target_key_id: None,
            }));
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let mut page = self.paginate(
            &format!("ListAliases/{}/{}", caller.account(), caller.region),
            &all,
            limit,
            marker,
        )?;
        let shown = self
            .shown_keys(
                page.items
                    .iter()
                    .filter_map(|a| Some(a.record.as_ref()?.target))
                    .collect(),
            )
            .await?;
        for alias in &mut page.items {
            alias.target_key_id = alias
                .record
                .as_ref()
                .and_then(|r| shown.get(&r.target))
                .map(|(key_id, _)| key_id.clone());
        }
        Ok(page)
    }
}

/// An entry of ListAliases: a customer's alias with its record, or one of
/// AWS's predefined aliases, which has no target and no dates.
#[derive(Debug, Clone)]
pub struct ListedAlias {
    pub name: String,
    pub arn: String,
    pub record: Option<AliasRecord>,
    /// The KeyId of the alias's key (`mrk-…` for a multi-Region key).
    pub target_key_id: Option<String>,
}

/// The aliases AWS predefines for its managed keys (`alias/aws/SERVICE`),
/// listed without a `TargetKeyId` as long as no service has used them. AWS
/// documents the form and gives `aws/dynamodb` as its example; the set is
/// the services whose managed keys are commonly seen.
const PREDEFINED_ALIASES: &[&str] = &[
    "alias/aws/acm",
    "alias/aws/dynamodb",
    "alias/aws/ebs",
    "alias/aws/elasticfilesystem",
    "alias/aws/es",
    "alias/aws/glue",
    "alias/aws/kinesisvideo",
    "alias/aws/lambda",
    "alias/aws/rds",
    "alias/aws/redshift",
    "alias/aws/s3",
    "alias/aws/secretsmanager",
    "alias/aws/ssm",
    "alias/aws/xray",
];
