//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant.

use super::*;

impl Kms {
    // ----- grants --------------------------------------------------------------

    /// Publishes a committed change of a key's grants to the cache (under
    /// the key lock): the cached list with `change` applied. Nothing can
    /// fail here, so the cache never keeps a grant the store no longer has;
    /// a key not in the cache is loaded whole at its next use.
    fn publish_grants(&self, id: Uuid, change: impl FnOnce(&mut Vec<GrantRecord>)) {
        let pinned = self.keys.pin();
        if let Some(current) = pinned.get(&id) {
            let mut grants = (*current.grants).clone();
            change(&mut grants);
            let updated = CachedKey {
                record: current.record.clone(),
                materials: current.materials.clone(),
                policy: current.policy.clone(),
                grants: Arc::new(grants),
                material_ids: Default::default(),
            };
            pinned.insert(id, Arc::new(updated));
        }
    }

    /// CreateGrant: returns (grant token, grant id). A grant with the same
    /// name, grantee, operations and constraints is returned again, as AWS's
    /// name idempotency does.
    pub async fn create_grant(
        &self,
        caller: &Caller,
        params: CreateGrant,
        dry_run: bool,
    ) -> Result<(String, String), KmsError> {
        for op in &params.operations {
            if !GRANT_OPERATIONS.contains(&op.as_str()) {
                return Err(KmsError::Validation(format!(
                    "Invalid grant operation {op}"
                )));
            }
        }
        if params.operations.is_empty() {
            return Err(KmsError::Validation("Operations must not be empty".into()));
        }
        if params.grantee.is_service() && (params.source_arn.is_none() || params.retiring.is_none())
        {
            return Err(KmsError::Validation(
                "A grant for a GranteeServicePrincipal must have a SourceArn grant constraint and a RetiringPrincipal or RetiringServicePrincipal".into(),
            ));
        }
        let (key, resolved) = self
            .target(caller, &params.key_id, AliasMode::Refuse)
            .await?;
        let constraint_types = constraint_types(&params);
        let facts = RequestFacts {
            grant_operations: Some(&params.operations),
            grantee_principal: params.grantee.iam(),
            grantee_service_principal: params.grantee.is_service().then(|| params.grantee.as_str()),
            retiring_principal: params.retiring.as_ref().and_then(GrantPrincipal::iam),
            grant_constraint_types: Some(&constraint_types),
            grant_constraint_source_arn: params.source_arn.as_deref(),
            ..Default::default()
        };
        // A grantee whose CreateGrant comes from a grant may only hand on
        // what that grant gives it: some or all of its operations, under
        // constraints at least as strict.
        let allowed_by = self.authorize_via(
            caller,
            Action::CreateGrant,
            &key,
            &facts,
            Some("CreateGrant"),
        )?;
        if allowed_by == AllowedBy::Grants
            && !key.grants.iter().any(|parent| {
                grant_allows(parent, caller, "CreateGrant", facts.encryption_context)
                    && derives_from(parent, &params)
            })
        {
            return Err(KmsError::AccessDenied(format!(
                "User: {} is not authorized to perform: kms:CreateGrant on resource: {} because a grant can only create grants for some or all of its own operations, with encryption context constraints at least as strict as its own",
                caller.principal_arn(),
                key.record.arn
            )));
        }
        // Only an authorized caller learns whether a principal exists. A
        // service principal is AWS's, not an identity of this server.
        let iam_principals = std::iter::once(&params.grantee)
            .chain(params.retiring.iter())
            .filter_map(GrantPrincipal::iam);
        for principal in iam_principals {
            if !self
                .identities
                .principal_exists(principal)
                .await
                .map_err(KmsError::internal)?
            {
                return Err(KmsError::Validation(format!(
                    "Invalid principal {principal}"
                )));
            }
        }
        refuse_pending_deletion(&key.record)?;
        check_grant_fits(&key.record, &params)?;
        let id = key.record.id;
        let _guard = self.key_lock(&id).lock().await;
        let existing = self.store.list_grants(id).await?;
        if let Some(name) = &params.name
            && let Some(same) = existing.iter().find(|g| {
                g.name.as_deref() == Some(name)
                    && g.grantee == params.grantee
                    && g.operations == params.operations
                    && g.context_equals == params.context_equals
                    && g.context_subset == params.context_subset
                    && g.source_arn == params.source_arn
                    && g.retiring == params.retiring
            })
        {
            return Ok((grant_token(&same.grant_id), same.grant_id.clone()));
        }
        let mut raw = [0u8; 32];
        trent_crypto::random_bytes(&mut raw)?;
        let grant_id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let grant = GrantRecord {
            key_id: id,
            grant_id: grant_id.clone(),
            name: params.name,
            grantee: params.grantee,
            retiring: params.retiring,
            operations: params.operations,
            context_equals: params.context_equals,
            context_subset: params.context_subset,
            source_arn: params.source_arn,
            issuing_account: caller.account().to_owned(),
            created_ms: self.now(),
        };
        if dry_run {
            return Err(KmsError::DryRun);
        }
        // The store counts the key's grants as it inserts, so the quotas
        // hold across every node writing to it.
        let limits = GrantLimits {
            per_key: self.config.max_grants_per_key as u64,
            per_grantee: self.config.max_grants_per_grantee as u64,
        };
        self.store.insert_grant(&grant, limits).await?;
        self.publish_grants(id, |grants| grants.push(grant));
        let _ = resolved;
        Ok((grant_token(&grant_id), grant_id))
    }

