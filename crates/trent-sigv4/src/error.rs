//! The one mapping from SigV4 failures to AWS error codes and messages.
//!
//! Messages are the ones AWS's JSON ("coral") services such as KMS and
//! DynamoDB return, as captured from real responses by AWS emulators and
//! AWS's own troubleshooting guide; variants whose cause AWS has no message
//! for say so in their documentation.

use std::fmt;

/// `__type` of requests without (usable) credentials.
pub const MISSING_AUTHENTICATION_TOKEN: &str = "MissingAuthenticationTokenException";
/// `__type` of malformed `Authorization` headers and dates.
pub const INCOMPLETE_SIGNATURE: &str = "IncompleteSignatureException";
/// `__type` of well-formed but wrong signatures, scopes and times.
pub const INVALID_SIGNATURE: &str = "InvalidSignatureException";
/// `__type` of unknown access keys and invalid session tokens.
pub const UNRECOGNIZED_CLIENT: &str = "UnrecognizedClientException";

/// Why a request's SigV4 authentication failed.
///
/// [`code`](SigV4Error::code) gives the AWS `__type` to answer with and
/// `Display` the AWS-style message. All of these are HTTP 400 at AWS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// No `Authorization` header, or one not starting with `AWS4-` (AWS's
    /// JSON services answer `Bearer …`, `AWS …` (SigV2) and the like this way).
    #[error("Request is missing Authentication Token")]
    MissingAuthentication,

    /// `Credential`, `Signature` or `SignedHeaders` is missing from the
    /// `Authorization` header, or the request has neither `X-Amz-Date` nor
    /// `Date`. AWS lists every missing piece, then echoes the header.
    #[error("{}", missing_message(self))]
    MissingParameters {
        /// `Credential=` absent or empty.
        credential: bool,
        /// `Signature=` absent or empty.
        signature: bool,
        /// `SignedHeaders=` absent.
        signed_headers: bool,
        /// Neither an `X-Amz-Date` nor a `Date` header.
        date: bool,
        /// The `Authorization` header value as received.
        authorization: String,
    },

    /// A component of the `Authorization` header without `=`, e.g. from a
    /// space inside the credential.
    #[error(
        "'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
    )]
    MalformedParameter {
        /// The offending component.
        pair: String,
        /// The `Authorization` header value as received.
        authorization: String,
    },

    /// An `AWS4-` algorithm other than `AWS4-HMAC-SHA256` (e.g. SigV4a's
    /// `AWS4-ECDSA-P256-SHA256`).
    #[error("Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now). ")]
    UnsupportedAlgorithm {
        /// The algorithm named by the header.
        algorithm: String,
    },

    /// The credential is not `keyid/date/region/service/aws4_request`
    /// (trailing slashes ignored, as AWS does).
    #[error(
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
    )]
    MalformedCredential {
        /// The `Credential=` value as received.
        credential: String,
    },

    /// The credential scope does not end in `aws4_request`.
    #[error(
        "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
    )]
    InvalidTerminator {
        /// The scope's last element.
        terminator: String,
    },

    /// `X-Amz-Date` (or, without it, `Date`) is not a valid date.
    #[error(
        "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )]
    InvalidDate {
        /// The header value as received (lossily decoded).
        value: String,
    },

    /// The request time is more than 15 minutes before the server's clock.
    #[error("Signature expired: {request} is now earlier than {earliest} ({now} - 15 min.)")]
    SignatureExpired {
        /// The request time, `YYYYMMDD'T'HHMMSS'Z'`.
        request: String,
        /// The earliest accepted time.
        earliest: String,
        /// The server's time.
        now: String,
    },

    /// The request time is more than 15 minutes after the server's clock.
    #[error("Signature not yet current: {request} is still later than {latest} ({now} + 15 min.)")]
    SignatureNotYetCurrent {
        /// The request time, `YYYYMMDD'T'HHMMSS'Z'`.
        request: String,
        /// The latest accepted time.
        latest: String,
        /// The server's time.
        now: String,
    },

    /// The `SignedHeaders` list is not in strictly ascending order (it names
    /// a header twice, or out of order). AWS's signers sort it; a list that
    /// repeats a name would make the canonical request repeat that header's
    /// values once per mention, a request head made into gigabytes to hash.
    #[error("The SignedHeaders list must name each header once, in ascending order: '{list}'")]
    SignedHeadersUnsorted {
        /// The list as received (cut to 256 bytes).
        list: String,
    },

    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,

    /// The credential scope names a region this server does not serve.
    /// [`verify`](crate::verify) does not check regions; servers that
    /// restrict them use [`Authorization::check_region`](crate::Authorization::check_region).
    #[error("Credential should be scoped to a valid region, not '{region}'. ")]
    WrongRegion {
        /// The region named by the scope.
        region: String,
    },

    /// The credential scope names another service.
    #[error("Credential should be scoped to correct service: '{expected}'. ")]
    WrongService {
        /// The service this server is.
        expected: String,
    },

    /// The credential scope's date is not the request date's day.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{request_date}', from '{request}'."
    )]
    ScopeDateMismatch {
        /// The date in the credential scope.
        scope_date: String,
        /// `YYYYMMDD` of the request time.
        request_date: String,
        /// The request time, `YYYYMMDD'T'HHMMSS'Z'`.
        request: String,
    },

    /// A header listed in `SignedHeaders` is absent from the request. AWS
    /// has no specific message for this (the signature cannot match); this
    /// one is Trent's.
    #[error("Header '{name}' is listed in SignedHeaders but is not present in the request.")]
    SignedHeaderMissing {
        /// The header name as listed.
        name: String,
    },

    /// The signed `x-amz-content-sha256` header is not the SHA-256 of the
    /// body. (Message as S3's `XAmzContentSHA256Mismatch`.)
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,

    /// `x-amz-content-sha256` is `UNSIGNED-PAYLOAD` or a streaming mode: not
    /// accepted for the JSON API, whose bodies are always signed. Trent's message.
    #[error("x-amz-content-sha256 '{value}' is not supported: the request payload must be signed.")]
    UnsignedPayload {
        /// The header value.
        value: String,
    },

    /// The signature is not the one the request and secret produce (also
    /// for a `Signature=` that is not 64 hex digits).
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureDoesNotMatch,

    /// Unknown access key id, or an unusable `x-amz-security-token`. The
    /// access key lookup is the server's; the variant is here so that the
    /// mapping to AWS errors lives in one place.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
}

