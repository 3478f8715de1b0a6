//! The rules of imported key material that need no I/O: AWS's wrapping
//! algorithm and key spec pairs, the origin, material that fits a key
//! spec, the material's id (`materials.rs`: the materials' states).

use super::*;
use trent_crypto::import::{WrappingAlgorithm, fits_spec};
use trent_wire::{AlgorithmSpec, WrappingKeySpec};

/// The id of a key's current material: for imported material its keyed
/// digest in hex (AWS: "based on the KMS key ID and the imported key
/// material"; `None` before the first import), else per version.
pub fn current_key_material_id(key: &KeyRecord) -> Option<String> {
    if key.origin == OriginType::External {
        return key.current_import().map(super::materials::id_of);
    }
    Some(material_id(key, key.current_material))
}

/// The id of material `version` of a key: what a response naming the
/// material a ciphertext was made or opened with (KeyMaterialId) says. An
/// imported material is named by its keyed digest.
pub fn material_id(key: &KeyRecord, version: u32) -> String {
    match key.import_of(version) {
        Some(imported) if key.origin == OriginType::External => super::materials::id_of(imported),
        _ => crate::ids::key_material_id(&key.blob_id(), version),
    }
}

/// A wrapping algorithm and key spec as AWS accepts them together: the
/// RSA algorithms with the RSA specs, SM2PKE with SM2 (only where the
/// `sm2` feature is built, as AWS offers it only in its China Regions).
pub(super) fn wrapping(
    algorithm: &AlgorithmSpec,
    spec: &WrappingKeySpec,
) -> Result<(WrappingAlgorithm, PairSpec), KmsError> {
    let rsa = match spec {
        WrappingKeySpec::Rsa2048 => Some(PairSpec::Rsa2048),
        WrappingKeySpec::Rsa3072 => Some(PairSpec::Rsa3072),
        WrappingKeySpec::Rsa4096 => Some(PairSpec::Rsa4096),
        _ => None,
    };
    let algorithm = match algorithm {
        AlgorithmSpec::RsaesOaepSha1 => WrappingAlgorithm::RsaesOaepSha1,
        AlgorithmSpec::RsaesOaepSha256 => WrappingAlgorithm::RsaesOaepSha256,
        AlgorithmSpec::RsaAesKeyWrapSha1 => WrappingAlgorithm::RsaAesKeyWrapSha1,
        AlgorithmSpec::RsaAesKeyWrapSha256 => WrappingAlgorithm::RsaAesKeyWrapSha256,
        AlgorithmSpec::RsaesPkcs1V15 => {
            return Err(KmsError::Unsupported(
                "KMS does not support the RSAES_PKCS1_V1_5 wrapping algorithm. Use an RSAES_OAEP or RSA_AES_KEY_WRAP wrapping algorithm.".into(),
            ));
        }
        AlgorithmSpec::Sm2pke if *spec == WrappingKeySpec::Sm2 => {
            if !PairSpec::Sm2.available() {
                return Err(KmsError::Unsupported(
                    "The SM2PKE wrapping algorithm is not supported by this server (built without SM2)".into(),
                ));
            }
            return Ok((WrappingAlgorithm::Sm2Pke, PairSpec::Sm2));
        }
        other => {
            return Err(KmsError::Validation(format!(
                "WrappingAlgorithm {other} is not valid with WrappingKeySpec {spec}"
            )));
        }
    };
    match rsa {
        Some(spec) => Ok((algorithm, spec)),
        None => Err(KmsError::Validation(format!(
            "WrappingKeySpec {spec} is only valid with WrappingAlgorithm SM2PKE"
        ))),
    }
}

/// `UnsupportedOperationException` unless the key's material is imported.
pub(super) fn require_external(key: &KeyRecord) -> Result<(), KmsError> {
    if key.origin != OriginType::External {
        return Err(KmsError::Unsupported(format!(
            "{} origin is {} which is not valid for this operation.",
            key.arn, key.origin
        )));
    }
    Ok(())
}

/// Whether keys of this kind take imported material (CreateKey's Origin
/// EXTERNAL); kinds added later do not until said here.
pub(super) fn takes_imports(kind: SpecKind) -> bool {
    matches!(
        kind,
        SpecKind::Symmetric | SpecKind::Hmac(_) | SpecKind::Pair(_)
    )
}

/// The unwrapped material as the key's in-memory material, if it fits the
/// key's spec.
pub(super) fn imported_material(record: &KeyRecord, bytes: &[u8]) -> Result<Materials, KmsError> {
    let incorrect = || {
        KmsError::IncorrectKeyMaterial(format!(
            "The key material is not valid for a KMS key with key spec {}",
            record.key_spec
        ))
    };
    // Kinds added later take no imported material until said here.
    let kind = spec_kind(&record.key_spec)?;
    let fits = if kind == SpecKind::Symmetric {
        bytes.len() == trent_crypto::KEY_LEN
    } else if let SpecKind::Hmac(alg) = kind {
        alg.import_lens().contains(&bytes.len())
    } else if let SpecKind::Pair(spec) = kind {
        fits_spec(spec, bytes)
    } else {
        false
    };
    if !fits {
        return Err(incorrect());
    }
    material_of(record, bytes).map_err(|_| incorrect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_pairs_as_aws_takes_them() {
        assert_eq!(
            wrapping(&AlgorithmSpec::RsaAesKeyWrapSha1, &WrappingKeySpec::Rsa4096).unwrap(),
            (WrappingAlgorithm::RsaAesKeyWrapSha1, PairSpec::Rsa4096)
        );
        let refused = |a: AlgorithmSpec, s: WrappingKeySpec| wrapping(&a, &s).unwrap_err();
        assert!(matches!(
            refused(AlgorithmSpec::RsaesPkcs1V15, WrappingKeySpec::Rsa2048),
            KmsError::Unsupported(_)
        ));
        match wrapping(&AlgorithmSpec::Sm2pke, &WrappingKeySpec::Sm2) {
            Ok(pair) => {
                assert!(PairSpec::Sm2.available());
                assert_eq!(pair, (WrappingAlgorithm::Sm2Pke, PairSpec::Sm2));
            }
            Err(e) => {
                assert!(!PairSpec::Sm2.available());
                assert!(matches!(e, KmsError::Unsupported(_)));
            }
        }
        assert!(matches!(
            refused(AlgorithmSpec::Sm2pke, WrappingKeySpec::Rsa2048),
            KmsError::Validation(_)
        ));
        assert!(matches!(
            refused(AlgorithmSpec::RsaesOaepSha256, WrappingKeySpec::Sm2),
            KmsError::Validation(_)
        ));
    }
}