    pub async fn list_grants(
        &self,
        caller: &Caller,
        key_id: &str,
        grant_id: Option<&str>,
        grantee: Option<&str>,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<ListedGrant>, KmsError> {
        let (key, _) = self.target(caller, key_id, AliasMode::Accept).await?;
        self.authorize(
            caller,
            Action::ListGrants,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        let grants: Vec<GrantRecord> = key
            .grants
            .iter()
            .filter(|g| grant_id.is_none_or(|id| g.grant_id == id))
            .filter(|g| grantee.is_none_or(|p| g.grantee.iam() == Some(p)))
            .cloned()
            .collect();
        let page = self.paginate(
            &format!("ListGrants/{}", key.record.id),
            &grants,
            limit,
            marker,
        )?;
        Ok(page.map(|grant| ListedGrant {
            grant,
            key_arn: key.record.arn.clone(),
        }))
    }

    pub async fn list_retirable_grants(
        &self,
        caller: &Caller,
        retiring_principal: &str,
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<ListedGrant>, KmsError> {
        self.authorize_account(
            caller,
            Action::ListRetirableGrants,
            &RequestFacts::default(),
        )?;
        // Only a principal of the caller's own account: another account's
        // grants (their constraints among them) are not the caller's to
        // list.
        if principal_account(retiring_principal) != Some(caller.account()) {
            return Err(KmsError::AccessDenied(format!(
                "User: {} is not authorized to perform: kms:ListRetirableGrants on resource: {retiring_principal} because the retiring principal is not in account {}",
                caller.principal_arn(),
                caller.account()
            )));
        }
        let grants = self.store.list_retirable_grants(retiring_principal).await?;
        let page = self.paginate(
            &format!("ListRetirableGrants/{retiring_principal}"),
            &grants,
            limit,
            marker,
        )?;
        // The grants' keys may be another account's, or not cached.
        let shown = self
            .shown_keys(page.items.iter().map(|g| g.key_id).collect())
            .await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .filter_map(|grant| {
                    let (_, key_arn) = shown.get(&grant.key_id)?;
                    Some(ListedGrant {
                        key_arn: key_arn.clone(),
                        grant,
                    })
                })
                .collect(),
            next_marker: page.next_marker,
        })
    }

    /// RetireGrant: by the retiring principal, by the grantee when the grant
    /// allows RetireGrant, or with `kms:RetireGrant` permission on the key.
    pub async fn retire_grant(
        &self,
        caller: &Caller,
        selector: GrantSelector<'_>,
        dry_run: bool,
    ) -> Result<(), KmsError> {
        let (key, grant_id) = match selector {
            GrantSelector::Token(token) => {
                let grant_id = parse_grant_token(token)?;
                let Some(grant) = self.store.find_grant(grant_id).await? else {
                    return Err(KmsError::NotFound(format!(
                        "Grant {grant_id} does not exist"
                    )));
                };
                (self.key(grant.key_id).await?, grant_id.to_owned())
            }
            GrantSelector::Id { key_id, grant_id } => (
                self.target(caller, key_id, AliasMode::Refuse).await?.0,
                grant_id.to_owned(),
            ),
        };
        let Some(grant) = key.grants.iter().find(|g| g.grant_id == grant_id).cloned() else {
            return Err(KmsError::NotFound(format!(
                "Grant {grant_id} does not exist"
            )));
        };
        let identity = &caller.identity;
        let may = grant.retiring.as_ref().is_some_and(|p| p.names(identity))
            || (grant.grantee.names(identity)
                && grant.operations.iter().any(|o| o == "RetireGrant"))
            || self
                .authorize(
                    caller,
                    Action::RetireGrant,
                    &key,
                    &RequestFacts::default(),
                    None,
                )
                .is_ok();
        if !may {
            return Err(KmsError::AccessDenied(deny_message(
                caller,
                Action::RetireGrant.name(),
                &key.record.arn,
                false,
                "resource",
            )));
        }
        if dry_run {
            return Err(KmsError::DryRun);
        }
        self.delete_grant(key.record.id, &grant_id).await
    }

    pub async fn revoke_grant(
        &self,
        caller: &Caller,
        key_id: &str,
        grant_id: &str,
        dry_run: bool,
    ) -> Result<(), KmsError> {
        let (key, _) = self.target(caller, key_id, AliasMode::Refuse).await?;
        self.authorize(
            caller,
            Action::RevokeGrant,
            &key,
            &RequestFacts::default(),
            None,
        )?;
        if !key.grants.iter().any(|g| g.grant_id == grant_id) {
            return Err(KmsError::NotFound(format!(
                "Grant {grant_id} does not exist"
            )));
        }
        if dry_run {
            return Err(KmsError::DryRun);
        }
        self.delete_grant(key.record.id, grant_id).await
    }

    async fn delete_grant(&self, id: Uuid, grant_id: &str) -> Result<(), KmsError> {
        let _guard = self.key_lock(&id).lock().await;
        self.store.delete_grant(id, grant_id).await?;
        self.publish_grants(id, |grants| grants.retain(|g| g.grant_id != grant_id));
        Ok(())
    }
}

/// The account of a principal as grants name it: an account id, or an
/// IAM or STS ARN.
fn principal_account(principal: &str) -> Option<&str> {
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return Some(principal);
    }
    let rest = principal
        .strip_prefix("arn:aws:iam::")
        .or_else(|| principal.strip_prefix("arn:aws:sts::"))?;
    rest.split_once(':').map(|(account, _)| account)
}

