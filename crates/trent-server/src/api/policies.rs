//! Key policies (stored and validated; enforcement comes with access control).

use super::limit;
use crate::error::ApiError;
use trent_core::{Caller, Kms};
use trent_wire::*;

pub(super) async fn get_key_policy(
    kms: &Kms,
    caller: &Caller,
    req: GetKeyPolicyRequest,
) -> Result<GetKeyPolicyResponse, ApiError> {
    let policy = kms
        .get_key_policy(caller, &req.key_id, req.policy_name.as_deref())
        .await?;
    Ok(GetKeyPolicyResponse {
        policy: Some(policy),
        policy_name: Some("default".to_owned()),
    })
}

pub(super) async fn put_key_policy(
    kms: &Kms,
    caller: &Caller,
    req: PutKeyPolicyRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.put_key_policy(
        caller,
        &req.key_id,
        req.policy_name.as_deref(),
        req.policy,
        req.bypass_policy_lockout_safety_check.unwrap_or(false),
    )
    .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn list_key_policies(
    kms: &Kms,
    caller: &Caller,
    req: ListKeyPoliciesRequest,
) -> Result<ListKeyPoliciesResponse, ApiError> {
    let _ = limit(req.limit, 100);
    let names = kms.list_key_policies(caller, &req.key_id).await?;
    Ok(ListKeyPoliciesResponse {
        policy_names: Some(names),
        next_marker: None,
        truncated: Some(false),
    })
}
