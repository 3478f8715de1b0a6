//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant.

use super::{limit, seconds};
use crate::error::ApiError;
use trent_core::{Caller, CreateGrant, GrantPrincipal, GrantSelector, Kms, ListedGrant};
use trent_wire::*;

fn entry(listed: &ListedGrant) -> GrantListEntry {
    let grant = &listed.grant;
    let constraints = (grant.context_equals.is_some()
        || grant.context_subset.is_some()
        || grant.source_arn.is_some())
    .then(|| GrantConstraints {
        encryption_context_equals: grant.context_equals.clone(),
        encryption_context_subset: grant.context_subset.clone(),
        source_arn: grant.source_arn.clone(),
    });
    let (grantee_principal, grantee_service_principal) = split(Some(&grant.grantee));
    let (retiring_principal, retiring_service_principal) = split(grant.retiring.as_ref());
    GrantListEntry {
        key_id: Some(listed.key_arn.clone()),
        grant_id: Some(grant.grant_id.clone()),
        name: grant.name.clone(),
        creation_date: Some(seconds(grant.created_ms)),
        grantee_principal,
        retiring_principal,
        grantee_service_principal,
        retiring_service_principal,
        issuing_account: Some(format!("arn:aws:iam::{}:root", grant.issuing_account)),
        operations: Some(
            grant
                .operations
                .iter()
                .map(|o| GrantOperation::from(o.as_str()))
                .collect(),
        ),
        constraints,
    }
}

/// A grant principal as the wire has it: (principal, service principal).
fn split(principal: Option<&GrantPrincipal>) -> (Option<String>, Option<String>) {
    match principal {
        Some(GrantPrincipal::Iam(p)) => (Some(p.clone()), None),
        Some(GrantPrincipal::Service(p)) => (None, Some(p.clone())),
        None => (None, None),
    }
}

/// One principal from a request's pair of fields (`what` and
/// `what` + "Service"): at most one of them.
fn one_of(
    what: &str,
    iam: Option<String>,
    service: Option<String>,
) -> Result<Option<GrantPrincipal>, ApiError> {
    match (iam, service) {
        (Some(_), Some(_)) => Err(ApiError::new(
            ErrorCode::ValidationException,
            format!(
                "You can specify either {what}Principal or {what}ServicePrincipal, but not both"
            ),
        )),
        (Some(p), None) => Ok(Some(GrantPrincipal::Iam(p))),
        (None, Some(p)) => Ok(Some(GrantPrincipal::Service(p))),
        (None, None) => Ok(None),
    }
}

/// AWS: the service principal filters of ListGrants and
/// ListRetirableGrants are "only usable by callers in a service
/// principal", and no caller of this server is one.
fn service_filter_refused(caller: &Caller, filter: &str, given: bool) -> Result<(), ApiError> {
    if given {
        return Err(ApiError::new(
            ErrorCode::AccessDeniedException,
            format!(
                "User: {} is not authorized to use the {filter} filter: it is only usable by callers in a service principal",
                caller.principal_arn()
            ),
        ));
    }
    Ok(())
}

pub(super) async fn create_grant(
    kms: &Kms,
    caller: &Caller,
    req: CreateGrantRequest,
) -> Result<CreateGrantResponse, ApiError> {
    kms.check_grant_tokens(req.grant_tokens.as_deref().unwrap_or_default())?;
    let Some(grantee) = one_of(
        "Grantee",
        req.grantee_principal,
        req.grantee_service_principal,
    )?
    else {
        return Err(ApiError::new(
            ErrorCode::ValidationException,
            "You must specify either GranteePrincipal or GranteeServicePrincipal",
        ));
    };
    let retiring = one_of(
        "Retiring",
        req.retiring_principal,
        req.retiring_service_principal,
    )?;
    let constraints = req.constraints.unwrap_or_default();
    let params = CreateGrant {
        key_id: req.key_id,
        grantee,
        retiring,
        operations: req
            .operations
            .iter()
            .flatten()
            .map(|o| o.as_str().to_owned())
            .collect(),
        context_equals: constraints.encryption_context_equals,
        context_subset: constraints.encryption_context_subset,
        source_arn: constraints.source_arn,
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
    one_of(
        "Grantee",
        req.grantee_principal.clone(),
        req.grantee_service_principal.clone(),
    )?;
    service_filter_refused(
        caller,
        "GranteeServicePrincipal",
        req.grantee_service_principal.is_some(),
    )?;
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
        grants: Some(page.items.iter().map(entry).collect()),
        truncated: Some(page.next_marker.is_some()),
        next_marker: page.next_marker,
    })
}

pub(super) async fn list_retirable_grants(
    kms: &Kms,
    caller: &Caller,
    req: ListRetirableGrantsRequest,
) -> Result<ListGrantsResponse, ApiError> {
    one_of(
        "Retiring",
        req.retiring_principal.clone(),
        req.retiring_service_principal.clone(),
    )?;
    service_filter_refused(
        caller,
        "RetiringServicePrincipal",
        req.retiring_service_principal.is_some(),
    )?;
    let Some(principal) = req.retiring_principal else {
        return Err(ApiError::new(
            ErrorCode::ValidationException,
            "You must specify either RetiringPrincipal or RetiringServicePrincipal",
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
        grants: Some(page.items.iter().map(entry).collect()),
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
