//! IAM and STS over the AWS Query protocol, on the same endpoint as KMS.
//!
//! A request is `POST /` with a form-encoded body
//! (`Action=CreateUser&Version=2010-05-08&UserName=alice`), signed with
//! SigV4 for the service `iam` or `sts`; the credential scope picks the
//! service, the `Action` the operation. Answers are XML in the service's
//! namespace: `<CreateUserResponse><CreateUserResult>…</CreateUserResult>
//! <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
//! </CreateUserResponse>`, and errors are `<ErrorResponse>` with the Query
//! protocol's codes (`NoSuchEntity`, `InvalidClientTokenId`, …), mapped here
//! from [`IamError`] and from the authenticator's errors.
//!
//! `actions.rs` has the IAM actions, `sts.rs` the STS ones; both only turn
//! parameters into typed calls on [`trent_core::Identities`] and records
//! into XML.

mod actions;
mod params;
mod sts;
mod xml;

use crate::error::ApiError;
use crate::{AppState, MAX_BODY_BYTES};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures_util::FutureExt;
use params::Params;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use trent_core::IamError;
use trent_core::audit::EventSource;
use trent_wire::ErrorCode;
use xml::Xml;

/// The content type of Query-protocol requests.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// The content type of Query-protocol responses.
const XML_CONTENT_TYPE: &str = "text/xml";

/// Whether a request speaks the Query protocol (and belongs here).
pub fn is_query_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..FORM_CONTENT_TYPE.len()))
        .is_some_and(|v| v.eq_ignore_ascii_case(FORM_CONTENT_TYPE))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Iam,
    Sts,
}

impl Service {
    /// The service of a credential scope, if it is one of ours.
    fn from_scope(service: &str) -> Option<Self> {
        match service {
            "iam" => Some(Service::Iam),
            "sts" => Some(Service::Sts),
            _ => None,
        }
    }

    /// The service an action belongs to, for requests whose scope names
    /// neither (so that the signature error names the right service).
    fn of_action(action: Option<&str>) -> Self {
        match action {
            Some(a) if sts::ACTIONS.contains(&a) => Service::Sts,
            _ => Service::Iam,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Service::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            Service::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Service::Iam => "2010-05-08",
            Service::Sts => "2011-06-15",
        }
    }

    /// The code of internal failures: IAM models `ServiceFailure`; STS
    /// answers with the common `InternalFailure`.
    fn internal_code(self) -> &'static str {
        match self {
            Service::Iam => "ServiceFailure",
            Service::Sts => "InternalFailure",
        }
    }
}

/// An error as a Query-protocol caller sees it.
#[derive(Debug)]
pub(crate) struct QueryError {
    /// `None`: an internal failure (the code depends on the service).
    code: Option<&'static str>,
    message: String,
    status: StatusCode,
    /// What went wrong inside, for the log only.
    detail: Option<String>,
}

impl QueryError {
    fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            message: message.into(),
            status,
            detail: None,
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", StatusCode::BAD_REQUEST, message)
    }

    fn invalid_action(action: &str, version: &str) -> Self {
        Self::new(
            "InvalidAction",
            StatusCode::BAD_REQUEST,
            format!("Could not find operation {action} for version {version}"),
        )
    }

    fn internal(detail: Option<String>) -> Self {
        Self {
            code: None,
            message: "An internal error occurred. Try again later.".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail,
        }
    }
}

impl From<IamError> for QueryError {
    fn from(e: IamError) -> Self {
        let (code, status) = match &e {
            IamError::NoSuchEntity(_) => ("NoSuchEntity", StatusCode::NOT_FOUND),
            IamError::EntityAlreadyExists(_) => ("EntityAlreadyExists", StatusCode::CONFLICT),
            IamError::DeleteConflict(_) => ("DeleteConflict", StatusCode::CONFLICT),
            IamError::MalformedPolicy(_) => ("MalformedPolicyDocument", StatusCode::BAD_REQUEST),
            IamError::LimitExceeded(_) => ("LimitExceeded", StatusCode::CONFLICT),
            IamError::Validation(_) => ("ValidationError", StatusCode::BAD_REQUEST),
            IamError::AccessDenied(_) => ("AccessDenied", StatusCode::FORBIDDEN),
            IamError::ExpiredToken => ("ExpiredToken", StatusCode::FORBIDDEN),
            IamError::Internal(_) => return QueryError::internal(Some(e.to_string())),
        };
        QueryError::new(code, status, e.to_string())
    }
}

