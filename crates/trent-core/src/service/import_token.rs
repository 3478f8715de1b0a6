//! GetParametersForImport's import token, stateless: the wrapping private
//! key (PKCS#8) sealed under the root key, with an AAD that binds the key
//! id, the wrapping algorithm and key spec and the expiry, which the token
//! also carries in the clear. ImportKeyMaterial opens it with the same AAD:
//! a token for another key, altered, or sealed under another root key does
//! not open. The private key is never stored unsealed (nor stored at all).
//!
//! Layout: `MAGIC` (4) ‖ key id (16) ‖ algorithm (1) ‖ key spec (1) ‖
//! expiry, Unix ms (8, big-endian) ‖ sealed private key.

use crate::error::KmsError;
use crate::store::RootKey;
use trent_crypto::asymmetric::PairSpec;
use trent_crypto::import::WrappingAlgorithm;
use uuid::Uuid;
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"TIT\x01";
const HEADER_LEN: usize = 4 + 16 + 1 + 1 + 8;
/// Prefix of the AAD (then the header), so that nothing else sealed under
/// the root key opens as a token.
const AAD_PREFIX: &[u8] = b"import-token:";

/// What a token carries, in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenFacts {
    pub key_id: Uuid,
    pub algorithm: WrappingAlgorithm,
    pub spec: PairSpec,
    pub expires_ms: i64,
}

fn algorithm_code(algorithm: WrappingAlgorithm) -> u8 {
    match algorithm {
        WrappingAlgorithm::RsaesOaepSha1 => 1,
        WrappingAlgorithm::RsaesOaepSha256 => 2,
        WrappingAlgorithm::RsaAesKeyWrapSha1 => 3,
        WrappingAlgorithm::RsaAesKeyWrapSha256 => 4,
        WrappingAlgorithm::Sm2Pke => 5,
    }
}

fn algorithm_of(code: u8) -> Option<WrappingAlgorithm> {
    Some(match code {
        1 => WrappingAlgorithm::RsaesOaepSha1,
        2 => WrappingAlgorithm::RsaesOaepSha256,
        3 => WrappingAlgorithm::RsaAesKeyWrapSha1,
        4 => WrappingAlgorithm::RsaAesKeyWrapSha256,
        5 => WrappingAlgorithm::Sm2Pke,
        _ => return None,
    })
}

fn spec_code(spec: PairSpec) -> Option<u8> {
    match spec {
        PairSpec::Rsa2048 => Some(1),
        PairSpec::Rsa3072 => Some(2),
        PairSpec::Rsa4096 => Some(3),
        PairSpec::Sm2 => Some(4),
        _ => None,
    }
}

fn spec_of(code: u8) -> Option<PairSpec> {
    match code {
        1 => Some(PairSpec::Rsa2048),
        2 => Some(PairSpec::Rsa3072),
        3 => Some(PairSpec::Rsa4096),
        4 => Some(PairSpec::Sm2),
        _ => None,
    }
}

fn header(facts: &TokenFacts) -> Result<Vec<u8>, KmsError> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(facts.key_id.as_bytes());
    out.push(algorithm_code(facts.algorithm));
    out.push(spec_code(facts.spec).ok_or_else(|| KmsError::Internal("not an RSA spec".into()))?);
    out.extend_from_slice(&facts.expires_ms.to_be_bytes());
    Ok(out)
}

fn aad(header: &[u8]) -> Vec<u8> {
    [AAD_PREFIX, header].concat()
}

/// A token for `facts` carrying the wrapping private key `pkcs8`.
pub(crate) fn seal(
    root: &dyn RootKey,
    facts: &TokenFacts,
    pkcs8: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let mut token = header(facts)?;
    let sealed = root.seal(&aad(&token), pkcs8)?;
    token.extend_from_slice(&sealed);
    Ok(token)
}

fn invalid() -> KmsError {
    KmsError::InvalidImportToken(
        "The import token is not valid or is associated with a different KMS key".into(),
    )
}

