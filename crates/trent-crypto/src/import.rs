//! Imported key material (AWS's GetParametersForImport and
//! ImportKeyMaterial): the RSA wrapping key pair, and unwrapping what a
//! client wrapped under its public key with one of AWS's wrapping
//! algorithms.
//!
//! - `RSAES_OAEP_SHA_1`, `RSAES_OAEP_SHA_256`: the material itself,
//!   RSAES-OAEP encrypted (MGF1 with the same hash).
//! - `RSA_AES_KEY_WRAP_SHA_1`, `RSA_AES_KEY_WRAP_SHA_256`: an ephemeral
//!   AES-256 key, RSAES-OAEP encrypted (the first modulus-length bytes),
//!   then the material wrapped under it with AES Key Wrap with Padding
//!   (RFC 5649).
//! - `SM2PKE` (with the `sm2` feature): the material SM2-encrypted (GB/T
//!   32918.4, C1C3C2, DER) under an SM2 wrapping key.

use crate::CryptoError;
use crate::asymmetric::{
    AsymmetricEncryption, PairSpec, PairUsage, PrivateKey, public_key_of_pkcs8,
};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa;
use zeroize::Zeroizing;

/// AWS's wrapping algorithms this server accepts (RSAES_PKCS1_V1_5 no
/// longer is, as in AWS; SM2PKE only with the `sm2` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    RsaesOaepSha1,
    RsaesOaepSha256,
    RsaAesKeyWrapSha1,
    RsaAesKeyWrapSha256,
    Sm2Pke,
}

impl WrappingAlgorithm {
    /// The OAEP parameters of an RSA algorithm; `None` for SM2PKE.
    fn oaep(self) -> Option<&'static rsa::OaepAlgorithm> {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
                Some(&rsa::OAEP_SHA1_MGF1SHA1)
            }
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
                Some(&rsa::OAEP_SHA256_MGF1SHA256)
            }
            WrappingAlgorithm::Sm2Pke => None,
        }
    }

    fn key_wrap(self) -> bool {
        matches!(
            self,
            WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256
        )
    }
}

/// A fresh wrapping key pair of `spec` (RSA, or SM2 where built): the
/// private key as PKCS#8 DER and the public key as DER
/// SubjectPublicKeyInfo. Slow (RSA generation): call it off the async
/// workers.
pub fn generate_wrapping_key(spec: PairSpec) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CryptoError> {
    let sm2 = spec == PairSpec::Sm2 && spec.available();
    if !(spec.is_rsa() || sm2) {
        return Err(CryptoError::Internal);
    }
    let pkcs8 = spec.generate_pkcs8()?;
    let public = public_key_of_pkcs8(spec, &pkcs8)?;
    Ok((pkcs8, public))
}

/// Whether imported PKCS#8 material is a private key of `spec`: parses
/// for the spec and, for RSA, has the spec's modulus length (aws-lc-rs
/// parses any size; curves are checked by the parse).
pub fn fits_spec(spec: PairSpec, pkcs8: &[u8]) -> bool {
    let modulus = match spec {
        PairSpec::Rsa2048 => 256,
        PairSpec::Rsa3072 => 384,
        PairSpec::Rsa4096 => 512,
        _ => return true,
    };
    rsa::KeyPair::from_pkcs8(pkcs8).is_ok_and(|pair| pair.public_modulus_len() == modulus)
}

/// Unwraps `wrapped` with the wrapping private key `pkcs8`. Any failure
/// (wrong key, wrong algorithm, tampered or truncated input) is
/// [`CryptoError::InvalidCiphertext`].
pub fn unwrap(
    pkcs8: &[u8],
    algorithm: WrappingAlgorithm,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let invalid = |_| CryptoError::InvalidCiphertext;
    let Some(oaep) = algorithm.oaep() else {
        let private = PrivateKey::from_pkcs8(PairSpec::Sm2, PairUsage::EncryptDecrypt, pkcs8)?;
        return private
            .decrypt(AsymmetricEncryption::Sm2Pke, wrapped)
            .map_err(|_| CryptoError::InvalidCiphertext);
    };
    let private =
        rsa::PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| CryptoError::Internal)?;
    let private = rsa::OaepPrivateDecryptingKey::new(private).map_err(|_| CryptoError::Internal)?;
    let modulus = private.key_size_bytes();
    let (rsa_part, rest) = if algorithm.key_wrap() {
        if wrapped.len() <= modulus {
            return Err(CryptoError::InvalidCiphertext);
        }
        wrapped.split_at(modulus)
    } else {
        (wrapped, &[][..])
    };
    if rsa_part.len() != modulus {
        return Err(CryptoError::InvalidCiphertext);
    }
    let mut first = Zeroizing::new(vec![0u8; private.min_output_size()]);
    let len = private
        .decrypt(oaep, rsa_part, &mut first, None)
        .map_err(invalid)?
        .len();
    first.truncate(len);
    if !algorithm.key_wrap() {
        return Ok(first);
    }
    let kek = AesKek::new(&AES_256, &first).map_err(invalid)?;
    let mut out = Zeroizing::new(vec![0u8; rest.len()]);
    let len = kek
        .unwrap_with_padding(rest, &mut out)
        .map_err(invalid)?
        .len();
    out.truncate(len);
    Ok(out)
}

