//! Key management: create, describe, list, state changes, rotation settings.

use super::{limit, seconds};
use crate::error::ApiError;
use trent_core::{
    Caller, CreateKey, KeyRecord, Kms, ListedMaterial, Tag, current_key_material_id,
    key_algorithms, material_id,
};
use trent_wire::*;

/// `Some(list)` unless empty: AWS leaves out the lists a key has none of.
pub(super) fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

pub(super) fn key_metadata(key: &KeyRecord) -> KeyMetadata {
    let pending = key.state == KeyState::PendingDeletion;
    let algorithms = key_algorithms(key);
    KeyMetadata {
        aws_account_id: Some(key.account.clone()),
        key_id: key.key_id(),
        arn: Some(key.arn.clone()),
        creation_date: Some(seconds(key.created_ms)),
        enabled: Some(key.state == KeyState::Enabled),
        description: Some(key.description.clone()),
        key_usage: Some(key.key_usage.clone()),
        key_state: Some(key.state.clone()),
        deletion_date: key.deletion_date_ms.filter(|_| pending).map(seconds),
        origin: Some(key.origin.clone()),
        key_manager: Some(KeyManagerType::Customer),
        customer_master_key_spec: Some(CustomerMasterKeySpec::from(key.key_spec.as_str())),
        key_spec: Some(key.key_spec.clone()),
        encryption_algorithms: non_empty(algorithms.encryption),
        signing_algorithms: non_empty(algorithms.signing),
        key_agreement_algorithms: non_empty(algorithms.key_agreement),
        mac_algorithms: non_empty(algorithms.mac),
        encapsulation_algorithms: non_empty(algorithms.encapsulation),
        multi_region: Some(key.multi_region.is_some()),
        // Only symmetric encryption keys have key material ids in AWS.
        current_key_material_id: (key.key_spec == KeySpec::SymmetricDefault)
            .then(|| current_key_material_id(key))
            .flatten(),
        // The current imported material's expiry.
        expiration_model: key
            .current_import()
            .and_then(|m| m.expiration_model.clone()),
        valid_to: key
            .current_import()
            .and_then(|m| m.valid_to_ms)
            .map(seconds),
        ..Default::default()
    }
}

pub(super) fn domain_tags(tags: Vec<trent_wire::Tag>) -> Vec<Tag> {
    tags.into_iter()
        .map(|t| Tag {
            key: t.tag_key,
            value: t.tag_value,
        })
        .collect()
}

pub(super) async fn create_key(
    kms: &Kms,
    caller: &Caller,
    req: CreateKeyRequest,
) -> Result<CreateKeyResponse, ApiError> {
    let params = CreateKey {
        description: req.description.unwrap_or_default(),
        key_usage: req.key_usage,
        key_spec: req.key_spec,
        customer_master_key_spec: req
            .customer_master_key_spec
            .map(|s| KeySpec::from(s.as_str())),
        origin: req.origin,
        policy: req.policy,
        bypass_policy_lockout_safety_check: req.bypass_policy_lockout_safety_check.unwrap_or(false),
        tags: domain_tags(req.tags.unwrap_or_default()),
        multi_region: req.multi_region.unwrap_or(false),
        custom_key_store: req.custom_key_store_id.is_some() || req.xks_key_id.is_some(),
    };
    let key = kms.create_key(caller, params).await?;
    let related = [key.clone()];
    Ok(CreateKeyResponse {
        key_metadata: Some(super::multi_region::metadata_with(&key, &related)),
    })
}

pub(super) async fn describe_key(
    kms: &Kms,
    caller: &Caller,
    req: DescribeKeyRequest,
) -> Result<DescribeKeyResponse, ApiError> {
    let key = kms.describe_key(caller, &req.key_id).await?;
    let related = kms.related_keys(&key).await?;
    Ok(DescribeKeyResponse {
        key_metadata: Some(super::multi_region::metadata_with(&key, &related)),
    })
}

pub(super) async fn list_keys(
    kms: &Kms,
    caller: &Caller,
    req: ListKeysRequest,
) -> Result<ListKeysResponse, ApiError> {
    let page = kms
        .list_keys(caller, limit(req.limit, 100), req.marker.as_deref())
        .await?;
    Ok(ListKeysResponse {
        keys: Some(
            page.items
                .into_iter()
                .map(|(id, arn)| KeyListEntry {
                    // A multi-Region key's id is its ARN's `mrk-…`.
                    key_id: Some(match arn.rsplit_once(":key/") {
                        Some((_, shown)) if shown.starts_with("mrk-") => shown.to_owned(),
                        _ => id.to_string(),
                    }),
                    key_arn: Some(arn),
                })
                .collect(),
        ),
        truncated: Some(page.next_marker.is_some()),
        next_marker: page.next_marker,
    })
}