/// Opens a token for key `key_id` at `now_ms`: its facts and the wrapping
/// private key. `InvalidImportToken` for a token not made by this server
/// for this key (or altered); `ExpiredImportToken` past its expiry.
pub(crate) fn open(
    root: &dyn RootKey,
    token: &[u8],
    key_id: &Uuid,
    now_ms: i64,
) -> Result<(TokenFacts, Zeroizing<Vec<u8>>), KmsError> {
    if token.len() <= HEADER_LEN || !token.starts_with(MAGIC) {
        return Err(invalid());
    }
    let (head, sealed) = token.split_at(HEADER_LEN);
    let id = Uuid::from_slice(&head[4..20]).map_err(|_| invalid())?;
    if &id != key_id {
        return Err(invalid());
    }
    let algorithm = algorithm_of(head[20]).ok_or_else(invalid)?;
    let spec = spec_of(head[21]).ok_or_else(invalid)?;
    let expires_ms = i64::from_be_bytes(head[22..30].try_into().map_err(|_| invalid())?);
    let pkcs8 = root.unseal(&aad(head), sealed).map_err(|e| match e {
        crate::SealError::Unauthentic => invalid(),
        other => other.into(),
    })?;
    if expires_ms <= now_ms {
        return Err(KmsError::ExpiredImportToken(
            "The import token has expired. Call GetParametersForImport for a new public key and import token".into(),
        ));
    }
    Ok((
        TokenFacts {
            key_id: id,
            algorithm,
            spec,
            expires_ms,
        },
        pkcs8,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SealError;

    /// A root key over one AES key, as the file provider's.
    struct TestRoot(trent_crypto::SymmetricKey);

    impl RootKey for TestRoot {
        fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
            trent_crypto::seal::seal(&self.0, aad, plaintext).map_err(|_| SealError::Unauthentic)
        }
        fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
            trent_crypto::seal::open(&self.0, aad, sealed).map_err(|_| SealError::Unauthentic)
        }
    }

    fn root() -> TestRoot {
        let bytes = trent_crypto::SymmetricKey::generate_bytes().unwrap();
        TestRoot(trent_crypto::SymmetricKey::from_bytes(bytes.as_ref()).unwrap())
    }

    fn facts(key_id: Uuid) -> TokenFacts {
        TokenFacts {
            key_id,
            algorithm: WrappingAlgorithm::RsaAesKeyWrapSha256,
            spec: PairSpec::Rsa3072,
            expires_ms: 1_000_000,
        }
    }

    #[test]
    fn round_trip() {
        let root = root();
        let id = Uuid::new_v4();
        let token = seal(&root, &facts(id), b"private key").unwrap();
        let (opened, pkcs8) = open(&root, &token, &id, 999_999).unwrap();
        assert_eq!(opened, facts(id));
        assert_eq!(&pkcs8[..], b"private key");
        assert!(!token.windows(11).any(|w| w == b"private key"));
    }

    #[test]
    fn refuses_another_key_tampering_another_root_and_expiry() {
        let root = root();
        let id = Uuid::new_v4();
        let token = seal(&root, &facts(id), b"private key").unwrap();
        let invalid = |e: KmsError| matches!(e, KmsError::InvalidImportToken(_));
        assert!(invalid(
            open(&root, &token, &Uuid::new_v4(), 0).unwrap_err()
        ));
        // Every byte, header (facts in the clear) or sealed part.
        for i in 0..token.len() {
            let mut bad = token.clone();
            bad[i] ^= 0x01;
            assert!(invalid(open(&root, &bad, &id, 0).unwrap_err()), "byte {i}");
        }
        assert!(invalid(
            open(&root, &token[..HEADER_LEN], &id, 0).unwrap_err()
        ));
        assert!(invalid(open(&root, b"", &id, 0).unwrap_err()));
        assert!(invalid(open(&self::root(), &token, &id, 0).unwrap_err()));
        assert!(matches!(
            open(&root, &token, &id, 1_000_000).unwrap_err(),
            KmsError::ExpiredImportToken(_)
        ));
    }
}
