//! Tags on keys.

use super::keys::domain_tags;
use super::limit;
use crate::error::ApiError;
use trent_core::{Caller, Kms};
use trent_wire::*;

pub(super) async fn tag_resource(
    kms: &Kms,
    caller: &Caller,
    req: TagResourceRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.tag_resource(
        caller,
        &req.key_id,
        domain_tags(req.tags.unwrap_or_default()),
    )
    .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn untag_resource(
    kms: &Kms,
    caller: &Caller,
    req: UntagResourceRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.untag_resource(caller, &req.key_id, req.tag_keys.unwrap_or_default())
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn list_resource_tags(
    kms: &Kms,
    caller: &Caller,
    req: ListResourceTagsRequest,
) -> Result<ListResourceTagsResponse, ApiError> {
    let page = kms
        .list_resource_tags(
            caller,
            &req.key_id,
            limit(req.limit, 50),
            req.marker.as_deref(),
        )
        .await?;
    Ok(ListResourceTagsResponse {
        tags: Some(
            page.items
                .into_iter()
                .map(|t| Tag {
                    tag_key: t.key,
                    tag_value: t.value,
                })
                .collect(),
        ),
        truncated: Some(page.next_marker.is_some()),
        next_marker: page.next_marker,
    })
}
