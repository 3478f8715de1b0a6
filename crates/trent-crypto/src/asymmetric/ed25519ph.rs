//! Ed25519ph (RFC 8032 §5.1, HashEdDSA over a SHA-512 digest), for
//! ED25519_PH_SHA_512 with MessageType DIGEST. AWS-LC implements it
//! (`ED25519ph_sign_digest`, `ED25519ph_verify_digest`), but aws-lc-rs
//! wraps neither, so these two calls go to the same library through
//! aws-lc-sys. This module is the workspace's only unsafe code (the
//! workspace lint denies it everywhere else).
#![allow(unsafe_code)]

use zeroize::Zeroizing;

/// Signs the SHA-512 `digest` with the key of `seed` (whose public key is
/// `public`), with an empty context, as AWS KMS does.
pub(super) fn sign(seed: &[u8; 32], public: &[u8; 32], digest: &[u8; 64]) -> Option<[u8; 64]> {
    // AWS-LC's private key form: seed ‖ public key.
    let mut private = Zeroizing::new([0u8; 64]);
    private[..32].copy_from_slice(seed);
    private[32..].copy_from_slice(public);
    let mut signature = [0u8; 64];
    // SAFETY: every pointer is to a live array of the length the C function
    // reads or writes (64-byte signature, 64-byte digest, 64-byte private
    // key); the context is empty (null, length 0).
    let ok = unsafe {
        aws_lc_sys::ED25519ph_sign_digest(
            signature.as_mut_ptr(),
            digest.as_ptr(),
            private.as_ptr(),
            std::ptr::null(),
            0,
        )
    };
    (ok == 1).then_some(signature)
}

/// Whether `signature` is `public`'s Ed25519ph signature of the SHA-512
/// `digest`, with an empty context.
pub(super) fn verify(public: &[u8; 32], digest: &[u8; 64], signature: &[u8]) -> bool {
    let Ok(signature) = <&[u8; 64]>::try_from(signature) else {
        return false;
    };
    // SAFETY: as in `sign`: fixed-size arrays of the lengths the C function
    // reads (64-byte digest and signature, 32-byte public key), no context.
    let ok = unsafe {
        aws_lc_sys::ED25519ph_verify_digest(
            digest.as_ptr(),
            signature.as_ptr(),
            public.as_ptr(),
            std::ptr::null(),
            0,
        )
    };
    ok == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 §7.3, the Ed25519ph test vector (message "abc").
    #[test]
    fn rfc_8032_test_vector() {
        let seed: [u8; 32] =
            hex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
                .try_into()
                .unwrap();
        let public: [u8; 32] =
            hex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
                .try_into()
                .unwrap();
        let expected = hex(
            "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
             31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
        );
        let digest: [u8; 64] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, b"abc")
            .as_ref()
            .try_into()
            .unwrap();
        let signature = sign(&seed, &public, &digest).unwrap();
        assert_eq!(signature.to_vec(), expected);
        assert!(verify(&public, &digest, &signature));
        let mut other = digest;
        other[0] ^= 1;
        assert!(!verify(&public, &other, &signature));
        assert!(!verify(&public, &digest, &signature[..63]));
    }
}
