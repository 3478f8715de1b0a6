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
mod sts;
mod xml;

use crate::auth::AuthError;
use crate::error::UNAVAILABLE;
use crate::metrics::{Metrics, OtherOperation};
use crate::pipeline::{Asked, AuditFacts, MAX_NAME, Named, Protocol, Refusal, Served, bounded};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use std::time::Duration;
use trent_core::IamError;
use trent_core::audit::EventSource;
use trent_core::quotas::QuotaClass;
use trent_wire::query::{ParamError, QueryParams};
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

/// The actions of a service, named by an enum (never by strings).
macro_rules! actions {
    ($(#[$meta:meta])* $enum:ident { $($name:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum $enum { $($name),* }

        impl $enum {
            pub const ALL: &'static [$enum] = &[$($enum::$name),*];

            pub fn name(self) -> &'static str {
                match self { $($enum::$name => stringify!($name)),* }
            }

            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.name() == name)
            }
        }
    };
}

actions!(
    /// The IAM actions Trent serves.
    IamAction {
        CreateUser, GetUser, ListUsers, DeleteUser,
        CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
        CreateRole, GetRole, ListRoles, DeleteRole,
        CreateGroup, GetGroup, ListGroups, ListGroupsForUser, AddUserToGroup, RemoveUserFromGroup, DeleteGroup,
        PutUserPolicy, PutRolePolicy, PutGroupPolicy,
        GetUserPolicy, GetRolePolicy, GetGroupPolicy,
        DeleteUserPolicy, DeleteRolePolicy, DeleteGroupPolicy,
        ListUserPolicies, ListRolePolicies, ListGroupPolicies,
    }
);

actions!(
    /// The STS actions Trent serves.
    StsAction { GetCallerIdentity, AssumeRole }
);

/// An action of either service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryAction {
    Iam(IamAction),
    Sts(StsAction),
}

impl QueryAction {
    pub fn name(self) -> &'static str {
        match self {
            QueryAction::Iam(a) => a.name(),
            QueryAction::Sts(a) => a.name(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Service {
    /// Also what errors use before the service is known.
    #[default]
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

    /// What the pipeline refused, in the Query protocol's words.
    fn refusal(service: Service, refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoSuchPath(path) => Self::new(
                "InvalidAction",
                StatusCode::NOT_FOUND,
                format!("No operation at path {path}"),
            ),
            Refusal::MethodNotAllowed(method) => Self::new(
                "InvalidAction",
                StatusCode::METHOD_NOT_ALLOWED,
                format!("Method {method} is not supported; Query requests are POST /"),
            ),
            Refusal::UnsupportedMediaType(content_type) => Self::new(
                "ValidationError",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Type must be {FORM_CONTENT_TYPE}, not '{content_type}'"),
            ),
            Refusal::BodyTooLarge => Self::new(
                "ValidationError",
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Request body is larger than {} bytes",
                    crate::MAX_BODY_BYTES
                ),
            ),
            Refusal::BodyTimeout => Self::new(
                "RequestTimeout",
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not arrive in time",
            ),
            Refusal::BodyUnreadable => Self::validation("The request body could not be read"),
            Refusal::Unauthenticated(AuthError::SigV4(e)) => {
                let (code, status) = match e.code() {
                    trent_sigv4::MISSING_AUTHENTICATION_TOKEN => {
                        ("MissingAuthenticationToken", StatusCode::FORBIDDEN)
                    }
                    trent_sigv4::INCOMPLETE_SIGNATURE => {
                        ("IncompleteSignature", StatusCode::BAD_REQUEST)
                    }
                    trent_sigv4::UNRECOGNIZED_CLIENT => {
                        ("InvalidClientTokenId", StatusCode::FORBIDDEN)
                    }
                    _ => ("SignatureDoesNotMatch", StatusCode::FORBIDDEN),
                };
                Self::new(code, status, e.to_string())
            }
            Refusal::Unauthenticated(AuthError::ExpiredToken) => Self::new(
                "ExpiredToken",
                StatusCode::FORBIDDEN,
                "The security token included in the request is expired",
            ),
            Refusal::Unauthenticated(AuthError::Internal(detail)) | Refusal::Internal(detail) => {
                Self::internal(Some(detail))
            }
            Refusal::Unauthenticated(AuthError::Unavailable(detail)) => {
                let mut error = Self::new(
                    "ServiceUnavailable",
                    StatusCode::SERVICE_UNAVAILABLE,
                    UNAVAILABLE,
                );
                error.detail = Some(detail);
                error
            }
            Refusal::MissingOperation => {
                Self::new("MissingAction", StatusCode::BAD_REQUEST, "Missing Action")
            }
            Refusal::UnknownOperation(action) => Self::invalid_action(&action, service.version()),
            Refusal::Throttled => Self::new("Throttling", StatusCode::BAD_REQUEST, "Rate exceeded"),
            Refusal::AuditUnavailable => Self::new(
                "ServiceUnavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "The audit trail cannot record this request now; retry later.",
            ),
        }
    }
}

impl From<ParamError> for QueryError {
    fn from(e: ParamError) -> Self {
        QueryError::validation(e.0)
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
            IamError::Unavailable(_) => {
                let mut error = QueryError::new(
                    "ServiceUnavailable",
                    StatusCode::SERVICE_UNAVAILABLE,
                    UNAVAILABLE,
                );
                error.detail = Some(e.to_string());
                return error;
            }
            IamError::Internal(_) => return QueryError::internal(Some(e.to_string())),
        };
        QueryError::new(code, status, e.to_string())
    }
}

