//! KMS on the request pipeline: AWS JSON 1.1, `X-Amz-Target:
//! TrentService.<Operation>`, SigV4 service `kms`.

use super::{Captured, dispatch};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::pipeline::{Asked, AuditFacts, MAX_NAME, Named, Protocol, Refusal, Served, bounded};
use crate::{AppState, CONTENT_TYPE};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use std::time::Duration;
use trent_core::audit::EventSource;
use trent_core::quotas::QuotaClass;
use trent_wire::Operation;

/// The KMS protocol.
pub(crate) struct Kms;

/// Whether a request's headers make it a KMS (or CloudTrail) JSON request.
pub(crate) fn is_json(parts: &Parts) -> bool {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    content_type.starts_with(CONTENT_TYPE) || content_type.starts_with("application/x-amz-json-1.0")
}

/// Method, path and content type of an AWS JSON request.
pub(crate) fn check_json(parts: &Parts) -> Result<(), Refusal> {
    if parts.uri.path() != "/" {
        return Err(Refusal::NoSuchPath(
            bounded(parts.uri.path(), MAX_NAME).to_owned(),
        ));
    }
    if parts.method != Method::POST {
        return Err(Refusal::MethodNotAllowed(parts.method.clone()));
    }
    if !is_json(parts) {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return Err(Refusal::UnsupportedMediaType(
            bounded(content_type, MAX_NAME).to_owned(),
        ));
    }
    Ok(())
}

impl Protocol for Kms {
    type Operation = Operation;
    type Scope = ();
    type Error = ApiError;

    fn check(&self, parts: &Parts) -> Result<(), Refusal> {
        check_json(parts)
    }

    fn asked(&self, parts: &Parts, _body: &[u8]) -> Asked<Operation, ()> {
        let operation = match parts
            .headers
            .get(crate::X_AMZ_TARGET)
            .map(|v| v.to_str().unwrap_or(""))
        {
            None => Named::Missing,
            Some(target) => match Operation::from_target(target) {
                Some(op) => Named::Known(op),
                None => Named::Unknown(bounded(target, MAX_NAME).to_owned()),
            },
        };
        Asked {
            operation,
            scope: (),
        }
    }

    fn service(&self, _asked: &Asked<Operation, ()>) -> &'static str {
        "kms"
    }

    fn regions<'s>(&self, state: &'s AppState) -> &'s [String] {
        &state.regions
    }

    fn name(&self, operation: Operation) -> &'static str {
        operation.name()
    }

    fn source(&self, _asked: &Asked<Operation, ()>) -> EventSource {
        EventSource::Kms
    }

    fn read_only(&self, operation: Operation) -> bool {
        crate::audit::is_read_only(operation.name())
    }

    fn quota(&self, operation: Operation) -> Option<QuotaClass> {
        (!trent_core::quotas::counts_by_key(operation)).then_some(QuotaClass::Operation(operation))
    }

    fn is_throttling(&self, error: &ApiError) -> bool {
        error.code == trent_wire::ErrorCode::ThrottlingException
    }

    fn durable(&self, operation: Operation) -> bool {
        !self.read_only(operation)
    }

    fn refuse(&self, _asked: &Asked<Operation, ()>, refusal: Refusal) -> ApiError {
        ApiError::refusal(refusal)
    }

    fn describe<'e>(
        &self,
        _asked: &Asked<Operation, ()>,
        error: &'e ApiError,
    ) -> (&'e str, &'e str, Option<&'e str>) {
        (error.code.as_str(), &error.message, error.detail.as_deref())
    }

    async fn serve(
        &self,
        request: Served<'_, Operation, ()>,
        audit: &mut AuditFacts,
    ) -> Result<Vec<u8>, ApiError> {
        let Served {
            state,
            caller,
            operation,
            body,
            ..
        } = request;
        let mut captured = None;
        let result = dispatch(
            &state.kms,
            caller,
            operation,
            body,
            &state.regions,
            &mut captured,
        )
        .await;
        if state.audit.is_none() {
            return result;
        }
        *audit = match captured {
            Some(Captured {
                request_parameters,
                key_arn,
            }) => AuditFacts {
                request_parameters,
                response_elements: None,
                // Interned: the writer then frees no string of it.
                key_arns: key_arn
                    .iter()
                    .map(|arn| trent_core::audit::intern_key_arn(arn))
                    .collect(),
                elsewhere: Vec::new(),
            },
            None => crate::audit::kms_facts(
                operation.name(),
                Some(caller),
                body,
                result.as_ref().ok().map(Vec::as_slice),
            ),
        };
        if operation == Operation::ReplicateKey
            && let Ok(response) = &result
            && let Some(replica) = replica_arn(response)
        {
            audit.elsewhere.push((Operation::CreateKey.name(), replica));
        }
        result
    }

    fn count(
        &self,
        metrics: &Metrics,
        operation: Option<Operation>,
        error: Option<&ApiError>,
        elapsed: Duration,
    ) {
        metrics.kms(operation, error.map(|e| e.code), elapsed);
    }

    fn respond(
        &self,
        _asked: &Asked<Operation, ()>,
        result: Result<Vec<u8>, ApiError>,
        request_id: &str,
    ) -> Response {
        match result {
            Ok(body) => json_response(body, request_id),
            Err(e) => e.into_response_with_id(request_id),
        }
    }
}

/// A 200 with an AWS JSON body and the request id.
pub(crate) fn json_response(body: Vec<u8>, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// The replica's ARN in a ReplicateKey response.
fn replica_arn(response: &[u8]) -> Option<String> {
    let response: serde_json::Value = serde_json::from_slice(response).ok()?;
    Some(response["ReplicaKeyMetadata"]["Arn"].as_str()?.to_owned())
}
