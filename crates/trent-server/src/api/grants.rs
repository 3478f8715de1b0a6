//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant.

use super::{limit, seconds};
use crate::error::ApiError;
use trent_core::{Caller, CreateGrant, GrantRecord, GrantSelector, Kms, key_arn};
use trent_wire::*;

fn entry(kms: &Kms, grant: &GrantRecord, region: &str, account: &str) -> GrantListEntry {
    let constraints =
        (grant.context_equals.is_some() || grant.context_subset.is_some()).then(|| {
            GrantConstraints {
                encryption_context_equals: grant.context_equals.clone(),
                encryption_context_subset: grant.context_subset.clone(),
                source_arn: None,
            }
        });
    GrantListEntry {
        key_id: Some(
            kms.cached_key_arn(grant.key_id)
                .unwrap_or_else(|| key_arn(region, account, &grant.key_id)),
        ),
        grant_id: Some(grant.grant_id.clone()),
        name: grant.name.clone(),
        creation_date: Some(seconds(grant.created_ms)),
        grantee_principal: Some(grant.grantee.clone()),
        retiring_principal: grant.retiring.clone(),
        issuing_account: Some(format!("arn:aws:iam::{}:root", grant.issuing_account)),
        operations: Some(
            grant
                .operations
                .iter()
                .map(|o| GrantOperation::from(o.as_str()))
                .collect(),
        ),
        constraints,
        ..Default::default()
    }
}

fn no_service_principals(
    grantee: &Option<String>,
    retiring: &Option<String>,
) -> Result<(), ApiError> {
    if grantee.is_some() || retiring.is_some() {
        return Err(ApiError::new(
            ErrorCode::UnsupportedOperationException,
            "Service principals in grants are not supported by this server",
        ));
    }
    Ok(())
}

pub(super) async fn create_grant(
    kms: &Kms,
    caller: &Caller,
    req: CreateGrantRequest,
) -> Result<CreateGrantResponse, ApiError> {
    no_service_principals(
        &req.grantee_service_principal,
        &req.retiring_service_principal,
    )?;
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let Some(grantee) = req.grantee_principal else {
        return Err(ApiError::new(
            ErrorCode::ValidationException,
            "GranteePrincipal is required",
        ));
    };
    let constraints = req.constraints.unwrap_or_default();
    if constraints.source_arn.is_some() {
        return Err(ApiError::new(
            ErrorCode::UnsupportedOperationException,
            "SourceArn grant constraints are not supported",
        ));
    }
    let params = CreateGrant {
        key_id: req.key_id,
        grantee,
        retiring: req.retiring_principal,
        operations: req
            .operations
            .iter()
            .flatten()
            .map(|o| o.as_str().to_owned())
            .collect(),
        context_equals: constraints.encryption_context_equals,
        context_subset: constraints.encryption_context_subset,
        name: req.name,
    };
    let (token, id) = kms
        .create_grant(caller, params, req.dry_run == Some(true))
        .await?;
    Ok(CreateGrantResponse {
        grant_token: Some(token),
        grant_id: Some(id),
    })
}

pub(super) async fn list_grants(
    kms: &Kms,
    caller: &Caller,
    req: ListGrantsRequest,
) -> Result<ListGrantsResponse, ApiError> {
    no_service_principals(&req.grantee_service_principal, &None)?;
    let page = kms
        .list_grants(
            caller,
            &req.key_id,
            req.grant_id.as_deref(),
            req.grantee_principal.as_deref(),
            limit(req.limit, 50),
            req.marker.as_deref(),
        )
        .await?;
    Ok(ListGrantsResponse {
        grants: Some(
            page.items
                .iter()
                .map(|g| entry(kms, g, &caller.region, caller.account()))
                .collect(),
        ),
        truncated: Some(page.next_marker.is_some()),
        next_marker: page.next_marker,
    })
}

pub(super) async fn list_retirable_grants(
    kms: &Kms,
    caller: &Caller,
    req: ListRetirableGrantsRequest,
) -> Result<ListGrantsResponse, ApiError> {
    no_service_principals(&None, &req.retiring_service_principal)?;
    let Some(principal) = req.retiring_principal else {
        return Err(ApiError::new(
            ErrorCode::ValidationException,
            "RetiringPrincipal is required",
        ));
    };
    let page = kms
        .list_retirable_grants(
            caller,
            &principal,
            limit(req.limit, 50),
            req.marker.as_deref(),
        )
        .await?;
    Ok(ListGrantsResponse {
        grants: Some(
            page.items
                .iter()
                .map(|g| entry(kms, g, &caller.region, caller.account()))
                .collect(),
        ),
        truncated: Some(page.next_marker.is_some()),
        next_marker: page.next_marker,
    })
}

pub(super) async fn retire_grant(
    kms: &Kms,
    caller: &Caller,
    req: RetireGrantRequest,
) -> Result<serde_json::Value, ApiError> {
    let selector = match (&req.grant_token, &req.key_id, &req.grant_id) {
        (Some(token), _, _) => GrantSelector::Token(token),
        (None, Some(key_id), Some(grant_id)) => GrantSelector::Id { key_id, grant_id },
        _ => {
            return Err(ApiError::new(
                ErrorCode::ValidationException,
                "Specify either GrantToken, or both KeyId and GrantId",
            ));
        }
    };
    kms.retire_grant(caller, selector, req.dry_run == Some(true))
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn revoke_grant(
    kms: &Kms,
    caller: &Caller,
    req: RevokeGrantRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.revoke_grant(
        caller,
        &req.key_id,
        &req.grant_id,
        req.dry_run == Some(true),
    )
    .await?;
    Ok(serde_json::json!({}))
}
