//! CloudTrail's `LookupEvents` (AWS JSON 1.1, SigV4 service `cloudtrail`)
//! on the same endpoint, so that `aws cloudtrail lookup-events` reads
//! Trent's audit trail. Only the caller's account's events; root may, IAM
//! identities need `cloudtrail:LookupEvents`. Errors use CloudTrail's codes
//! (`InvalidLookupAttributesException`, …), which the KMS model's
//! `ErrorCode` does not have, so this module renders its own.

use crate::error::ApiError;
use crate::{AppState, CONTENT_TYPE, MAX_BODY_BYTES, auth};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use trent_core::audit::lookup::LookupAttribute;
use trent_core::audit::{AuditRecord, EventSource, parse_rfc3339_ms};
use trent_core::{Caller, KmsError, LookupEvents};

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
    let target = headers.get("x-amz-target")?.to_str().ok()?;
    TARGET_PREFIXES
        .iter()
        .find_map(|prefix| target.strip_prefix(prefix))
}

/// A CloudTrail error: its `__type`, message and status.
#[derive(Debug)]
struct TrailError {
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
}

impl From<ApiError> for TrailError {
    fn from(e: ApiError) -> Self {
        Self {
            code: e.code.as_str().to_owned(),
            message: e.message,
            status: e.status,
            detail: e.detail,
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
            other => {
                let mut error = TrailError::new(
                    "InternalFailure",
                    "The request processing has failed because of an unknown error.",
                );
                error.status = StatusCode::INTERNAL_SERVER_ERROR;
                error.detail = Some(other.to_string());
                error
            }
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

/// What the audit trail records of the call.
#[derive(Default)]
struct Facts {
    caller: Option<Caller>,
    claimed_access_key: Option<String>,
    claimed_region: Option<String>,
    request_parameters: Option<Value>,
}

pub async fn handle(
    state: &AppState,
    request: Request,
    peer: IpAddr,
    ids: &crate::RequestId,
) -> Response {
    let request_id = ids.as_str();
    let name = operation(request.headers()).unwrap_or_default().to_owned();
    let user_agent = crate::user_agent(request.headers());
    let mut facts = Facts::default();
    let outcome = AssertUnwindSafe(handle_inner(state, request, peer, &name, &mut facts))
        .catch_unwind()
        .await;
    let result = outcome.unwrap_or_else(|_| {
        tracing::error!(request_id, "cloudtrail handler panicked");
        let mut e = TrailError::new("InternalFailure", "The request processing has failed.");
        e.status = StatusCode::INTERNAL_SERVER_ERROR;
        Err(e)
    });
    if let Some(log) = &state.audit {
        let region = match &facts.caller {
            Some(c) => c.region.clone(),
            None => facts.claimed_region.take().unwrap_or_default(),
        };
        let error = result
            .as_ref()
            .err()
            .map(|e| (e.code.clone(), e.message.clone()));
        let mut event = crate::audit::api_event(
            EventSource::CloudTrail,
            name,
            trent_core::audit::intern(&region),
            facts.caller.as_ref(),
            facts.claimed_access_key.take(),
            Some(peer),
            user_agent,
            ids.id(),
            error,
        );
        event.read_only = true;
        event.request_parameters = facts
            .request_parameters
            .take()
            .map(|v| v.to_string().into());
        log.record(event).await;
    }
    let (status, body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err(e) => {
            if let Some(detail) = &e.detail {
                tracing::error!(request_id, error = %detail, "internal error");
            }
            let body = json!({"__type": e.code, "message": e.message}).to_string();
            (e.status, body.into_bytes())
        }
    };
    let mut response = (status, Body::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

async fn handle_inner(
    state: &AppState,
    request: Request,
    peer: IpAddr,
    name: &str,
    facts: &mut Facts,
) -> Result<Vec<u8>, TrailError> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST || parts.uri.path() != "/" {
        return Err(TrailError::new(
            "UnknownOperationException",
            "CloudTrail requests are POST /",
        ));
    }
    let body: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| TrailError::new("ValidationException", "Request body is too large"))?;
    let now = trent_core::now_millis() / 1000;
    let req = trent_sigv4::RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
    };
    let caller = match state
        .auth
        .authenticate(
            &state.identities,
            &req,
            now,
            "cloudtrail",
            Some(peer),
            crate::transport::is_secure(&parts.extensions),
        )
        .await
    {
        Ok(caller) => caller,
        Err(e) => {
            if let Some((access_key, region)) = auth::claimed(&parts.headers) {
                facts.claimed_access_key = Some(access_key);
                facts.claimed_region = Some(region);
            }
            return Err(e.into());
        }
    };
    facts.caller = Some(caller.clone());
    if let Some(log) = &state.audit
        && !log.stats().accepts(false)
    {
        let mut e = TrailError::new(
            "ServiceUnavailableException",
            "The audit trail cannot record this request now; retry later.",
        );
        e.status = StatusCode::SERVICE_UNAVAILABLE;
        return Err(e);
    }
    if name != "LookupEvents" {
        return Err(TrailError::new(
            "UnknownOperationException",
            format!("Trent supports only CloudTrail's LookupEvents, not {name}"),
        ));
    }
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
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
    facts.request_parameters = Some(recorded_parameters(&request));
    let lookup = validate(request)?;
    if lookup.is_none() {
        // EventCategory=insight: Trent records no Insights events.
        return Ok(b"{\"Events\":[]}".to_vec());
    }
    let lookup = lookup.expect("checked above");
    let page = state.kms.lookup_events(&caller, &lookup).await?;
    let events: Vec<Value> = page.items.iter().map(event).collect();
    let mut out = json!({ "Events": events });
    if let Some(token) = page.next_marker {
        out["NextToken"] = token.into();
    }
    Ok(out.to_string().into_bytes())
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