/// The authenticator speaks the JSON protocol's codes; the Query protocol
/// has its own names (and statuses) for the same failures.
fn auth_error(e: ApiError) -> QueryError {
    let (code, status) = match e.code {
        ErrorCode::MissingAuthenticationTokenException => {
            ("MissingAuthenticationToken", StatusCode::FORBIDDEN)
        }
        ErrorCode::IncompleteSignatureException => ("IncompleteSignature", StatusCode::BAD_REQUEST),
        ErrorCode::InvalidSignatureException => ("SignatureDoesNotMatch", StatusCode::FORBIDDEN),
        ErrorCode::UnrecognizedClientException => ("InvalidClientTokenId", StatusCode::FORBIDDEN),
        ErrorCode::ExpiredTokenException => ("ExpiredToken", StatusCode::FORBIDDEN),
        ErrorCode::AccessDeniedException => ("AccessDenied", StatusCode::FORBIDDEN),
        _ => return QueryError::internal(e.detail.or(Some(e.message))),
    };
    QueryError::new(code, status, e.message)
}

/// Serves one Query-protocol request: every outcome, panics included, is
/// an XML response carrying `request_id`.
pub async fn handle(
    state: &AppState,
    request: Request,
    source_ip: Option<IpAddr>,
    ids: &crate::RequestId,
) -> Response {
    let request_id = ids.as_str();
    let (parts, body) = request.into_parts();
    if parts.uri.path() != "/" {
        let e = QueryError::new(
            "InvalidAction",
            StatusCode::NOT_FOUND,
            format!("No operation at path {}", parts.uri.path()),
        );
        return error_response(Service::Iam, e, request_id);
    }
    if parts.method != Method::POST {
        let e = QueryError::new(
            "InvalidAction",
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "Method {} is not supported; Query requests are POST /",
                parts.method
            ),
        );
        return error_response(Service::Iam, e, request_id);
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        let e = QueryError::new(
            "ValidationError",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
        );
        return error_response(Service::Iam, e, request_id);
    };
    let params = Params::parse(&body);
    let scope_service = trent_sigv4::parse_request_authorization(&parts.headers)
        .ok()
        .and_then(|auth| Service::from_scope(auth.service));
    let service = scope_service.unwrap_or_else(|| Service::of_action(params.get("Action")));

    let req = trent_sigv4::RequestParts::from_http(&parts, &body);
    let secure_transport = crate::transport::is_secure(&parts.extensions);
    let mut caller = None;
    let outcome = AssertUnwindSafe(serve(
        state,
        &req,
        &params,
        service,
        (source_ip, secure_transport),
        request_id,
        &mut caller,
    ))
    .catch_unwind()
    .await;
    let mut result = outcome.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(request_id, panic = what, "IAM/STS handler panicked");
        Err(QueryError::internal(None))
    });
    if let Some(log) = &state.audit {
        let auth = trent_sigv4::parse_request_authorization(&parts.headers).ok();
        let region = match (&caller, &auth) {
            (Some(c), _) => c.region.clone(),
            (None, Some(a)) => a.region.to_owned(),
            (None, None) => String::new(),
        };
        let claimed = auth
            .filter(|_| caller.is_none())
            .map(|a| a.access_key_id.to_owned());
        let error = result.as_ref().err().map(|e| {
            (
                e.code.unwrap_or_else(|| service.internal_code()).to_owned(),
                e.message.clone(),
            )
        });
        let mut event = crate::audit::api_event(
            match service {
                Service::Iam => EventSource::Iam,
                Service::Sts => EventSource::Sts,
            },
            params.get("Action").unwrap_or_default().to_owned(),
            trent_core::audit::intern(&region),
            caller.as_ref(),
            claimed,
            source_ip,
            crate::user_agent(&parts.headers),
            ids.id(),
            error,
        );
        event.request_parameters = crate::audit::query_parameters(params.pairs()).map(Into::into);
        // IAM and STS changes (and issued sessions) are acknowledged only
        // once their event is committed.
        if result.is_ok() && (!event.read_only || service == Service::Sts) {
            if let Err(e) = log.record_durable(event).await {
                result = Err(QueryError::internal(Some(e.to_string())));
            }
        } else {
            log.record(event).await;
        }
    }
    match result {
        Ok(xml) => xml_response(StatusCode::OK, xml, request_id),
        Err(e) => error_response(service, e, request_id),
    }
}

