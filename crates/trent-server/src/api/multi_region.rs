//! Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, and the MultiRegionConfiguration of a
//! key's metadata.

use super::keys::{domain_tags, key_metadata};
use crate::error::ApiError;
use trent_core::{Caller, KeyRecord, Kms, ReplicateKey};
use trent_wire::*;

/// A key's metadata with its MultiRegionConfiguration, from the keys of
/// its family (`related`, the key itself among them; none for a
/// single-Region key). As AWS documents it: `PrimaryKey` is the primary
/// (the key itself when it is the primary), `ReplicaKeys` every replica
/// (the key itself when it is one).
pub(super) fn metadata_with(key: &KeyRecord, related: &[KeyRecord]) -> KeyMetadata {
    let mut metadata = key_metadata(key);
    let Some(mr) = &key.multi_region else {
        return metadata;
    };
    let entry = |k: &KeyRecord| MultiRegionKey {
        arn: Some(k.arn.clone()),
        region: Some(k.region.clone()),
    };
    let primary = related
        .iter()
        .find(|k| k.region == mr.primary_region)
        .map(entry)
        .or_else(|| {
            Some(MultiRegionKey {
                arn: Some(trent_core::mrk_key_arn(
                    &mr.primary_region,
                    &key.account,
                    &mr.family,
                )),
                region: Some(mr.primary_region.clone()),
            })
        });
    let replicas: Vec<MultiRegionKey> = related
        .iter()
        .filter(|k| k.region != mr.primary_region)
        .map(entry)
        .collect();
    metadata.multi_region_configuration = Some(MultiRegionConfiguration {
        multi_region_key_type: Some(if key.is_primary() {
            MultiRegionKeyType::Primary
        } else {
            MultiRegionKeyType::Replica
        }),
        primary_key: primary,
        replica_keys: Some(replicas),
    });
    metadata
}

pub(super) async fn replicate_key(
    kms: &Kms,
    caller: &Caller,
    req: ReplicateKeyRequest,
    regions: &[String],
) -> Result<ReplicateKeyResponse, ApiError> {
    let params = ReplicateKey {
        replica_region: req.replica_region,
        policy: req.policy,
        bypass_policy_lockout_safety_check: req.bypass_policy_lockout_safety_check.unwrap_or(false),
        description: req.description,
        tags: domain_tags(req.tags.unwrap_or_default()),
    };
    let replica = kms
        .replicate_key(caller, &req.key_id, params, regions)
        .await?;
    let related = kms.related_keys(&replica).await?;
    Ok(ReplicateKeyResponse {
        replica_key_metadata: Some(metadata_with(&replica, &related)),
        replica_policy: Some(replica.policy.to_string()),
        replica_tags: Some(
            replica
                .tags
                .iter()
                .map(|t| trent_wire::Tag {
                    tag_key: t.key.clone(),
                    tag_value: t.value.clone(),
                })
                .collect(),
        ),
    })
}

pub(super) async fn update_primary_region(
    kms: &Kms,
    caller: &Caller,
    req: UpdatePrimaryRegionRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.update_primary_region(caller, &req.key_id, &req.primary_region)
        .await?;
    Ok(serde_json::json!({}))
}
