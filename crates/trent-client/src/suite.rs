//! The algorithm suites this crate writes and reads: the AWS Encryption
//! SDK's two key-committing suites of message format version 2. Messages of
//! the non-committing suites (format version 1) are refused, as the SDK's
//! default commitment policy (`REQUIRE_ENCRYPT_REQUIRE_DECRYPT`) refuses them.

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA512, KeyType, Salt};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The data key's length (the KDF's input) for both suites.
pub const DATA_KEY_LEN: usize = 32;
/// The key commitment's length (the header's algorithm suite data).
pub const COMMITMENT_LEN: usize = 32;
/// A version 2 message id's length.
pub const MESSAGE_ID_LEN: usize = 32;
/// AES-GCM's IV and tag lengths.
pub const IV_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// `AES_256_GCM_HKDF_SHA512_COMMIT_KEY` (0x0478).
    Committed,
    /// `AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384` (0x0578): the
    /// message also signed with a per-message ECDSA P-384 key, whose public
    /// half is in the encryption context. The SDK's default.
    CommittedSigned,
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::CommittedSigned, Suite::Committed];

    pub const fn id(self) -> u16 {
        match self {
            Suite::Committed => 0x0478,
            Suite::CommittedSigned => 0x0578,
        }
    }

    pub fn from_id(id: u16) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The SDK's name for the suite.
    pub const fn name(self) -> &'static str {
        match self {
            Suite::Committed => "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
            Suite::CommittedSigned => "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
        }
    }

    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    pub const fn signed(self) -> bool {
        matches!(self, Suite::CommittedSigned)
    }
}

/// What a data key and a message id give: the frames' AES-256-GCM key and
/// the key commitment stored in the header.
pub struct DerivedKey {
    pub(crate) key: LessSafeKey,
    pub commitment: [u8; COMMITMENT_LEN],
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA512, extracted once with the message id as salt, expanded twice:
/// `suite id || "DERIVEKEY"` for the encryption key, `"COMMITKEY"` for the
/// commitment (the specification's `transitive-requirements.md`).
pub fn derive(
    suite: Suite,
    data_key: &[u8],
    message_id: &[u8; MESSAGE_ID_LEN],
) -> Result<DerivedKey> {
    if data_key.len() != DATA_KEY_LEN {
        return Err(Error::Kms(format!(
            "the data key is {} bytes, not {DATA_KEY_LEN}",
            data_key.len()
        )));
    }
    let prk = Salt::new(HKDF_SHA512, message_id).extract(data_key);
    let id = suite.id().to_be_bytes();
    let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    let mut commitment = [0u8; COMMITMENT_LEN];
    prk.expand(&[&id, b"DERIVEKEY"], Len(DATA_KEY_LEN))
        .and_then(|okm| okm.fill(&mut key[..]))
        .and_then(|()| prk.expand(&[b"COMMITKEY"], Len(COMMITMENT_LEN)))
        .and_then(|okm| okm.fill(&mut commitment))
        .map_err(|_| Error::Kms("HKDF failed".into()))?;
    let key = UnboundKey::new(&AES_256_GCM, &key[..])
        .map(LessSafeKey::new)
        .map_err(|_| Error::Kms("AES-256-GCM key setup failed".into()))?;
    Ok(DerivedKey { key, commitment })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_round_trip() {
        for suite in Suite::ALL {
            assert_eq!(Suite::from_id(suite.id()), Some(suite));
            assert_eq!(Suite::from_name(suite.name()), Some(suite));
        }
        assert_eq!(
            Suite::from_id(0x0378),
            None,
            "non-committing suites are refused"
        );
    }

    #[test]
    fn the_commitment_depends_on_key_and_message_id_but_not_on_the_suite() {
        let id = [7u8; MESSAGE_ID_LEN];
        let a = derive(Suite::Committed, &[1; 32], &id).unwrap();
        let b = derive(Suite::CommittedSigned, &[1; 32], &id).unwrap();
        let c = derive(Suite::Committed, &[2; 32], &id).unwrap();
        let d = derive(Suite::Committed, &[1; 32], &[8; MESSAGE_ID_LEN]).unwrap();
        assert_eq!(a.commitment, b.commitment);
        assert_ne!(a.commitment, c.commitment);
        assert_ne!(a.commitment, d.commitment);
        assert!(derive(Suite::Committed, &[1; 16], &id).is_err());
    }
}