impl SigV4Error {
    /// The AWS error `__type` for this failure (e.g. `InvalidSignatureException`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthentication => MISSING_AUTHENTICATION_TOKEN,
            Self::MissingParameters { .. }
            | Self::MalformedParameter { .. }
            | Self::UnsupportedAlgorithm { .. }
            | Self::MalformedCredential { .. }
            | Self::InvalidDate { .. } => INCOMPLETE_SIGNATURE,
            Self::InvalidTerminator { .. }
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::HostNotSigned
            | Self::SignedHeadersUnsorted { .. }
            | Self::WrongRegion { .. }
            | Self::WrongService { .. }
            | Self::ScopeDateMismatch { .. }
            | Self::SignedHeaderMissing { .. }
            | Self::ContentSha256Mismatch
            | Self::UnsignedPayload { .. }
            | Self::SignatureDoesNotMatch => INVALID_SIGNATURE,
            Self::UnrecognizedClient => UNRECOGNIZED_CLIENT,
        }
    }
}

/// AWS's message for [`SigV4Error::MissingParameters`]: one sentence per
/// missing piece, then `Authorization=<header>`.
fn missing_message(e: &SigV4Error) -> MissingMessage<'_> {
    MissingMessage(e)
}

struct MissingMessage<'a>(&'a SigV4Error);

impl fmt::Display for MissingMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SigV4Error::MissingParameters {
            credential,
            signature,
            signed_headers,
            date,
            authorization,
        } = self.0
        else {
            return Ok(());
        };
        for (missing, name) in [
            (credential, "Credential"),
            (signature, "Signature"),
            (signed_headers, "SignedHeaders"),
        ] {
            if *missing {
                write!(f, "Authorization header requires '{name}' parameter. ")?;
            }
        }
        if *date {
            f.write_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")?;
        }
        write!(f, "Authorization={authorization}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parameters_message() {
        let e = SigV4Error::MissingParameters {
            credential: true,
            signature: true,
            signed_headers: true,
            date: true,
            authorization: "Bearer x".into(),
        };
        assert_eq!(
            e.to_string(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. \
             Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either \
             a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer x"
        );
        assert_eq!(e.code(), "IncompleteSignatureException");
        let e = SigV4Error::MissingParameters {
            credential: false,
            signature: true,
            signed_headers: true,
            date: false,
            authorization: "AWS4-HMAC-SHA256 Credential=ABCDEF".into(),
        };
        assert_eq!(
            e.to_string(),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
             parameter. Authorization=AWS4-HMAC-SHA256 Credential=ABCDEF"
        );
    }

    #[test]
    fn messages_and_codes() {
        let e = SigV4Error::SignatureExpired {
            request: "20150830T123600Z".into(),
            earliest: "20150830T124100Z".into(),
            now: "20150830T125600Z".into(),
        };
        assert_eq!(
            e.to_string(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T125600Z - 15 min.)"
        );
        assert_eq!(e.code(), "InvalidSignatureException");
        assert_eq!(
            SigV4Error::MissingAuthentication.code(),
            "MissingAuthenticationTokenException"
        );
        assert_eq!(
            SigV4Error::UnrecognizedClient.code(),
            "UnrecognizedClientException"
        );
        assert_eq!(
            SigV4Error::WrongService {
                expected: "kms".into()
            }
            .to_string(),
            "Credential should be scoped to correct service: 'kms'. "
        );
    }
}
