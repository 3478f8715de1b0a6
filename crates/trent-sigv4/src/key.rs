//! The derived SigV4 signing key.

use aws_lc_rs::hmac;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A SigV4 signing key: the HMAC-SHA256 chain of the secret access key over
/// one day, region and service. Valid for that scope only; derive once and
/// reuse it for every request of the scope (derivation is four HMACs).
///
/// The bytes are zeroed on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives the key for `date` (`YYYYMMDD`), `region` and `service`:
    /// `kDate = HMAC("AWS4" + secret, date)`, `kRegion = HMAC(kDate, region)`,
    /// `kService = HMAC(kRegion, service)`, `kSigning = HMAC(kService, "aws4_request")`.
    ///
    /// The intermediate keys are zeroed (best effort: copies that the HMAC
    /// implementation makes internally are out of our reach).
    pub fn derive(secret_access_key: &[u8], date: &str, region: &str, service: &str) -> SigningKey {
        let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret_access_key);
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(
            hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, &k_secret),
                date.as_bytes(),
            )
            .as_ref(),
        );
        for part in [region.as_bytes(), service.as_bytes(), b"aws4_request"] {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k[..]), part);
            k.copy_from_slice(tag.as_ref());
        }
        SigningKey(*k)
    }

    /// An HMAC-SHA256 key over these bytes, for signing strings to sign.
    pub(crate) fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.0)
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example ("Examples of how to derive a signing key for
    /// Signature Version 4", AWS General Reference): IAM, us-east-1, 20120215.
    #[test]
    fn derive_matches_aws_example() {
        let key = SigningKey::derive(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key.bytes()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn debug_hides_bytes() {
        let key = SigningKey::derive(b"secret", "20150830", "us-east-1", "kms");
        assert_eq!(format!("{key:?}"), "SigningKey(..)");
    }
}