/// An entry of ListGrants and ListRetirableGrants: a grant and the ARN of
/// its key.
#[derive(Debug, Clone)]
pub struct ListedGrant {
    pub grant: GrantRecord,
    pub key_arn: String,
}

/// The names of the constraints a CreateGrant sets
/// (`kms:GrantConstraintType`).
fn constraint_types(params: &CreateGrant) -> Vec<&'static str> {
    [
        (params.context_equals.is_some(), "EncryptionContextEquals"),
        (params.context_subset.is_some(), "EncryptionContextSubset"),
        (params.source_arn.is_some(), "SourceArn"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// Whether a grant made by a grantee of `parent` (allowed CreateGrant by it
/// alone) stays within it: some or all of its operations, and an
/// encryption context constraint at least as strict (AWS: a child may add
/// pairs to a subset constraint or turn it into an equals constraint, never
/// the reverse; an equals constraint stays the same).
fn derives_from(parent: &GrantRecord, child: &CreateGrant) -> bool {
    let within = child
        .operations
        .iter()
        .all(|op| parent.operations.contains(op));
    let includes = |outer: &BTreeMap<String, String>, inner: &BTreeMap<String, String>| {
        inner.iter().all(|(k, v)| outer.get(k) == Some(v))
    };
    let strict = match (
        (&parent.context_equals, &parent.context_subset),
        (&child.context_equals, &child.context_subset),
    ) {
        // The parent constrains nothing.
        ((None, None), _) => true,
        ((Some(parent), _), (Some(child), _)) => parent == child,
        ((Some(_), _), (None, _)) => false,
        ((None, Some(parent)), (Some(child), _)) => includes(child, parent),
        ((None, Some(parent)), (None, Some(child))) => includes(child, parent),
        ((None, Some(_)), (None, None)) => false,
    };
    within && strict
}

pub(super) fn grant_token(grant_id: &str) -> String {
    format!("{GRANT_TOKEN_PREFIX}{grant_id}")
}

pub(super) fn parse_grant_token(token: &str) -> Result<&str, KmsError> {
    token
        .strip_prefix(GRANT_TOKEN_PREFIX)
        .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| KmsError::InvalidGrantToken("The grant token is not valid".into()))
}

/// AWS's rules for what a grant may allow on a key of each kind: the
/// operations of its key spec and usage, and encryption-context constraints
/// only on symmetric encryption keys.
fn check_grant_fits(key: &KeyRecord, params: &CreateGrant) -> Result<(), KmsError> {
    let kind = spec_kind(&key.key_spec).ok();
    let fits: &[&str] = match (kind, &key.key_usage) {
        (Some(SpecKind::Symmetric), _) => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
        ],
        (Some(SpecKind::Pair(_)), KeyUsageType::EncryptDecrypt) => &[
            "Decrypt",
            "Encrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
        ],
        (Some(SpecKind::Pair(_)), KeyUsageType::SignVerify) => &["Sign", "Verify", "GetPublicKey"],
        (Some(SpecKind::Pair(_)), KeyUsageType::KeyAgreement) => {
            &["DeriveSharedSecret", "GetPublicKey"]
        }
        (Some(SpecKind::Hmac(_)), _) => &["GenerateMac", "VerifyMac"],
        (Some(SpecKind::Kem(_)), _) => &["Encapsulate", "Decapsulate", "GetPublicKey"],
        _ => &[],
    };
    const ANY_KEY: [&str; 3] = ["CreateGrant", "RetireGrant", "DescribeKey"];
    let misfits: Vec<&str> = params
        .operations
        .iter()
        .map(String::as_str)
        .filter(|op| !fits.contains(op) && !ANY_KEY.contains(op))
        .collect();
    if !misfits.is_empty() {
        return Err(KmsError::Validation(format!(
            "Grant operations {} are not valid for {} (key spec {}, key usage {})",
            misfits.join(", "),
            key.arn,
            key.key_spec,
            key.key_usage
        )));
    }
    let symmetric = matches!(kind, Some(SpecKind::Symmetric));
    if !symmetric && (params.context_equals.is_some() || params.context_subset.is_some()) {
        return Err(KmsError::Validation(format!(
            "Encryption context grant constraints are not supported for {} (key spec {})",
            key.arn, key.key_spec
        )));
    }
    Ok(())
}
