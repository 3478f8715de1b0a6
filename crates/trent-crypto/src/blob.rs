//! The ciphertext blob that symmetric `Encrypt`, `GenerateDataKey*` and
//! `ReEncrypt` return.
//!
//! ```text
//! offset  len  field
//!      0    1  format version (1)
//!      1   16  key id (the UUID of the KMS key, raw bytes)
//!     17    4  key-material version (u32, big endian)
//!     21   12  AES-GCM nonce (random)
//!     33    n  AES-256-GCM ciphertext of the plaintext
//!   33+n   16  GCM tag
//! ```
//!
//! The additional authenticated data is the 21-byte header followed by the
//! canonical encoding of the encryption context ([`encode_context`]), so a
//! blob moved to another key id or version, or opened with another context,
//! fails authentication.

use crate::{CryptoError, NONCE_LEN, SymmetricKey, TAG_LEN};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// The format version this code writes.
pub const VERSION: u8 = 1;
/// Header length: version, key id, key-material version.
pub const HEADER_LEN: usize = 1 + 16 + 4;
/// Bytes a blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// The parts of a blob's header that say which key can open it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    pub key_id: [u8; 16],
    pub material_version: u32,
}

impl BlobHeader {
    /// Reads the header of a blob, checking only its framing.
    pub fn parse(blob: &[u8]) -> Result<Self, CryptoError> {
        if blob.len() < OVERHEAD || blob[0] != VERSION {
            return Err(CryptoError::InvalidCiphertext);
        }
        let mut key_id = [0u8; 16];
        key_id.copy_from_slice(&blob[1..17]);
        let material_version = u32::from_be_bytes(blob[17..21].try_into().expect("4 bytes"));
        Ok(Self {
            key_id,
            material_version,
        })
    }

    fn write(&self, out: &mut [u8]) {
        out[0] = VERSION;
        out[1..17].copy_from_slice(&self.key_id);
        out[17..21].copy_from_slice(&self.material_version.to_be_bytes());
    }
}

/// Canonical, unambiguous encoding of an encryption context: the pairs in
/// key order (a `BTreeMap` is sorted by bytes), each string prefixed by its
/// length as a big-endian u32.
pub fn encode_context(context: &BTreeMap<String, String>, out: &mut Vec<u8>) {
    for (k, v) in context {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

fn aad<'a>(
    header: &'a [u8],
    context: &BTreeMap<String, String>,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    if context.is_empty() {
        return header;
    }
    scratch.extend_from_slice(header);
    encode_context(context, scratch);
    scratch
}

/// Encrypts `plaintext` under `key` into a new blob.
pub fn seal(
    header: BlobHeader,
    key: &SymmetricKey,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; OVERHEAD + plaintext.len()];
    header.write(&mut out[..HEADER_LEN]);
    let (head, rest) = out.split_at_mut(HEADER_LEN);
    let (nonce_slot, body) = rest.split_at_mut(NONCE_LEN);
    let (ciphertext, tag_slot) = body.split_at_mut(plaintext.len());
    ciphertext.copy_from_slice(plaintext);
    let mut scratch = Vec::new();
    let (nonce, tag) = key.seal_in_place(aad(head, context, &mut scratch), ciphertext)?;
    nonce_slot.copy_from_slice(&nonce);
    tag_slot.copy_from_slice(&tag);
    Ok(out)
}

/// Opens a blob whose header was already parsed (to find `key`). The
/// plaintext is returned in a zeroizing buffer.
pub fn open(
    blob: &[u8],
    key: &SymmetricKey,
    context: &BTreeMap<String, String>,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    BlobHeader::parse(blob)?;
    let nonce: [u8; NONCE_LEN] = blob[HEADER_LEN..HEADER_LEN + NONCE_LEN]
        .try_into()
        .expect("nonce length");
    let mut body = Zeroizing::new(blob[HEADER_LEN + NONCE_LEN..].to_vec());
    let mut scratch = Vec::new();
    let plaintext_len = key
        .open_in_place(
            &nonce,
            aad(&blob[..HEADER_LEN], context, &mut scratch),
            &mut body,
        )?
        .len();
    body.truncate(plaintext_len);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> SymmetricKey {
        SymmetricKey::from_bytes(SymmetricKey::generate_bytes().unwrap().as_ref()).unwrap()
    }

    fn header() -> BlobHeader {
        BlobHeader {
            key_id: [7u8; 16],
            material_version: 3,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trip(plaintext in proptest::collection::vec(any::<u8>(), 1..4097),
                      context in proptest::collection::btree_map("[a-z]{0,8}", "[ -~]{0,16}", 0..4)) {
            let key = key();
            let blob = seal(header(), &key, &context, &plaintext).unwrap();
            prop_assert_eq!(blob.len(), plaintext.len() + OVERHEAD);
            prop_assert_eq!(BlobHeader::parse(&blob).unwrap(), header());
            prop_assert_eq!(&open(&blob, &key, &context).unwrap()[..], &plaintext[..]);
        }

        #[test]
        fn any_flipped_bit_is_detected(plaintext in proptest::collection::vec(any::<u8>(), 1..64),
                                       bit in any::<prop::sample::Index>()) {
            let key = key();
            let context = BTreeMap::from([("purpose".to_string(), "test".to_string())]);
            let mut blob = seal(header(), &key, &context, &plaintext).unwrap();
            let bit = bit.index(blob.len() * 8);
            blob[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(open(&blob, &key, &context).is_err());
        }

        #[test]
        fn truncation_is_detected(plaintext in proptest::collection::vec(any::<u8>(), 1..64),
                                  cut in any::<prop::sample::Index>()) {
            let key = key();
            let blob = seal(header(), &key, &BTreeMap::new(), &plaintext).unwrap();
            let cut = cut.index(blob.len());
            prop_assert!(open(&blob[..cut], &key, &BTreeMap::new()).is_err());
        }
    }

    #[test]
    fn context_must_match_exactly() {
        let key = key();
        let ctx = BTreeMap::from([("a".to_string(), "b".to_string())]);
        let blob = seal(header(), &key, &ctx, b"secret").unwrap();
        assert!(open(&blob, &key, &BTreeMap::new()).is_err());
        let other = BTreeMap::from([("a".to_string(), "c".to_string())]);
        assert!(open(&blob, &key, &other).is_err());
        // Ambiguity check: ("ab","") vs ("a","b") must encode differently.
        let (mut x, mut y) = (Vec::new(), Vec::new());
        encode_context(&BTreeMap::from([("ab".into(), "".into())]), &mut x);
        encode_context(&BTreeMap::from([("a".into(), "b".into())]), &mut y);
        assert_ne!(x, y);
    }

    #[test]
    fn another_key_cannot_open() {
        let blob = seal(header(), &key(), &BTreeMap::new(), b"secret").unwrap();
        assert_eq!(
            open(&blob, &key(), &BTreeMap::new()),
            Err(CryptoError::InvalidCiphertext)
        );
    }
}