pub(super) async fn update_key_description(
    kms: &Kms,
    caller: &Caller,
    req: UpdateKeyDescriptionRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.update_key_description(caller, &req.key_id, req.description)
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn enable_key(
    kms: &Kms,
    caller: &Caller,
    req: EnableKeyRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.enable_key(caller, &req.key_id).await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn disable_key(
    kms: &Kms,
    caller: &Caller,
    req: DisableKeyRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.disable_key(caller, &req.key_id).await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn schedule_key_deletion(
    kms: &Kms,
    caller: &Caller,
    req: ScheduleKeyDeletionRequest,
) -> Result<ScheduleKeyDeletionResponse, ApiError> {
    let key = kms
        .schedule_key_deletion(caller, &req.key_id, req.pending_window_in_days)
        .await?;
    Ok(ScheduleKeyDeletionResponse {
        key_id: Some(key.arn.clone()),
        deletion_date: key.deletion_date_ms.map(seconds),
        key_state: Some(key.state.clone()),
        pending_window_in_days: key.pending_window_days,
    })
}

pub(super) async fn cancel_key_deletion(
    kms: &Kms,
    caller: &Caller,
    req: CancelKeyDeletionRequest,
) -> Result<CancelKeyDeletionResponse, ApiError> {
    let key = kms.cancel_key_deletion(caller, &req.key_id).await?;
    Ok(CancelKeyDeletionResponse {
        key_id: Some(key.arn),
    })
}

pub(super) async fn enable_key_rotation(
    kms: &Kms,
    caller: &Caller,
    req: EnableKeyRotationRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.enable_key_rotation(caller, &req.key_id, req.rotation_period_in_days)
        .await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn disable_key_rotation(
    kms: &Kms,
    caller: &Caller,
    req: DisableKeyRotationRequest,
) -> Result<serde_json::Value, ApiError> {
    kms.disable_key_rotation(caller, &req.key_id).await?;
    Ok(serde_json::json!({}))
}

pub(super) async fn get_key_rotation_status(
    kms: &Kms,
    caller: &Caller,
    req: GetKeyRotationStatusRequest,
) -> Result<GetKeyRotationStatusResponse, ApiError> {
    let key = kms.key_rotation_status(caller, &req.key_id).await?;
    let enabled = key.rotation_enabled;
    Ok(GetKeyRotationStatusResponse {
        key_rotation_enabled: Some(enabled),
        key_id: Some(key.arn.clone()),
        rotation_period_in_days: key.rotation_period_days.filter(|_| enabled),
        next_rotation_date: key.next_rotation_ms.filter(|_| enabled).map(seconds),
        on_demand_rotation_start_date: None,
    })
}

pub(super) async fn get_key_last_usage(
    kms: &Kms,
    caller: &Caller,
    req: GetKeyLastUsageRequest,
) -> Result<GetKeyLastUsageResponse, ApiError> {
    let report = kms.key_last_usage(caller, &req.key_id).await?;
    let key = &report.key;
    Ok(GetKeyLastUsageResponse {
        key_id: Some(key.arn.clone()),
        key_last_usage: report.last.map(|u| KeyLastUsageData {
            operation: Some(u.operation().into()),
            timestamp: Some(seconds(u.time_ms)),
            cloud_trail_event_id: Some(u.event_id.to_string()),
            kms_request_id: u.request_id.map(|id| id.to_string()),
        }),
        // The later of the key's creation and the start of tracking.
        tracking_start_date: Some(seconds(report.tracking_start_ms.max(key.created_ms))),
        key_creation_date: Some(seconds(key.created_ms)),
    })
}

pub(super) async fn rotate_key_on_demand(
    kms: &Kms,
    caller: &Caller,
    req: RotateKeyOnDemandRequest,
) -> Result<RotateKeyOnDemandResponse, ApiError> {
    let arn = kms.rotate_key_on_demand(caller, &req.key_id).await?;
    Ok(RotateKeyOnDemandResponse { key_id: Some(arn) })
}

/// One key material of ListKeyRotations: a rotation's (its date and type),
/// or the first; imported material with its states, import state and
/// expiry.
fn listed_material(key: &KeyRecord, m: &ListedMaterial) -> RotationsListEntry {
    let imported = m.imported.as_ref();
    RotationsListEntry {
        key_id: Some(key.arn.clone()),
        rotation_date: m.rotation.as_ref().map(|r| seconds(r.rotated_ms)),
        key_material_id: Some(material_id(key, m.version)),
        key_material_state: Some(match imported {
            Some(material) => material.state.clone(),
            None if m.version == key.current_material => KeyMaterialState::Current,
            None => KeyMaterialState::NonCurrent,
        }),
        rotation_type: m.rotation.as_ref().map(|r| {
            if r.on_demand {
                RotationType::OnDemand
            } else {
                RotationType::Automatic
            }
        }),
        import_state: imported.map(|material| material.import_state.clone()),
        expiration_model: imported.and_then(|material| material.expiration_model.clone()),
        valid_to: imported
            .and_then(|material| material.valid_to_ms)
            .map(seconds),
        key_material_description: imported.and_then(|material| material.description.clone()),
    }
}

pub(super) async fn list_key_rotations(
    kms: &Kms,
    caller: &Caller,
    req: ListKeyRotationsRequest,
) -> Result<ListKeyRotationsResponse, ApiError> {
    let include_all = req.include_key_material == Some(IncludeKeyMaterial::AllKeyMaterial);
    let (key, page) = kms
        .list_key_rotations(
            caller,
            &req.key_id,
            include_all,
            limit(req.limit, 100),
            req.marker.as_deref(),
        )
        .await?;
    Ok(ListKeyRotationsResponse {
        rotations: Some(
            page.items
                .iter()
                .map(|m| listed_material(&key, m))
                .collect(),
        ),
        truncated: Some(page.next_marker.is_some()),
        next_marker: page.next_marker,
    })
}
