//! Wire types for Trent's AWS KMS-compatible JSON 1.1 API (and, in
//! [`query`], the form parameters of IAM's and STS's Query protocol).
//!
//! Most of this crate is generated from the AWS KMS service model
//! (`kms-2014-11-01`) by `cargo run -p xtask -- codegen` into
//! [`generated`], re-exported at the crate root:
//!
//! - one struct per request/response structure (`EncryptRequest`,
//!   `KeyMetadata`, ...), serde-compatible with the KMS wire format:
//!   PascalCase member names, optional members as `Option<T>`, blobs as
//!   base64 ([`Blob`], or [`SecretBlob`] for sensitive blobs such as
//!   plaintext), timestamps as `f64` epoch seconds, unknown fields ignored;
//! - one enum per enumerated string (`KeySpec`, `EncryptionAlgorithmSpec`,
//!   ...), each with an `Unknown(String)` variant so an out-of-set value
//!   parses and is then reported by validation, as AWS does, instead of
//!   failing JSON parsing;
//! - [`Operation`] (the operations, parsed from `X-Amz-Target`) and
//!   [`ErrorCode`] (the `__type` names, with HTTP statuses);
//! - [`Validate`] for every structure, reporting the model's length, range,
//!   pattern, enum and required constraints in AWS's exact
//!   `ValidationException` wording (see [`ValidationError`]).
//!
//! [`parse_request`] reads a request body into its struct and validates it,
//! as the server does before dispatch.
//!
//! Required members are plain fields with a default: an absent or `null`
//! required member deserializes to the empty/zero value (an absent required
//! enum to `Unknown("")`) and validation reports it (`Member must not be
//! null`, or the minimum length where the model has one). Required string
//! members whose shape allows empty strings (`"min": 0`, such as `TagValue`)
//! accept an empty value, since it cannot be told apart from a missing one.

pub mod generated;
pub use generated::*;

mod blob;
mod de;
pub mod query;
mod request;
mod validate;

pub use blob::{Blob, SecretBlob};
pub use request::{RequestError, parse_request};
pub use validate::{Validate, ValidationError};

/// Stand-in printed for sensitive string members by generated `Debug` impls.
pub(crate) struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests;
