//! KMS's errors on the wire: the one mapping from domain errors
//! ([`KmsError`]) and from the request pipeline's refusals ([`Refusal`]) to
//! AWS error codes and HTTP statuses.

use crate::auth::AuthError;
use crate::pipeline::Refusal;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use trent_core::KmsError;
use trent_sigv4::SigV4Error;
use trent_wire::{ErrorCode, ValidationError};

/// AWS's message for a throttled KMS call.
/// A store that cannot answer now, or caches not confirmed current
/// (DependencyTimeoutException: AWS's words are "You can retry the request").
pub(crate) const UNAVAILABLE: &str =
    "The system timed out while trying to fulfill the request. You can retry the request.";
pub const THROTTLED: &str =
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

/// An error as the caller sees it: AWS's `__type`, a message and a status.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub status: StatusCode,
    /// What went wrong inside, for the log only (never sent).
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        Self {
            code,
            message: message.into(),
            status,
            detail: None,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// An internal failure: a generic answer, the detail for the log.
    pub fn internal_from(detail: &dyn std::fmt::Display) -> Self {
        let mut error = Self::internal();
        error.detail = Some(detail.to_string());
        error
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::KMSInternalException,
            "The request could not be completed due to an internal error.",
        )
    }

    /// What the pipeline refused, in KMS's words.
    pub(crate) fn refusal(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoSuchPath(path) => Self::new(
                ErrorCode::UnknownOperationException,
                format!("No operation at path {path}"),
            )
            .with_status(StatusCode::NOT_FOUND),
            Refusal::MethodNotAllowed(method) => Self::new(
                ErrorCode::UnknownOperationException,
                format!("Method {method} is not supported; AWS KMS requests are POST /"),
            )
            .with_status(StatusCode::METHOD_NOT_ALLOWED),
            Refusal::UnsupportedMediaType(content_type) => Self::new(
                ErrorCode::SerializationException,
                format!(
                    "Content-Type must be {}, not '{content_type}'",
                    crate::CONTENT_TYPE
                ),
            )
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            Refusal::BodyTooLarge => Self::new(
                ErrorCode::RequestEntityTooLargeException,
                format!(
                    "Request body is larger than {} bytes",
                    crate::MAX_BODY_BYTES
                ),
            ),
            Refusal::BodyTimeout => Self::new(
                ErrorCode::RequestTimeoutException,
                "The request body did not arrive in time",
            ),
            Refusal::BodyUnreadable => Self::new(
                ErrorCode::SerializationException,
                "The request body could not be read",
            ),
            Refusal::Unauthenticated(AuthError::SigV4(e)) => sigv4_error(e),
            Refusal::Unauthenticated(AuthError::ExpiredToken) => Self::new(
                ErrorCode::ExpiredTokenException,
                "The security token included in the request is expired",
            ),
            Refusal::Unauthenticated(AuthError::Unavailable(detail)) => {
                let mut error = Self::new(ErrorCode::DependencyTimeoutException, UNAVAILABLE);
                error.detail = Some(detail);
                error
            }
            Refusal::Unauthenticated(AuthError::Internal(detail)) | Refusal::Internal(detail) => {
                Self::internal_from(&detail)
            }
            Refusal::MissingOperation => Self::new(
                ErrorCode::UnknownOperationException,
                "Missing X-Amz-Target header",
            ),
            Refusal::UnknownOperation(target) => Self::new(
                ErrorCode::UnknownOperationException,
                format!("Unknown operation {target}"),
            ),
            Refusal::Throttled => Self::new(ErrorCode::ThrottlingException, THROTTLED),
            Refusal::AuditUnavailable => Self::new(
                ErrorCode::DependencyTimeoutException,
                "The audit trail cannot record this request now; retry later.",
            ),
        }
    }

    /// Renders `{"__type": ..., "message": ...}`; without `message` when
    /// it is empty, as AWS sends the errors it words no message for
    /// (InvalidCiphertextException from Decrypt: boto3 shows "...when
    /// calling the Decrypt operation: " and nothing after), never
    /// `"message": ""`.
    pub fn into_response_with_id(self, request_id: &str) -> Response {
        let body = if self.message.is_empty() {
            serde_json::json!({ "__type": self.code.as_str() })
        } else {
            serde_json::json!({ "__type": self.code.as_str(), "message": self.message })
        };
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::CONTENT_TYPE),
        );
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-requestid", id);
        }
        response
    }
}

/// SigV4 failures as AWS's JSON services answer them (all 400).
pub(crate) fn sigv4_error(e: SigV4Error) -> ApiError {
    let code = match e.code() {
        trent_sigv4::MISSING_AUTHENTICATION_TOKEN => ErrorCode::MissingAuthenticationTokenException,
        trent_sigv4::INCOMPLETE_SIGNATURE => ErrorCode::IncompleteSignatureException,
        trent_sigv4::UNRECOGNIZED_CLIENT => ErrorCode::UnrecognizedClientException,
        _ => ErrorCode::InvalidSignatureException,
    };
    ApiError::new(code, e.to_string())
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::new(ErrorCode::ValidationException, e.to_string())
    }
}

impl From<KmsError> for ApiError {
    fn from(e: KmsError) -> Self {
        let code = match &e {
            KmsError::NotFound(_) => ErrorCode::NotFoundException,
            KmsError::Disabled(_) => ErrorCode::DisabledException,
            KmsError::InvalidState(_) => ErrorCode::KMSInvalidStateException,
            KmsError::InvalidCiphertext(_) => ErrorCode::InvalidCiphertextException,
            KmsError::IncorrectKey(_) => ErrorCode::IncorrectKeyException,
            KmsError::InvalidKeyUsage(_) => ErrorCode::InvalidKeyUsageException,
            KmsError::AlreadyExists(_) => ErrorCode::AlreadyExistsException,
            KmsError::InvalidAliasName(_) => ErrorCode::InvalidAliasNameException,
            KmsError::Validation(_) => ErrorCode::ValidationException,
            KmsError::MalformedPolicy(_) => ErrorCode::MalformedPolicyDocumentException,
            KmsError::Tag(_) => ErrorCode::TagException,
            KmsError::LimitExceeded(_) => ErrorCode::LimitExceededException,
            KmsError::InvalidMarker(_) => ErrorCode::InvalidMarkerException,
            KmsError::Unsupported(_) => ErrorCode::UnsupportedOperationException,
            KmsError::AccessDenied(_) => ErrorCode::AccessDeniedException,
            KmsError::InvalidGrantToken(_) => ErrorCode::InvalidGrantTokenException,
            KmsError::IncorrectKeyMaterial(_) => ErrorCode::IncorrectKeyMaterialException,
            KmsError::InvalidImportToken(_) => ErrorCode::InvalidImportTokenException,
            KmsError::ExpiredImportToken(_) => ErrorCode::ExpiredImportTokenException,
            KmsError::InvalidSignature(_) => ErrorCode::KMSInvalidSignatureException,
            KmsError::InvalidMac(_) => ErrorCode::KMSInvalidMacException,
            KmsError::DryRun => ErrorCode::DryRunOperationException,
            KmsError::Throttled(_) => {
                return ApiError::new(ErrorCode::ThrottlingException, THROTTLED);
            }
            KmsError::Internal(source) => return ApiError::internal_from(source),
            KmsError::Unavailable(source) => {
                let mut error = ApiError::new(ErrorCode::DependencyTimeoutException, UNAVAILABLE);
                error.detail = Some(source.to_string());
                return error;
            }
        };
        ApiError::new(code, e.to_string())
    }
}
