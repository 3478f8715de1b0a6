//! The rules of imported key material that need no I/O: AWS's wrapping
//! algorithm and key spec pairs, the origin, material that fits a key
//! spec, ImportType and KeyMaterialId, the material's id.

use super::import::ImportMaterial;
use super::*;
use trent_crypto::import::{WrappingAlgorithm, fits_spec};
use trent_wire::{AlgorithmSpec, ImportType, WrappingKeySpec};

/// The id of a key's current material: for imported material its keyed
/// digest in hex (AWS: "based on the KMS key ID and the imported key
/// material"; `None` before the first import), else per version.
pub fn current_key_material_id(key: &KeyRecord) -> Option<String> {
    if key.origin == OriginType::External && key.material_digest.is_none() {
        return None;
    }
    Some(material_id(key, key.current_material))
}

/// The id of material `version` of a key: what a response naming the
/// material a ciphertext was made or opened with (KeyMaterialId) says. An
/// imported key's one material is named by its keyed digest.
pub fn material_id(key: &KeyRecord, version: u32) -> String {
    match &key.material_digest {
        Some(digest) if key.origin == OriginType::External => crate::ids::hex(digest),
        _ => crate::ids::key_material_id(&key.blob_id(), version),
    }
}

/// ImportType and KeyMaterialId as AWS decides them, once the material's
/// digest is known.
pub(super) fn check_import_type(
    record: &KeyRecord,
    params: &ImportMaterial,
    digest: &[u8],
) -> Result<(), KmsError> {
    let known = record.material_digest.as_deref();
    let same = known.is_some_and(|k| trent_crypto::constant_time_eq(k, digest));
    let import_type = params.import_type.clone().unwrap_or(if known.is_some() {
        ImportType::ExistingKeyMaterial
    } else {
        ImportType::NewKeyMaterial
    });
    match import_type {
        ImportType::NewKeyMaterial if same => Err(KmsError::IncorrectKeyMaterial(
            "KMS expected new key material but the key material being imported is already associated with the KMS key".into(),
        )),
        ImportType::NewKeyMaterial if known.is_some() => Err(KmsError::Unsupported(
            "Importing new key material into a KMS key that already has key material is not supported by this server yet".into(),
        )),
        ImportType::NewKeyMaterial => Ok(()),
        _ if !same => Err(KmsError::IncorrectKeyMaterial(
            "The key material being imported is not the same key material that was previously imported into this KMS key".into(),
        )),
        _ => match &params.key_material_id {
            Some(id) if !trent_crypto::constant_time_eq(id.as_bytes(), crate::ids::hex(digest).as_bytes()) => {
                Err(KmsError::IncorrectKeyMaterial(format!(
                    "The key material being imported does not have the key material ID {id}"
                )))
            }
            _ => Ok(()),
        },
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

    fn key(digest: Option<Vec<u8>>) -> KeyRecord {
        let id = Uuid::new_v4();
        KeyRecord {
            id,
            account: "111122223333".into(),
            region: "us-east-1".into(),
            arn: key_arn("us-east-1", "111122223333", &id),
            created_ms: 0,
            description: String::new(),
            key_usage: KeyUsageType::EncryptDecrypt,
            key_spec: KeySpec::SymmetricDefault,
            origin: OriginType::External,
            state: KeyState::PendingImport,
            deletion_date_ms: None,
            pending_window_days: None,
            policy: "{}".into(),
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation_ms: None,
            current_material: 1,
            tags: Vec::new(),
            expiration_model: None,
            valid_to_ms: None,
            material_digest: digest,
            material_description: None,
            multi_region: None,
        }
    }

    fn params(import_type: Option<ImportType>, id: Option<String>) -> ImportMaterial {
        ImportMaterial {
            import_token: Vec::new(),
            encrypted_key_material: Vec::new(),
            expiration_model: None,
            valid_to_ms: None,
            import_type,
            key_material_id: id,
            description: None,
        }
    }

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

    #[test]
    fn import_type_and_material_id() {
        let digest = vec![0xab; 32];
        let first = key(None);
        let ok = |k: &KeyRecord, p: ImportMaterial| check_import_type(k, &p, &digest);
        assert!(ok(&first, params(None, None)).is_ok());
        assert!(ok(&first, params(Some(ImportType::NewKeyMaterial), None)).is_ok());
        assert!(matches!(
            ok(&first, params(Some(ImportType::ExistingKeyMaterial), None)),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
        let imported = key(Some(digest.clone()));
        assert_eq!(current_key_material_id(&imported), Some("ab".repeat(32)));
        assert!(ok(&imported, params(None, Some("ab".repeat(32)))).is_ok());
        assert!(matches!(
            ok(&imported, params(None, Some("cd".repeat(32)))),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
        assert!(matches!(
            ok(&imported, params(Some(ImportType::NewKeyMaterial), None)),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
        let other = key(Some(vec![1; 32]));
        assert!(matches!(
            ok(&other, params(None, None)),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
        assert!(matches!(
            ok(&other, params(Some(ImportType::NewKeyMaterial), None)),
            Err(KmsError::Unsupported(_))
        ));
    }
}
