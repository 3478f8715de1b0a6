//! CloudTrail's `LookupEvents` (AWS JSON 1.1, SigV4 service `cloudtrail`)
//! on the same endpoint, so that `aws cloudtrail lookup-events` reads
//! Trent's audit trail. Only the caller's account's events; root may, IAM
//! identities need `cloudtrail:LookupEvents`. Errors use CloudTrail's codes
//! (`InvalidLookupAttributesException`, …), which the KMS model's
//! `ErrorCode` does not have, so this module renders its own.

use crate::auth::AuthError;
use crate::metrics::{Metrics, OtherOperation};
use crate::pipeline::{Asked, AuditFacts, MAX_NAME, Named, Protocol, Refusal, Served, bounded};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use trent_core::audit::lookup::LookupAttribute;
use trent_core::audit::{AuditRecord, EventSource, parse_rfc3339_ms};
use trent_core::quotas::QuotaClass;
use trent_core::{KmsError, LookupEvents};

/// The target prefixes of CloudTrail's operations (botocore sends the
/// long one).
const TARGET_PREFIXES: [&str; 2] = [
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.",
    "CloudTrail_20131101.",
];

/// Largest page, and the default.
const MAX_RESULTS: i64 = 50;

/// The CloudTrail operation a request names, if it is one.
pub fn operation(headers: &HeaderMap) -> Option<&str> {
    let target = headers.get(crate::X_AMZ_TARGET)?.to_str().ok()?;
    TARGET_PREFIXES
        .iter()
        .find_map(|prefix| target.strip_prefix(prefix))
}

/// A CloudTrail error: its `__type`, message and status.
#[derive(Debug)]
pub(crate) struct TrailError {
    code: String,
    message: String,
    status: StatusCode,
    detail: Option<String>,
}

impl TrailError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
            detail: None,
        }
    }

    fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    fn internal(detail: String) -> Self {
        let mut e = TrailError::new(
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        )
        .with_status(StatusCode::INTERNAL_SERVER_ERROR);
        e.detail = Some(detail);
        e
    }

    /// What the pipeline refused, in CloudTrail's words (its JSON protocol
    /// shares KMS's protocol-level codes).
    fn refusal(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoSuchPath(_) | Refusal::MethodNotAllowed(_) => TrailError::new(
                "UnknownOperationException",
                "CloudTrail requests are POST /",
            ),
            Refusal::UnsupportedMediaType(content_type) => TrailError::new(
                "SerializationException",
                format!(
                    "Content-Type must be {}, not '{content_type}'",
                    crate::CONTENT_TYPE
                ),
            )
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            Refusal::BodyTooLarge => {
                TrailError::new("ValidationException", "Request body is too large")
                    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            }
            Refusal::BodyTimeout => TrailError::new(
                "RequestTimeoutException",
                "The request body did not arrive in time",
            )
            .with_status(StatusCode::REQUEST_TIMEOUT),
            Refusal::BodyUnreadable => TrailError::new(
                "SerializationException",
                "The request body could not be read",
            ),
            Refusal::Unauthenticated(AuthError::SigV4(e)) => {
                TrailError::new(e.code(), e.to_string())
            }
            Refusal::Unauthenticated(AuthError::ExpiredToken) => TrailError::new(
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
            Refusal::Unauthenticated(AuthError::Unavailable(detail)) => {
                let mut error = TrailError::new(
                    "ServiceUnavailableException",
                    "The trail cannot be read now; retry later.",
                )
                .with_status(StatusCode::SERVICE_UNAVAILABLE);
                error.detail = Some(detail);
                error
            }
            Refusal::Unauthenticated(AuthError::Internal(detail)) | Refusal::Internal(detail) => {
                TrailError::internal(detail)
            }
            Refusal::MissingOperation => {
                TrailError::new("UnknownOperationException", "Missing X-Amz-Target header")
            }
            Refusal::UnknownOperation(name) => TrailError::new(
                "UnknownOperationException",
                format!("Trent supports only CloudTrail's LookupEvents, not {name}"),
            ),
            Refusal::Throttled => TrailError::new("ThrottlingException", "Rate exceeded"),
            Refusal::AuditUnavailable => TrailError::new(
                "ServiceUnavailableException",
                "The audit trail cannot record this request now; retry later.",
            )
            .with_status(StatusCode::SERVICE_UNAVAILABLE),
        }
    }
}

