//! Aliases: friendly names for keys, per account and region.

use super::{limit, seconds};
use crate::error::ApiError;
use trent_core::{Caller, Kms};
use trent_wire::*;

pub(super) async fn create_alias(
    kms: &Kms,
    caller: &Caller,
    req: CreateAliasRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.create_alias(caller, &req.alias_name, &req.target_key_id)
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn update_alias(
    kms: &Kms,
    caller: &Caller,
    req: UpdateAliasRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.update_alias(caller, &req.alias_name, &req.target_key_id)
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn delete_alias(
    kms: &Kms,
    caller: &Caller,
    req: DeleteAliasRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.delete_alias(caller, &req.alias_name).await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn list_aliases(
    kms: &Kms,
    caller: &Caller,
    req: ListAliasesRequest,
) -> Result<ListAliasesResponse, ApiError> {
    let page = kms
        .list_aliases(
            caller,
            req.key_id.as_deref(),
            limit(req.limit, 50),
            req.marker.as_deref(),
        )
        .await?;
    Ok(ListAliasesResponse {
        aliases: Some(
            page.items
                .iter()
                .map(|a| AliasListEntry {
                    alias_arn: Some(a.arn.clone()),
                    alias_name: Some(a.name.clone()),
                    target_key_id: a.target_key_id.clone(),
                    creation_date: a.record.as_ref().map(|r| seconds(r.created_ms)),
                    last_updated_date: a.record.as_ref().map(|r| seconds(r.updated_ms)),
                })
                .collect(),
        ),
        truncated: Some(page.next_marker.is_some()),
        next_marker: page.next_marker,
    })
}