/// Wraps `material` under the wrapping public key `spki` as a client does
/// (for tests and tools; the server only unwraps).
pub fn wrap(
    spki: &[u8],
    algorithm: WrappingAlgorithm,
    material: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let Some(oaep) = algorithm.oaep() else {
        return wrap_sm2(spki, material);
    };
    let public = rsa::PublicEncryptingKey::from_der(spki).map_err(|_| CryptoError::Internal)?;
    let public = rsa::OaepPublicEncryptingKey::new(public).map_err(|_| CryptoError::Internal)?;
    let encrypt = |plaintext: &[u8]| -> Result<Vec<u8>, CryptoError> {
        let mut out = vec![0u8; public.ciphertext_size()];
        let len = public
            .encrypt(oaep, plaintext, &mut out, None)
            .map_err(|_| CryptoError::Internal)?
            .len();
        out.truncate(len);
        Ok(out)
    };
    if !algorithm.key_wrap() {
        return encrypt(material);
    }
    let mut aes = Zeroizing::new([0u8; 32]);
    crate::random_bytes(aes.as_mut())?;
    let mut out = encrypt(aes.as_ref())?;
    let kek = AesKek::new(&AES_256, aes.as_ref()).map_err(|_| CryptoError::Internal)?;
    let mut wrapped = vec![0u8; material.len() + 16];
    let len = kek
        .wrap_with_padding(material, &mut wrapped)
        .map_err(|_| CryptoError::Internal)?
        .len();
    out.extend_from_slice(&wrapped[..len]);
    Ok(out)
}

#[cfg(feature = "sm2")]
fn wrap_sm2(spki: &[u8], material: &[u8]) -> Result<Vec<u8>, CryptoError> {
    use sm2::pkcs8::DecodePublicKey;
    let public = sm2::PublicKey::from_public_key_der(spki).map_err(|_| CryptoError::Internal)?;
    sm2::pke::EncryptingKey::new_with_mode(public, sm2::pke::Mode::C1C3C2)
        .encrypt_der(&mut crate::asymmetric::AwsLcRng, material)
        .map_err(|_| CryptoError::Internal)
}

#[cfg(not(feature = "sm2"))]
fn wrap_sm2(_spki: &[u8], _material: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Err(CryptoError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [WrappingAlgorithm; 4] = [
        WrappingAlgorithm::RsaesOaepSha1,
        WrappingAlgorithm::RsaesOaepSha256,
        WrappingAlgorithm::RsaAesKeyWrapSha1,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
    ];

    #[test]
    fn each_algorithm_round_trips_and_refuses_tampering() {
        let (pkcs8, spki) = generate_wrapping_key(PairSpec::Rsa2048).unwrap();
        for algorithm in ALL {
            let material = [7u8; 32];
            let wrapped = wrap(&spki, algorithm, &material).unwrap();
            assert_eq!(
                &unwrap(&pkcs8, algorithm, &wrapped).unwrap()[..],
                &material,
                "{algorithm:?}"
            );
            for i in [0, wrapped.len() - 1] {
                let mut bad = wrapped.clone();
                bad[i] ^= 1;
                assert_eq!(
                    unwrap(&pkcs8, algorithm, &bad).unwrap_err(),
                    CryptoError::InvalidCiphertext
                );
            }
            assert!(unwrap(&pkcs8, algorithm, &wrapped[..wrapped.len() - 1]).is_err());
        }
    }

    #[cfg(feature = "sm2")]
    #[test]
    fn sm2pke_round_trips_and_refuses_tampering() {
        let (pkcs8, spki) = generate_wrapping_key(PairSpec::Sm2).unwrap();
        let material = [9u8; 32];
        let wrapped = wrap(&spki, WrappingAlgorithm::Sm2Pke, &material).unwrap();
        assert_eq!(
            &unwrap(&pkcs8, WrappingAlgorithm::Sm2Pke, &wrapped).unwrap()[..],
            &material
        );
        let mut bad = wrapped.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            unwrap(&pkcs8, WrappingAlgorithm::Sm2Pke, &bad).unwrap_err(),
            CryptoError::InvalidCiphertext
        );
        // Another SM2 key cannot open it.
        let (other, _) = generate_wrapping_key(PairSpec::Sm2).unwrap();
        assert!(unwrap(&other, WrappingAlgorithm::Sm2Pke, &wrapped).is_err());
    }

    #[cfg(not(feature = "sm2"))]
    #[test]
    fn no_sm2_wrapping_key_without_the_feature() {
        assert!(generate_wrapping_key(PairSpec::Sm2).is_err());
    }

    #[test]
    fn key_wrap_carries_material_longer_than_oaep_can() {
        let (pkcs8, spki) = generate_wrapping_key(PairSpec::Rsa2048).unwrap();
        let material = vec![3u8; 1217];
        assert!(wrap(&spki, WrappingAlgorithm::RsaesOaepSha256, &material).is_err());
        let wrapped = wrap(&spki, WrappingAlgorithm::RsaAesKeyWrapSha256, &material).unwrap();
        assert_eq!(
            &unwrap(&pkcs8, WrappingAlgorithm::RsaAesKeyWrapSha256, &wrapped).unwrap()[..],
            &material[..]
        );
        // The other hash, or the other construction: refused.
        assert!(unwrap(&pkcs8, WrappingAlgorithm::RsaAesKeyWrapSha1, &wrapped).is_err());
        assert!(unwrap(&pkcs8, WrappingAlgorithm::RsaesOaepSha256, &wrapped).is_err());
    }

    #[test]
    fn another_wrapping_key_cannot_unwrap() {
        let (_, spki) = generate_wrapping_key(PairSpec::Rsa2048).unwrap();
        let (other, _) = generate_wrapping_key(PairSpec::Rsa2048).unwrap();
        let wrapped = wrap(&spki, WrappingAlgorithm::RsaesOaepSha256, &[1; 32]).unwrap();
        assert!(unwrap(&other, WrappingAlgorithm::RsaesOaepSha256, &wrapped).is_err());
    }
}