impl From<KmsError> for TrailError {
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::InvalidMarker(_) => TrailError::new(
                "InvalidNextTokenException",
                "Invalid token or token that was previously used in a request with different parameters.",
            ),
            KmsError::AccessDenied(message) => TrailError::new("AccessDeniedException", message),
            KmsError::Throttled(_) => TrailError::new("ThrottlingException", "Rate exceeded"),
            KmsError::Unavailable(source) => {
                let mut error = TrailError::new(
                    "ServiceUnavailableException",
                    "The trail cannot be read now; retry later.",
                )
                .with_status(StatusCode::SERVICE_UNAVAILABLE);
                error.detail = Some(source.to_string());
                error
            }
            // LookupEvents reads the trail and nothing else: any other
            // domain error is a failure inside.
            KmsError::NotFound(_)
            | KmsError::Disabled(_)
            | KmsError::InvalidState(_)
            | KmsError::InvalidCiphertext(_)
            | KmsError::IncorrectKey(_)
            | KmsError::InvalidKeyUsage(_)
            | KmsError::AlreadyExists(_)
            | KmsError::InvalidAliasName(_)
            | KmsError::Validation(_)
            | KmsError::MalformedPolicy(_)
            | KmsError::Tag(_)
            | KmsError::LimitExceeded(_)
            | KmsError::Unsupported(_)
            | KmsError::InvalidGrantToken(_)
            | KmsError::IncorrectKeyMaterial(_)
            | KmsError::InvalidImportToken(_)
            | KmsError::ExpiredImportToken(_)
            | KmsError::InvalidSignature(_)
            | KmsError::InvalidMac(_)
            | KmsError::DryRun
            | KmsError::Internal(_) => TrailError::internal(e.to_string()),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupEventsRequest {
    #[serde(default)]
    lookup_attributes: Option<Vec<LookupAttributeRequest>>,
    #[serde(default)]
    start_time: Option<Value>,
    #[serde(default)]
    end_time: Option<Value>,
    #[serde(default)]
    event_category: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupAttributeRequest {
    #[serde(default)]
    attribute_key: Option<String>,
    #[serde(default)]
    attribute_value: Option<String>,
}

/// CloudTrail's operations (Trent serves one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrailOperation {
    LookupEvents,
}

/// CloudTrail over AWS JSON 1.1 (`X-Amz-Target:
/// CloudTrail_20131101.<Operation>`), SigV4 service `cloudtrail`.
pub(crate) struct CloudTrail;

impl Protocol for CloudTrail {
    type Operation = TrailOperation;
    type Scope = ();
    type Error = TrailError;

    fn check(&self, parts: &Parts) -> Result<(), Refusal> {
        crate::api::check_json(parts)
    }

    fn asked(&self, parts: &Parts, _body: &[u8]) -> Asked<TrailOperation, ()> {
        let operation = match operation(&parts.headers) {
            Some("LookupEvents") => Named::Known(TrailOperation::LookupEvents),
            Some(other) => Named::Unknown(bounded(other, MAX_NAME).to_owned()),
            None => Named::Missing,
        };
        Asked {
            operation,
            scope: (),
        }
    }

    fn service(&self, _asked: &Asked<TrailOperation, ()>) -> &'static str {
        "cloudtrail"
    }

