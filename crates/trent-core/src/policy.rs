//! Key policy documents: the default policy AWS writes and the size limit.
//! Parsing and evaluation live in `trent-policy`.

use crate::KmsError;

/// The policy AWS KMS gives a key created without one: the account root may
/// do everything, which delegates access to the account's IAM policies.
pub fn default_key_policy(account: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// AWS's size limit for a key policy.
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// Refuses a policy over AWS's size limit.
pub fn check_size(policy: &str) -> Result<(), KmsError> {
    if policy.len() > MAX_POLICY_BYTES {
        return Err(KmsError::LimitExceeded(format!(
            "Policy document exceeds the maximum size of {MAX_POLICY_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_parses_as_a_key_policy() {
        trent_policy::Policy::parse(
            &default_key_policy("111122223333"),
            trent_policy::PolicyKind::Key,
        )
        .unwrap();
    }

    #[test]
    fn oversized_policy_is_refused() {
        assert!(matches!(
            check_size(&"x".repeat(MAX_POLICY_BYTES + 1)),
            Err(KmsError::LimitExceeded(_))
        ));
        check_size("{}").unwrap();
    }
}