/// IAM and STS over the Query protocol.
pub(crate) struct Query;

impl Protocol for Query {
    type Operation = QueryAction;
    type Scope = Service;
    type Error = QueryError;

    fn check(&self, parts: &Parts) -> Result<(), Refusal> {
        if parts.uri.path() != "/" {
            return Err(Refusal::NoSuchPath(
                bounded(parts.uri.path(), MAX_NAME).to_owned(),
            ));
        }
        if parts.method != Method::POST {
            return Err(Refusal::MethodNotAllowed(parts.method.clone()));
        }
        Ok(())
    }

    /// The service is the one the signature's scope names; a request whose
    /// scope names neither (it will fail authentication) is answered in
    /// the words of its action's service.
    fn asked(&self, parts: &Parts, body: &[u8]) -> Asked<QueryAction, Service> {
        let action = trent_wire::query::action(body);
        let action = action.as_deref().filter(|a| !a.is_empty());
        let scope = trent_sigv4::parse_request_authorization(&parts.headers)
            .ok()
            .and_then(|auth| Service::from_scope(auth.service));
        let service = scope.unwrap_or(match action.and_then(StsAction::parse) {
            Some(_) => Service::Sts,
            None => Service::Iam,
        });
        let known = action.and_then(|a| match service {
            Service::Iam => IamAction::parse(a).map(QueryAction::Iam),
            Service::Sts => StsAction::parse(a).map(QueryAction::Sts),
        });
        let operation = match (action, known) {
            (_, Some(known)) => Named::Known(known),
            (Some(other), None) => Named::Unknown(bounded(other, MAX_NAME).to_owned()),
            (None, None) => Named::Missing,
        };
        Asked {
            operation,
            scope: service,
        }
    }

    fn service(&self, asked: &Asked<QueryAction, Service>) -> &'static str {
        asked.scope.name()
    }

    fn name(&self, operation: QueryAction) -> &'static str {
        operation.name()
    }

    fn source(&self, asked: &Asked<QueryAction, Service>) -> EventSource {
        match asked.scope {
            Service::Iam => EventSource::Iam,
            Service::Sts => EventSource::Sts,
        }
    }

    fn read_only(&self, operation: QueryAction) -> bool {
        crate::audit::is_read_only(operation.name())
    }

    fn quota(&self, operation: QueryAction) -> Option<QuotaClass> {
        Some(match operation {
            QueryAction::Iam(_) => QuotaClass::Iam,
            QueryAction::Sts(_) => QuotaClass::Sts,
        })
    }

    fn is_throttling(&self, error: &QueryError) -> bool {
        error.code == Some("Throttling")
    }

    /// IAM changes and issued sessions are acknowledged only once their
    /// event is committed.
    fn durable(&self, operation: QueryAction) -> bool {
        matches!(operation, QueryAction::Sts(_)) || !self.read_only(operation)
    }

    fn refuse(&self, asked: &Asked<QueryAction, Service>, refusal: Refusal) -> QueryError {
        QueryError::refusal(asked.scope, refusal)
    }

    fn describe<'e>(
        &self,
        asked: &Asked<QueryAction, Service>,
        error: &'e QueryError,
    ) -> (&'e str, &'e str, Option<&'e str>) {
        (
            error.code.unwrap_or_else(|| asked.scope.internal_code()),
            &error.message,
            error.detail.as_deref(),
        )
    }

    async fn serve(
        &self,
        request: Served<'_, QueryAction, Service>,
        audit: &mut AuditFacts,
    ) -> Result<Vec<u8>, QueryError> {
        let Served {
            state,
            caller,
            operation,
            scope: service,
            body,
            request_id,
            ..
        } = request;
        let params = QueryParams::parse(body);
        if state.audit.is_some() {
            audit.request_parameters =
                crate::audit::query_parameters(params.pairs()).map(Into::into);
        }
        let action = operation.name();
        if let Some(version) = params.get("Version")
            && version != service.version()
        {
            return Err(QueryError::invalid_action(action, version));
        }
        let mut result = Xml::new();
        match operation {
            QueryAction::Iam(a) => {
                actions::dispatch(&state.identities, caller, a, &params, &mut result).await?
            }
            QueryAction::Sts(a) => {
                sts::dispatch(&state.identities, caller, a, &params, &mut result).await?
            }
        }
        let mut out = Xml::new();
        let response_tag = format!("{action}Response");
        out.open_ns(&response_tag, service.namespace());
        if !result.is_empty() {
            out.element(&format!("{action}Result"), |x| x.raw(result.as_str()));
        }
        out.element("ResponseMetadata", |x| x.text("RequestId", request_id));
        out.close(&response_tag);
        Ok(out.into_string().into_bytes())
    }

    fn count(
        &self,
        metrics: &Metrics,
        _operation: Option<QueryAction>,
        error: Option<&QueryError>,
        elapsed: Duration,
    ) {
        metrics.other(OtherOperation::IamSts, error.is_none(), elapsed);
    }

    fn respond(
        &self,
        asked: &Asked<QueryAction, Service>,
        result: Result<Vec<u8>, QueryError>,
        request_id: &str,
    ) -> Response {
        match result {
            Ok(xml) => xml_response(StatusCode::OK, xml, request_id),
            Err(e) => error_response(asked.scope, e, request_id),
        }
    }
}

fn error_response(service: Service, e: QueryError, request_id: &str) -> Response {
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
    xml_response(e.status, out.into_string().into_bytes(), request_id)
}

fn xml_response(status: StatusCode, xml: Vec<u8>, request_id: &str) -> Response {
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
