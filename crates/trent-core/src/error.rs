use std::error::Error as StdError;

/// What went wrong, as domain facts. The server maps each variant to an AWS
/// error code and HTTP status in one place; messages are safe to show to the
/// caller (they never contain key material or plaintext).
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidCiphertext(String),
    #[error("{0}")]
    IncorrectKey(String),
    #[error("{0}")]
    InvalidKeyUsage(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidMarker(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidGrantToken(String),
    /// ImportKeyMaterial: not the material the key had, or not of its spec.
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// ImportKeyMaterial: a token not issued for this key, or altered.
    #[error("{0}")]
    InvalidImportToken(String),
    /// ImportKeyMaterial: a token past its ParametersValidTo.
    #[error("{0}")]
    ExpiredImportToken(String),
    /// Verify: the signature does not verify (AWS never answers `false`).
    #[error("{0}")]
    InvalidSignature(String),
    /// VerifyMac: the MAC does not verify.
    #[error("{0}")]
    InvalidMac(String),
    /// The caller's account is over a request quota (named).
    #[error("request quota {0} exceeded")]
    Throttled(String),
    /// `DryRun: true` and every check passed; nothing was changed.
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    /// The store cannot be reached now, or this node cannot confirm that its
    /// caches are current (several nodes): the request may be retried. The
    /// source is for the log; the caller gets a generic message.
    #[error("unavailable: {0}")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// A failure of the store, the root key or a primitive. The source is for
    /// the log; the caller gets a generic message.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl KmsError {
    pub(crate) fn internal(e: impl StdError + Send + Sync + 'static) -> Self {
        KmsError::Internal(Box::new(e))
    }
}

impl From<crate::StoreError> for KmsError {
    fn from(e: crate::StoreError) -> Self {
        match e {
            crate::StoreError::Backend(_) => KmsError::Unavailable(Box::new(e)),
            crate::StoreError::Full { limit, held } => KmsError::LimitExceeded(match limit {
                crate::Limit::Keys => {
                    format!(
                        "The account already has {held} KMS keys in this Region, the most allowed"
                    )
                }
                crate::Limit::AliasesOfKey => {
                    format!("The key already has {held} aliases, the most allowed")
                }
                crate::Limit::GrantsOfKey => {
                    format!("The key already has {held} grants, the most allowed")
                }
                crate::Limit::GrantsOfGrantee => {
                    format!("The grantee already has {held} grants on this key, the most allowed")
                }
            }),
            e => KmsError::internal(e),
        }
    }
}

impl From<crate::SealError> for KmsError {
    fn from(e: crate::SealError) -> Self {
        KmsError::internal(e)
    }
}

impl From<trent_crypto::CryptoError> for KmsError {
    fn from(e: trent_crypto::CryptoError) -> Self {
        match e {
            trent_crypto::CryptoError::InvalidCiphertext => {
                KmsError::InvalidCiphertext(String::new())
            }
            trent_crypto::CryptoError::Internal => KmsError::internal(e),
        }
    }
}