    fn name(&self, operation: TrailOperation) -> &'static str {
        match operation {
            TrailOperation::LookupEvents => "LookupEvents",
        }
    }

    fn source(&self, _asked: &Asked<TrailOperation, ()>) -> EventSource {
        EventSource::CloudTrail
    }

    fn read_only(&self, _operation: TrailOperation) -> bool {
        true
    }

    fn quota(&self, _operation: TrailOperation) -> Option<QuotaClass> {
        Some(QuotaClass::LookupEvents)
    }

    fn is_throttling(&self, error: &TrailError) -> bool {
        error.code == "ThrottlingException"
    }

    fn durable(&self, _operation: TrailOperation) -> bool {
        false
    }

    fn refuse(&self, _asked: &Asked<TrailOperation, ()>, refusal: Refusal) -> TrailError {
        TrailError::refusal(refusal)
    }

    fn describe<'e>(
        &self,
        _asked: &Asked<TrailOperation, ()>,
        error: &'e TrailError,
    ) -> (&'e str, &'e str, Option<&'e str>) {
        (&error.code, &error.message, error.detail.as_deref())
    }

    async fn serve(
        &self,
        request: Served<'_, TrailOperation, ()>,
        audit: &mut AuditFacts,
    ) -> Result<Vec<u8>, TrailError> {
        let Served {
            state,
            caller,
            operation: TrailOperation::LookupEvents,
            body,
            ..
        } = request;
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            body
        };
        let request: LookupEventsRequest = serde_json::from_slice(body).map_err(|e| {
            TrailError::new(
                "SerializationException",
                format!(
                    "The request body is not a valid LookupEvents request (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        audit.request_parameters = Some(recorded_parameters(&request).to_string().into());
        let Some(lookup) = validate(request)? else {
            // EventCategory=insight: Trent records no Insights events.
            return Ok(b"{\"Events\":[]}".to_vec());
        };
        let page = state.kms.lookup_events(caller, &lookup).await?;
        let events: Vec<Value> = page.items.iter().map(event).collect();
        let mut out = json!({ "Events": events });
        if let Some(token) = page.next_marker {
            out["NextToken"] = token.into();
        }
        Ok(out.to_string().into_bytes())
    }

    fn count(
        &self,
        metrics: &Metrics,
        _operation: Option<TrailOperation>,
        error: Option<&TrailError>,
        elapsed: Duration,
    ) {
        metrics.other(OtherOperation::CloudTrail, error.is_none(), elapsed);
    }

    fn respond(
        &self,
        _asked: &Asked<TrailOperation, ()>,
        result: Result<Vec<u8>, TrailError>,
        request_id: &str,
    ) -> Response {
        match result {
            Ok(body) => crate::api::json_response(body, request_id),
            Err(e) => {
                let body = json!({"__type": e.code, "message": e.message}).to_string();
                let mut response = crate::api::json_response(body.into_bytes(), request_id);
                *response.status_mut() = e.status;
                response
            }
        }
    }
}

/// What the trail records of a LookupEvents request (not the token).
fn recorded_parameters(r: &LookupEventsRequest) -> Value {
    let mut p = serde_json::Map::new();
    if let Some(attributes) = &r.lookup_attributes {
        let list: Vec<Value> = attributes
            .iter()
            .map(|a| json!({"attributeKey": a.attribute_key, "attributeValue": a.attribute_value}))
            .collect();
        p.insert("lookupAttributes".into(), list.into());
    }
    for (name, value) in [("startTime", &r.start_time), ("endTime", &r.end_time)] {
        if let Some(v) = value {
            p.insert(name.into(), v.clone());
        }
    }
    if let Some(n) = r.max_results {
        p.insert("maxResults".into(), n.into());
    }
    Value::Object(p)
}

/// A timestamp as AWS JSON sends it (epoch seconds) or as text.
fn time_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && s.abs() < 1e13)
            .map(|s| (s * 1000.0) as i64),
        Value::String(s) => parse_rfc3339_ms(s),
        _ => None,
    }
}

