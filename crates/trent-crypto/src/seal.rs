//! Sealing of key material under a root key.
//!
//! Sealed form: `version (1) || nonce (12) || AES-256-GCM(ciphertext || tag)`,
//! with caller-chosen AAD that binds the sealed bytes to their owner (for key
//! material: key id and version), so rows can't be swapped in the store.

use crate::{CryptoError, NONCE_LEN, SymmetricKey, TAG_LEN};
use zeroize::Zeroizing;

const SEALED_VERSION: u8 = 1;

/// Seals `plaintext` under `root`.
pub fn seal(root: &SymmetricKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; 1 + NONCE_LEN + plaintext.len() + TAG_LEN];
    out[0] = SEALED_VERSION;
    let (nonce_slot, body) = out[1..].split_at_mut(NONCE_LEN);
    let (ciphertext, tag_slot) = body.split_at_mut(plaintext.len());
    ciphertext.copy_from_slice(plaintext);
    let (nonce, tag) = root.seal_in_place(aad, ciphertext)?;
    nonce_slot.copy_from_slice(&nonce);
    tag_slot.copy_from_slice(&tag);
    Ok(out)
}

/// Opens what [`seal`] produced; the plaintext comes back zeroizing.
pub fn open(
    root: &SymmetricKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEALED_VERSION {
        return Err(CryptoError::InvalidCiphertext);
    }
    let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().expect("nonce length");
    let mut body = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
    let len = root.open_in_place(&nonce, aad, &mut body)?.len();
    body.truncate(len);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_binds_aad() {
        let root =
            SymmetricKey::from_bytes(SymmetricKey::generate_bytes().unwrap().as_ref()).unwrap();
        let sealed = seal(&root, b"key-1/v1", &[9u8; 32]).unwrap();
        assert_eq!(&open(&root, b"key-1/v1", &sealed).unwrap()[..], &[9u8; 32]);
        assert!(open(&root, b"key-2/v1", &sealed).is_err());
        assert!(open(&root, b"key-1/v1", &sealed[..sealed.len() - 1]).is_err());
    }
}
