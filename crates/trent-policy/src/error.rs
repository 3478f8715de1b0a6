//! The parse error.

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a valid policy of its kind; the message says what
    /// and where (the server reports it as `MalformedPolicyDocumentException`).
    #[error("{0}")]
    Malformed(String),
}
