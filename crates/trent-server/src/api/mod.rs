//! Parse, validate, call the domain, render: one `match` over [`Operation`].
//! Handlers are grouped by family; each turns wire structs into typed calls
//! on [`Kms`] and domain records back into wire structs.

mod aliases;
mod asymmetric;
mod crypto;
mod grants;
mod import;
mod kem;
mod keys;
mod multi_region;
mod policies;
mod protocol;
mod tags;

pub(crate) use protocol::{Kms, check_json, json_response};

use crate::error::ApiError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use trent_core::Caller;
use trent_wire::{ErrorCode, Operation, RequestError, Validate};

/// What the audit trail records of a hot-path call that succeeded, taken
/// from its typed request and response instead of reading the body again.
pub struct Captured {
    /// `requestParameters` (JSON object text, interned).
    pub request_parameters: Option<std::borrow::Cow<'static, str>>,
    /// The key the call used.
    pub key_arn: Option<String>,
}

pub async fn dispatch(
    kms: &trent_core::Kms,
    caller: &Caller,
    operation: Operation,
    body: &[u8],
    regions: &[String],
    captured: &mut Option<Captured>,
) -> Result<Vec<u8>, ApiError> {
    use crate::audit::params;
    // The hot path: its audit facts come from the typed values.
    macro_rules! hot {
        ($handler:path, $params:path) => {{
            let request = parse(body)?;
            let request_parameters = $params(&request);
            let response = $handler(kms, caller, request).await?;
            let body = respond(&response)?;
            *captured = Some(Captured {
                request_parameters,
                key_arn: response.key_id,
            });
            Ok(body)
        }};
    }
    match operation {
        Operation::Encrypt => hot!(crypto::encrypt, params::encrypt),
        Operation::Decrypt => hot!(crypto::decrypt, params::decrypt),
        Operation::GenerateDataKey => hot!(crypto::generate_data_key, params::generate_data_key),
        Operation::GenerateDataKeyWithoutPlaintext => hot!(
            crypto::generate_data_key_without_plaintext,
            params::generate_data_key_without_plaintext
        ),
        // Boxed: the other operations' futures (their store writes) stay
        // out of the hot path's, which every request moves whole.
        _ => Box::pin(cold(kms, caller, operation, body, regions)).await,
    }
}

/// [`dispatch`] for every operation but the hot path's.
async fn cold(
    kms: &trent_core::Kms,
    caller: &Caller,
    operation: Operation,
    body: &[u8],
    regions: &[String],
) -> Result<Vec<u8>, ApiError> {
    // ReplicateKey needs the Regions this server serves.
    if operation == Operation::ReplicateKey {
        return respond(&multi_region::replicate_key(kms, caller, parse(body)?, regions).await?);
    }
    macro_rules! route {
        ($($op:ident => $handler:path),* $(,)?) => {
            match operation {
                $(Operation::$op => respond(&$handler(kms, caller, parse(body)?).await?),)*
                other => Err(ApiError::new(
                    ErrorCode::UnsupportedOperationException,
                    format!("{} is not supported by this server yet", other.name()),
                )),
            }
        };
    }
    route! {
        CreateKey => keys::create_key,
        DescribeKey => keys::describe_key,
        ListKeys => keys::list_keys,
        UpdateKeyDescription => keys::update_key_description,
        EnableKey => keys::enable_key,
        DisableKey => keys::disable_key,
        ScheduleKeyDeletion => keys::schedule_key_deletion,
        CancelKeyDeletion => keys::cancel_key_deletion,
        EnableKeyRotation => keys::enable_key_rotation,
        DisableKeyRotation => keys::disable_key_rotation,
        GetKeyRotationStatus => keys::get_key_rotation_status,
        GetKeyLastUsage => keys::get_key_last_usage,
        RotateKeyOnDemand => keys::rotate_key_on_demand,
        ListKeyRotations => keys::list_key_rotations,
        ReEncrypt => crypto::re_encrypt,
        GenerateRandom => crypto::generate_random,
        Sign => asymmetric::sign,
        Verify => asymmetric::verify,
        GetPublicKey => asymmetric::get_public_key,
        GenerateMac => asymmetric::generate_mac,
        VerifyMac => asymmetric::verify_mac,
        GenerateDataKeyPair => asymmetric::generate_data_key_pair,
        GenerateDataKeyPairWithoutPlaintext => asymmetric::generate_data_key_pair_without_plaintext,
        DeriveSharedSecret => asymmetric::derive_shared_secret,
        Encapsulate => kem::encapsulate,
        Decapsulate => kem::decapsulate,
        CreateAlias => aliases::create_alias,
        UpdateAlias => aliases::update_alias,
        DeleteAlias => aliases::delete_alias,
        ListAliases => aliases::list_aliases,
        TagResource => tags::tag_resource,
        UntagResource => tags::untag_resource,
        ListResourceTags => tags::list_resource_tags,
        GetKeyPolicy => policies::get_key_policy,
        PutKeyPolicy => policies::put_key_policy,
        ListKeyPolicies => policies::list_key_policies,
        CreateGrant => grants::create_grant,
        ListGrants => grants::list_grants,
        ListRetirableGrants => grants::list_retirable_grants,
        RetireGrant => grants::retire_grant,
        RevokeGrant => grants::revoke_grant,
        GetParametersForImport => import::get_parameters_for_import,
        ImportKeyMaterial => import::import_key_material,
        DeleteImportedKeyMaterial => import::delete_imported_key_material,
        UpdatePrimaryRegion => multi_region::update_primary_region,
    }
}

/// Reads a request body into its wire struct and checks it against the
/// model's constraints ([`trent_wire::parse_request`]: an empty body reads
/// as `{}`, as AWS does).
fn parse<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, ApiError> {
    trent_wire::parse_request(body).map_err(|e| match e {
        RequestError::Json(e) => {
            // The message names where parsing failed but never echoes the
            // input, which may hold plaintext.
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "is not valid JSON"
                }
                serde_json::error::Category::Data => "has a member of the wrong type or encoding",
                serde_json::error::Category::Io => "could not be read",
            };
            ApiError::new(
                ErrorCode::SerializationException,
                format!(
                    "The request body {what} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        }
        RequestError::Invalid(e) => e.into(),
    })
}

fn respond<T: Serialize>(response: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(response).map_err(|e| {
        let mut error = ApiError::internal();
        error.detail = Some(format!("serializing response: {e}"));
        error
    })
}

/// Unix milliseconds to the epoch seconds KMS's JSON uses for dates.
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A `Limit` parameter with its default.
fn limit(requested: Option<i32>, default: usize) -> usize {
    requested.map_or(default, |l| l.max(1) as usize)
}

/// `DryRun: true` answers as AWS does once all checks have passed.
fn dry_run(flag: Option<bool>) -> Result<(), ApiError> {
    if flag == Some(true) {
        return Err(ApiError::new(
            ErrorCode::DryRunOperationException,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}