/// Checks a request as CloudTrail does. `None`: a query with no answer
/// (Insights events).
fn validate(r: LookupEventsRequest) -> Result<Option<LookupEvents>, TrailError> {
    let invalid_attributes = |m: &str| TrailError::new("InvalidLookupAttributesException", m);
    let attribute = match r.lookup_attributes.as_deref().unwrap_or_default() {
        [] => None,
        [one] => {
            let key = one.attribute_key.as_deref().unwrap_or_default();
            let attribute = LookupAttribute::parse(key).ok_or_else(|| {
                invalid_attributes(&format!(
                    "Lookup attribute key {key:?} is not one of EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId"
                ))
            })?;
            let value = one.attribute_value.clone().unwrap_or_default();
            if value.is_empty() || value.chars().count() > 2000 {
                return Err(invalid_attributes(
                    "The lookup attribute value must be 1 to 2000 characters long",
                ));
            }
            if attribute == LookupAttribute::ReadOnly && value != "true" && value != "false" {
                return Err(invalid_attributes(
                    "The ReadOnly lookup attribute value must be true or false",
                ));
            }
            Some((attribute, value))
        }
        _ => {
            return Err(invalid_attributes(
                "You cannot specify more than one lookup attribute",
            ));
        }
    };
    let time = |v: &Option<Value>| -> Result<Option<i64>, TrailError> {
        v.as_ref()
            .map(|v| {
                time_ms(v).ok_or_else(|| {
                    TrailError::new(
                        "InvalidTimeRangeException",
                        "The time is not a valid timestamp",
                    )
                })
            })
            .transpose()
    };
    let (start_ms, end_ms) = (time(&r.start_time)?, time(&r.end_time)?);
    if let (Some(start), Some(end)) = (start_ms, end_ms)
        && start > end
    {
        return Err(TrailError::new(
            "InvalidTimeRangeException",
            "The start time must not be after the end time",
        ));
    }
    let limit = r.max_results.unwrap_or(MAX_RESULTS);
    if !(1..=MAX_RESULTS).contains(&limit) {
        return Err(TrailError::new(
            "InvalidMaxResultsException",
            "MaxResults must be between 1 and 50",
        ));
    }
    match r.event_category.as_deref() {
        None => {}
        Some("insight") => return Ok(None),
        Some(other) => {
            return Err(TrailError::new(
                "InvalidEventCategoryException",
                format!("Event category {other:?} is not valid; the only one is insight"),
            ));
        }
    }
    if r.next_token.as_deref() == Some("") {
        return Err(TrailError::new(
            "InvalidNextTokenException",
            "Invalid token or token that was previously used in a request with different parameters.",
        ));
    }
    Ok(Some(LookupEvents {
        attribute,
        start_ms,
        end_ms,
        limit: limit as usize,
        next_token: r.next_token,
    }))
}

/// CloudTrail's `Username` of an event: the IAM user name, `root`, or an
/// assumed role's session name.
fn username(identity: &Value) -> Option<String> {
    if let Some(name) = identity["userName"].as_str() {
        return Some(name.to_owned());
    }
    match identity["type"].as_str() {
        Some("Root") => Some("root".to_owned()),
        Some("AssumedRole") => identity["arn"]
            .as_str()
            .and_then(|arn| arn.rsplit('/').next())
            .map(str::to_owned),
        _ => None,
    }
}

/// One `Events` entry, from the stored CloudTrail JSON.
fn event(record: &AuditRecord) -> Value {
    let v: Value = serde_json::from_str(&record.event_json).unwrap_or(Value::Null);
    let resources: Vec<Value> = v["resources"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| json!({"ResourceType": r["type"], "ResourceName": r["ARN"]}))
                .collect()
        })
        .unwrap_or_default();
    let mut e = json!({
        "EventId": record.event_id,
        "EventName": record.event_name,
        "ReadOnly": v["readOnly"].as_bool().unwrap_or(false).to_string(),
        "EventTime": record.event_time_ms as f64 / 1000.0,
        "EventSource": v["eventSource"],
        "Resources": resources,
        "CloudTrailEvent": record.event_json,
    });
    if let Some(id) = v["userIdentity"]["accessKeyId"].as_str() {
        e["AccessKeyId"] = id.into();
    }
    if let Some(name) = username(&v["userIdentity"]) {
        e["Username"] = name.into();
    }
    e
}
