//! Trent's cryptography: thin wrappers over `aws-lc-rs`.
//!
//! * [`SymmetricKey`]: an AES-256-GCM key with random nonces; the raw bytes
//!   are zeroized as soon as the key schedule is built, and the type has no
//!   `Debug` that could print them.
//! * [`AesKey`]: the same key kept as its bytes, its schedule built on use
//!   and cached per thread: for servers that hold many keys.
//! * [`blob`]: the versioned ciphertext-blob format that `Encrypt`,
//!   `GenerateDataKey` and `ReEncrypt` return and `Decrypt` parses.
//! * [`seal`]: sealing of key material under a root key (same AEAD, its own
//!   small envelope).
//! * [`import`]: imported key material's RSA wrapping keys and unwrapping.
//! * [`random_bytes`]: the one source of randomness.
//!
//! Nothing here does I/O or knows about HTTP, JSON or the store.

pub mod aes;
pub mod asymmetric;
pub mod blob;
pub mod import;
pub mod kem;
pub mod seal;

pub use aes::AesKey;
use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

/// Length of an AES-256 key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a GCM nonce in bytes.
pub const NONCE_LEN: usize = 12;
/// Length of a GCM tag in bytes.
pub const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// Authentication failed, or the input is not in the expected format.
    #[error("ciphertext is invalid or was not produced under this key and context")]
    InvalidCiphertext,
    /// The platform's random generator or a primitive failed.
    #[error("cryptographic primitive failed")]
    Internal,
}

/// An AES-256-GCM key. Built once per key version and shared (`Sync`) by all
/// requests; sealing and opening take `&self`, so the hot path needs no lock.
pub struct SymmetricKey {
    key: RandomizedNonceKey,
}

impl SymmetricKey {
    /// Builds the key schedule from raw bytes. The caller keeps ownership of
    /// the bytes and is expected to hold them in a zeroizing container.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::Internal);
        }
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::Internal)?;
        Ok(Self { key })
    }

    /// Generates fresh key bytes (zeroizing); build the key with [`Self::from_bytes`].
    pub fn generate_bytes() -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random_bytes(bytes.as_mut())?;
        Ok(bytes)
    }

    /// Encrypts `in_out` in place, returning the random nonce and the tag.
    pub fn seal_in_place(
        &self,
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<([u8; NONCE_LEN], [u8; TAG_LEN]), CryptoError> {
        let (nonce, tag) = self
            .key
            .seal_in_place_separate_tag(Aad::from(aad), in_out)
            .map_err(|_| CryptoError::Internal)?;
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(tag.as_ref());
        Ok((*nonce.as_ref(), tag_bytes))
    }

    /// Decrypts `ciphertext_and_tag` in place and returns the plaintext part.
    pub fn open_in_place<'a>(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &'a mut [u8],
    ) -> Result<&'a mut [u8], CryptoError> {
        self.key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                ciphertext_and_tag,
            )
            .map_err(|_| CryptoError::InvalidCiphertext)
    }
}

/// Fills `out` from the system's CSPRNG (AWS-LC's DRBG).
pub fn random_bytes(out: &mut [u8]) -> Result<(), CryptoError> {
    aws_lc_rs::rand::fill(out).map_err(|_| CryptoError::Internal)
}

/// An HMAC-SHA256 key for server-side integrity tags (e.g. pagination
/// markers). No `Debug`.
pub struct MacKey(aws_lc_rs::hmac::Key);

impl MacKey {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            bytes,
        ))
    }

    /// The tag of `parts`, each length-prefixed so that they can't run into
    /// each other.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&self.0);
        for part in parts {
            ctx.update(&(part.len() as u32).to_be_bytes());
            ctx.update(part);
        }
        ctx.sign()
            .as_ref()
            .try_into()
            .expect("HMAC-SHA256 is 32 bytes")
    }
}

/// An Ed25519 signing key (the audit trail's digest signer). No `Debug`.
pub struct SigningKey(aws_lc_rs::signature::Ed25519KeyPair);

impl SigningKey {
    /// A fresh key as PKCS#8 v2 bytes (zeroizing), to be sealed and stored.
    pub fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let doc = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .map_err(|_| CryptoError::Internal)?;
        Ok(Zeroizing::new(doc.as_ref().to_vec()))
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, CryptoError> {
        aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(pkcs8)
            .map(Self)
            .map_err(|_| CryptoError::Internal)
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        use aws_lc_rs::signature::KeyPair;
        self.0
            .public_key()
            .as_ref()
            .try_into()
            .expect("Ed25519 public keys are 32 bytes")
    }

    /// The 64-byte signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).as_ref().to_vec()
    }
}

/// Whether `signature` is `public_key`'s Ed25519 signature of `message`.
pub fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// SHA-256 of the concatenation of `parts`, without concatenating them.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        context.update(part);
    }
    context
        .finish()
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

/// Constant-time equality of two byte strings.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_parts_is_sha256_of_their_concatenation() {
        assert_eq!(sha256_parts(&[b"ab", b"", b"cd"]), sha256(b"abcd"));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            sha256_parts(&[b"a", b"bc"])[..8],
            [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea]
        );
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let bytes = SymmetricKey::generate_bytes().unwrap();
        let key = SymmetricKey::from_bytes(bytes.as_ref()).unwrap();
        let mut buf = b"attack at dawn".to_vec();
        let (nonce, tag) = key.seal_in_place(b"aad", &mut buf).unwrap();
        assert_ne!(&buf[..], b"attack at dawn");
        let mut ct = [buf.clone(), tag.to_vec()].concat();
        assert_eq!(
            key.open_in_place(&nonce, b"aad", &mut ct).unwrap(),
            b"attack at dawn"
        );
        let mut ct = [buf.clone(), tag.to_vec()].concat();
        assert_eq!(
            key.open_in_place(&nonce, b"aae", &mut ct),
            Err(CryptoError::InvalidCiphertext)
        );
    }

    #[test]
    fn wrong_key_length_is_refused() {
        assert!(SymmetricKey::from_bytes(&[0u8; 16]).is_err());
    }
}