async fn serve(
    state: &AppState,
    req: &trent_sigv4::RequestParts<'_>,
    params: &Params,
    service: Service,
    (source_ip, secure_transport): (Option<IpAddr>, bool),
    request_id: &str,
    audit_caller: &mut Option<trent_core::Caller>,
) -> Result<String, QueryError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let caller = state
        .auth
        .authenticate(
            &state.identities,
            req,
            now,
            service.name(),
            source_ip,
            secure_transport,
        )
        .await
        .map_err(auth_error)?;
    *audit_caller = Some(caller.clone());

    let Some(action) = params.get("Action").filter(|a| !a.is_empty()) else {
        return Err(QueryError::new(
            "MissingAction",
            StatusCode::BAD_REQUEST,
            "Missing Action",
        ));
    };
    if let Some(version) = params.get("Version")
        && version != service.version()
    {
        return Err(QueryError::invalid_action(action, version));
    }
    // A change (or an issued session) the audit trail cannot record now is
    // refused before it happens.
    let mutation = service == Service::Sts || !crate::audit::is_read_only(action);
    if let Some(log) = &state.audit
        && !log.stats().accepts(mutation)
    {
        tracing::warn!(
            request_id,
            action,
            "audit trail unavailable; request refused"
        );
        return Err(QueryError::new(
            "ServiceUnavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            "The audit trail cannot record this request now; retry later.",
        ));
    }
    let mut result = Xml::new();
    let known = match service {
        Service::Iam => {
            actions::dispatch(&state.identities, &caller, action, params, &mut result).await?
        }
        Service::Sts => {
            sts::dispatch(&state.identities, &caller, action, params, &mut result).await?
        }
    };
    if !known {
        return Err(QueryError::invalid_action(action, service.version()));
    }

    let mut out = Xml::new();
    let response_tag = format!("{action}Response");
    out.open_ns(&response_tag, service.namespace());
    if !result.is_empty() {
        out.element(&format!("{action}Result"), |x| x.raw(result.as_str()));
    }
    out.element("ResponseMetadata", |x| x.text("RequestId", request_id));
    out.close(&response_tag);
    Ok(out.into_string())
}

fn error_response(service: Service, e: QueryError, request_id: &str) -> Response {
    if let Some(detail) = &e.detail {
        tracing::error!(request_id, error = %detail, "internal error");
    }
    let code = e.code.unwrap_or_else(|| service.internal_code());
    let mut out = Xml::new();
    out.open_ns("ErrorResponse", service.namespace());
    out.element("Error", |x| {
        x.text(
            "Type",
            if e.status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            },
        );
        x.text("Code", code);
        x.text("Message", &e.message);
    });
    out.text("RequestId", request_id);
    out.close("ErrorResponse");
    xml_response(e.status, out.into_string(), request_id)
}

fn xml_response(status: StatusCode, xml: String, request_id: &str) -> Response {
    let mut response = Response::new(Body::from(xml));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(XML_CONTENT_TYPE),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}
