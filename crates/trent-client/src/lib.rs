//! The client side of envelope encryption: messages in the AWS Encryption
//! SDK's format (version 2, framed, key-committing suites), their data keys
//! wrapped by AWS KMS (Trent or AWS itself) through `aws-sdk-kms`.
//!
//! - [`suite`]: the two algorithm suites and their key derivation;
//! - [`context`]: the encryption context and its serialization;
//! - [`header`]: the message header, written and read;
//! - [`frame`]: one frame sealed or opened;
//! - [`message`]: whole messages, streamed with bounded memory, frames in
//!   parallel ([`pipeline`]);
//! - [`kms`]: the KMS keyring (data keys generated, wrapped and unwrapped);
//! - [`s3`]: messages streamed to and from S3;
//! - [`cache`]: data keys reused across the messages of one run;
//! - [`config`]: the AWS SDK's configuration, as the AWS CLI reads it.
//!
//! The format is the AWS Encryption SDK specification's
//! (`aws-encryption-sdk-specification`, `data-format/`): `aws-encryption-cli`
//! decrypts what this crate writes and the other way round.

pub mod cache;
pub mod config;
pub mod context;
pub mod frame;
pub mod header;
pub mod kms;
pub mod message;
mod pipeline;
pub mod s3;
pub mod suite;

pub use context::EncryptionContext;
pub use header::{EncryptedDataKey, Header};
pub use suite::Suite;

/// Why a message could not be written or read. The messages name what was
/// wrong, never a key's bytes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The input is not a message this crate reads: truncated, malformed or
    /// of an unsupported version or suite.
    #[error("not a valid message: {0}")]
    Malformed(String),
    /// The message was changed, or is decrypted with the wrong data key or
    /// context: a tag, the key commitment or the signature does not verify.
    #[error("the message does not authenticate: {0}")]
    Authentication(&'static str),
    /// Refused by the caller's limits (encrypted data keys, frame length).
    #[error("{0}")]
    Limit(String),
    /// The encryption context is not acceptable, or lacks what was required.
    #[error("encryption context: {0}")]
    Context(String),
    /// The KMS refused, or could not be reached, or answered badly.
    #[error("{0}")]
    Kms(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
