//! Operations on asymmetric and HMAC keys: Sign, Verify, GetPublicKey,
//! RSAES-OAEP Encrypt/Decrypt, GenerateMac, VerifyMac, DeriveSharedSecret,
//! and GenerateDataKeyPair* (whose private key is sealed under a symmetric
//! key). Like the symmetric operations they read memory only; the parsed
//! private keys live in the key cache.

use super::*;
use trent_crypto::asymmetric::{
    AsymmetricEncryption, AsymmetricError, MessageKind, SigningAlgorithm, public_key_of_pkcs8,
};
use trent_wire::{
    DataKeyPairSpec, EncapsulationAlgorithmSpec, EncryptionAlgorithmSpec,
    KeyAgreementAlgorithmSpec, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
};

/// A data key pair: the PKCS#8 private key (zeroized on drop), its copy
/// sealed under a symmetric KMS key (a ciphertext blob, as Encrypt makes)
/// and the DER SubjectPublicKeyInfo.
pub struct DataKeyPair {
    pub private_plaintext: Zeroizing<Vec<u8>>,
    pub private_ciphertext: Vec<u8>,
    pub public_key: Vec<u8>,
    pub key_arn: String,
    /// The symmetric key's material that sealed the private key.
    pub key_material_id: String,
}

/// The algorithm lists DescribeKey and GetPublicKey show for a key (empty
/// lists are left out of the answer).
#[derive(Debug, Default)]
pub struct KeyAlgorithms {
    pub encryption: Vec<EncryptionAlgorithmSpec>,
    pub signing: Vec<SigningAlgorithmSpec>,
    pub key_agreement: Vec<KeyAgreementAlgorithmSpec>,
    pub mac: Vec<MacAlgorithmSpec>,
    pub encapsulation: Vec<EncapsulationAlgorithmSpec>,
}

/// What `key` can be used with, as AWS lists it for its spec and usage.
pub fn key_algorithms(key: &KeyRecord) -> KeyAlgorithms {
    let mut lists = KeyAlgorithms::default();
    match (spec_kind(&key.key_spec), &key.key_usage) {
        (Ok(SpecKind::Symmetric), _) => {
            lists.encryption = vec![EncryptionAlgorithmSpec::SymmetricDefault]
        }
        (Ok(SpecKind::Hmac(alg)), _) => lists.mac = vec![wire_mac_algorithm(alg)],
        (Ok(SpecKind::Kem(_)), _) => lists.encapsulation = vec![EncapsulationAlgorithmSpec::MlKem],
        (Ok(SpecKind::Pair(spec)), KeyUsageType::SignVerify) => {
            lists.signing = spec
                .signing_algorithms()
                .iter()
                .map(|&alg| wire_signing_algorithm(alg))
                .collect()
        }
        (Ok(SpecKind::Pair(PairSpec::Sm2)), KeyUsageType::EncryptDecrypt) => {
            lists.encryption = vec![EncryptionAlgorithmSpec::Sm2pke]
        }
        (Ok(SpecKind::Pair(_)), KeyUsageType::EncryptDecrypt) => {
            lists.encryption = vec![
                EncryptionAlgorithmSpec::RsaesOaepSha1,
                EncryptionAlgorithmSpec::RsaesOaepSha256,
            ]
        }
        (Ok(SpecKind::Pair(_)), KeyUsageType::KeyAgreement) => {
            lists.key_agreement = vec![KeyAgreementAlgorithmSpec::Ecdh]
        }
        _ => {}
    }
    lists
}

fn wire_signing_algorithm(alg: SigningAlgorithm) -> SigningAlgorithmSpec {
    use SigningAlgorithm::*;
    match alg {
        RsaPssSha256 => SigningAlgorithmSpec::RsassaPssSha256,
        RsaPssSha384 => SigningAlgorithmSpec::RsassaPssSha384,
        RsaPssSha512 => SigningAlgorithmSpec::RsassaPssSha512,
        RsaPkcs1Sha256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
        RsaPkcs1Sha384 => SigningAlgorithmSpec::RsassaPkcs1V15Sha384,
        RsaPkcs1Sha512 => SigningAlgorithmSpec::RsassaPkcs1V15Sha512,
        EcdsaSha256 => SigningAlgorithmSpec::EcdsaSha256,
        EcdsaSha384 => SigningAlgorithmSpec::EcdsaSha384,
        EcdsaSha512 => SigningAlgorithmSpec::EcdsaSha512,
        Ed25519Sha512 => SigningAlgorithmSpec::Ed25519Sha512,
        Ed25519PhSha512 => SigningAlgorithmSpec::Ed25519PhSha512,
        MlDsaShake256 => SigningAlgorithmSpec::MlDsaShake256,
        Sm2Dsa => SigningAlgorithmSpec::Sm2dsa,
    }
}

fn wire_mac_algorithm(alg: MacAlgorithm) -> MacAlgorithmSpec {
    match alg {
        MacAlgorithm::HmacSha224 => MacAlgorithmSpec::HmacSha224,
        MacAlgorithm::HmacSha256 => MacAlgorithmSpec::HmacSha256,
        MacAlgorithm::HmacSha384 => MacAlgorithmSpec::HmacSha384,
        MacAlgorithm::HmacSha512 => MacAlgorithmSpec::HmacSha512,
    }
}

fn signing_algorithm(spec: &SigningAlgorithmSpec) -> Option<SigningAlgorithm> {
    use SigningAlgorithm::*;
    Some(match spec {
        SigningAlgorithmSpec::RsassaPssSha256 => RsaPssSha256,
        SigningAlgorithmSpec::RsassaPssSha384 => RsaPssSha384,
        SigningAlgorithmSpec::RsassaPssSha512 => RsaPssSha512,
        SigningAlgorithmSpec::RsassaPkcs1V15Sha256 => RsaPkcs1Sha256,
        SigningAlgorithmSpec::RsassaPkcs1V15Sha384 => RsaPkcs1Sha384,
        SigningAlgorithmSpec::RsassaPkcs1V15Sha512 => RsaPkcs1Sha512,
        SigningAlgorithmSpec::EcdsaSha256 => EcdsaSha256,
        SigningAlgorithmSpec::EcdsaSha384 => EcdsaSha384,
        SigningAlgorithmSpec::EcdsaSha512 => EcdsaSha512,
        SigningAlgorithmSpec::Ed25519Sha512 => Ed25519Sha512,
        SigningAlgorithmSpec::Ed25519PhSha512 => Ed25519PhSha512,
        SigningAlgorithmSpec::MlDsaShake256 => MlDsaShake256,
        SigningAlgorithmSpec::Sm2dsa => Sm2Dsa,
        SigningAlgorithmSpec::Unknown(_) => return None,
    })
}

fn message_kind(message_type: &MessageType) -> Result<MessageKind, KmsError> {
    match message_type {
        MessageType::Raw => Ok(MessageKind::Raw),
        MessageType::Digest => Ok(MessageKind::Digest),
        MessageType::ExternalMu => Ok(MessageKind::ExternalMu),
        MessageType::Unknown(other) => Err(KmsError::Validation(format!(
            "MessageType {other} is not valid"
        ))),
    }
}

fn asymmetric_encryption(algorithm: &EncryptionAlgorithmSpec) -> Option<AsymmetricEncryption> {
    match algorithm {
        EncryptionAlgorithmSpec::RsaesOaepSha1 => Some(AsymmetricEncryption::RsaesOaepSha1),
        EncryptionAlgorithmSpec::RsaesOaepSha256 => Some(AsymmetricEncryption::RsaesOaepSha256),
        EncryptionAlgorithmSpec::Sm2pke => Some(AsymmetricEncryption::Sm2Pke),
        _ => None,
    }
}

fn mac_algorithm(spec: &MacAlgorithmSpec) -> Option<MacAlgorithm> {
    match spec {
        MacAlgorithmSpec::HmacSha224 => Some(MacAlgorithm::HmacSha224),
        MacAlgorithmSpec::HmacSha256 => Some(MacAlgorithm::HmacSha256),
        MacAlgorithmSpec::HmacSha384 => Some(MacAlgorithm::HmacSha384),
        MacAlgorithmSpec::HmacSha512 => Some(MacAlgorithm::HmacSha512),
        MacAlgorithmSpec::Unknown(_) => None,
    }
}

fn data_key_pair_spec(spec: &DataKeyPairSpec) -> Result<PairSpec, KmsError> {
    Ok(match spec {
        DataKeyPairSpec::Rsa2048 => PairSpec::Rsa2048,
        DataKeyPairSpec::Rsa3072 => PairSpec::Rsa3072,
        DataKeyPairSpec::Rsa4096 => PairSpec::Rsa4096,
        DataKeyPairSpec::EccNistP256 => PairSpec::EccNistP256,
        DataKeyPairSpec::EccNistP384 => PairSpec::EccNistP384,
        DataKeyPairSpec::EccNistP521 => PairSpec::EccNistP521,
        DataKeyPairSpec::EccSecgP256k1 => PairSpec::EccSecgP256k1,
        DataKeyPairSpec::EccNistEdwards25519 => PairSpec::Ed25519,
        DataKeyPairSpec::Sm2 if PairSpec::Sm2.available() => PairSpec::Sm2,
        other => {
            return Err(KmsError::Unsupported(format!(
                "KeyPairSpec {other} is not supported by this server"
            )));
        }
    })
}

pub(super) fn wrong_algorithm(key: &KeyRecord, algorithm: &str) -> KmsError {
    KmsError::InvalidKeyUsage(format!(
        "Algorithm {algorithm} is incompatible with key spec {} and key usage {} of {}.",
        key.key_spec, key.key_usage, key.arn
    ))
}

/// AWS's error for each refusal of the primitives.
pub(super) fn refused(
    e: AsymmetricError,
    key: &KeyRecord,
    algorithm: &str,
    message_type: Option<&MessageType>,
) -> KmsError {
    match e {
        AsymmetricError::WrongAlgorithm => wrong_algorithm(key, algorithm),
        AsymmetricError::WrongMessageType => KmsError::Validation(format!(
            "MessageType {} is not valid for signing algorithm {algorithm}.",
            message_type.map_or("RAW", |t| t.as_str())
        )),
        // AWS's words; it names no length.
        AsymmetricError::DigestLength { .. } => KmsError::Validation(format!(
            "Digest is invalid length for algorithm {algorithm}."
        )),
        // AWS answers these three without a message.
        AsymmetricError::InvalidSignature => KmsError::InvalidSignature(String::new()),
        AsymmetricError::InvalidCiphertext => KmsError::InvalidCiphertext(String::new()),
        AsymmetricError::PlaintextTooLong { max } => KmsError::Validation(format!(
            "Algorithm {algorithm} and key spec {} cannot encrypt data larger than {max} bytes.",
            key.key_spec
        )),
        AsymmetricError::InvalidPublicKey => KmsError::Validation(String::new()),
        AsymmetricError::NotImplemented(what) => {
            KmsError::Unsupported(format!("{what} is not supported by this server yet"))
        }
        AsymmetricError::Internal => KmsError::internal(e),
    }
}

pub(super) fn missing_material(key: &KeyRecord) -> KmsError {
    KmsError::internal(StoreError::Corrupt(format!(
        "key {} has no material of its spec",
        key.id
    )))
}

fn no_context(context: &BTreeMap<String, String>) -> Result<(), KmsError> {
    if !context.is_empty() {
        return Err(KmsError::Validation(
            "EncryptionContext is not supported with asymmetric KMS keys.".into(),
        ));
    }
    Ok(())
}

impl Kms {
    /// The key for an operation on an asymmetric or HMAC key: resolved from
    /// memory and authorized for `action` (or a grant for `operation`).
    pub(super) async fn authorized_key(
        &self,
        caller: &Caller,
        key_id: &str,
        operation: &str,
        action: Action,
        facts: RequestFacts<'_>,
    ) -> Result<Arc<CachedKey>, KmsError> {
        let (key, resolved) = self.target(caller, key_id, AliasMode::Accept).await?;
        let facts = RequestFacts {
            request_alias: resolved.alias.as_deref(),
            ..facts
        };
        self.authorize(caller, action, &key, &facts, Some(operation))?;
        Ok(key)
    }

    /// The SIGN_VERIFY key and the algorithm for Sign and Verify.
    async fn signing_key(
        &self,
        caller: &Caller,
        key_id: &str,
        operation: &str,
        action: Action,
        message_type: &MessageType,
        algorithm: &SigningAlgorithmSpec,
    ) -> Result<(Arc<CachedKey>, SigningAlgorithm, MessageKind), KmsError> {
        let facts = RequestFacts {
            signing_algorithm: Some(algorithm.as_str()),
            message_type: Some(message_type.as_str()),
            ..Default::default()
        };
        let key = self
            .authorized_key(caller, key_id, operation, action, facts)
            .await?;
        require_usage(&key.record, KeyUsageType::SignVerify, operation)?;
        let alg = signing_algorithm(algorithm)
            .ok_or_else(|| wrong_algorithm(&key.record, algorithm.as_str()))?;
        Ok((key, alg, message_kind(message_type)?))
    }

    pub async fn sign(
        &self,
        caller: &Caller,
        key_id: &str,
        message: &[u8],
        message_type: &MessageType,
        algorithm: &SigningAlgorithmSpec,
    ) -> Result<(Vec<u8>, String), KmsError> {
        let (key, alg, kind) = self
            .signing_key(
                caller,
                key_id,
                "Sign",
                Action::Sign,
                message_type,
                algorithm,
            )
            .await?;
        let pair = key
            .materials
            .pair()
            .ok_or_else(|| missing_material(&key.record))?;
        let signature = pair
            .sign(alg, kind, message)
            .map_err(|e| refused(e, &key.record, algorithm.as_str(), Some(message_type)))?;
        Ok((signature, key.record.arn.clone()))
    }

    /// Ok (with the key ARN) only for a valid signature; an invalid one is
    /// `KMSInvalidSignatureException`, as AWS answers.
    pub async fn verify(
        &self,
        caller: &Caller,
        key_id: &str,
        message: &[u8],
        message_type: &MessageType,
        signature: &[u8],
        algorithm: &SigningAlgorithmSpec,
    ) -> Result<String, KmsError> {
        let (key, alg, kind) = self
            .signing_key(
                caller,
                key_id,
                "Verify",
                Action::Verify,
                message_type,
                algorithm,
            )
            .await?;
        let pair = key
            .materials
            .pair()
            .ok_or_else(|| missing_material(&key.record))?;
        pair.verify(alg, kind, message, signature)
            .map_err(|e| refused(e, &key.record, algorithm.as_str(), Some(message_type)))?;
        Ok(key.record.arn.clone())
    }

    /// The key's metadata and its public key (DER SubjectPublicKeyInfo).
    pub async fn get_public_key(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> Result<(KeyRecord, Vec<u8>), KmsError> {
        let key = self
            .authorized_key(
                caller,
                key_id,
                "GetPublicKey",
                Action::GetPublicKey,
                RequestFacts::default(),
            )
            .await?;
        require_enabled(&key.record)?;
        let public_key = match (key.materials.pair(), key.materials.kem()) {
            (Some(pair), _) => pair.public_key_der(),
            (_, Some(kem)) => kem.public_key_der(),
            (None, None) => {
                return Err(KmsError::Unsupported(format!(
                    "{} is not an asymmetric KMS key; only asymmetric KMS keys have a public key.",
                    key.record.arn
                )));
            }
        };
        Ok((key.record.clone(), public_key.to_vec()))
    }

    /// The ENCRYPT_DECRYPT RSA key for an OAEP Encrypt or Decrypt.
    pub(super) async fn oaep_key(
        &self,
        caller: &Caller,
        key_id: &str,
        operation: &str,
        action: Action,
        algorithm: &EncryptionAlgorithmSpec,
        context: &BTreeMap<String, String>,
    ) -> Result<(Arc<CachedKey>, AsymmetricEncryption), KmsError> {
        let facts = RequestFacts {
            encryption_context: Some(context),
            encryption_algorithm: Some(algorithm.as_str()),
            ..Default::default()
        };
        let key = self
            .authorized_key(caller, key_id, operation, action, facts)
            .await?;
        require_usage(&key.record, KeyUsageType::EncryptDecrypt, operation)?;
        let (Some(hash), Some(pair)) = (asymmetric_encryption(algorithm), key.materials.pair())
        else {
            return Err(wrong_algorithm(&key.record, algorithm.as_str()));
        };
        if pair.spec().max_plaintext(hash).is_none() {
            return Err(wrong_algorithm(&key.record, algorithm.as_str()));
        }
        no_context(context)?;
        Ok((key, hash))
    }

    /// Encrypt with an RSA key (RSAES-OAEP): the ciphertext is the raw
    /// OAEP block; Decrypt needs the KeyId and algorithm back.
    pub async fn encrypt_asymmetric(
        &self,
        caller: &Caller,
        key_id: &str,
        plaintext: &[u8],
        algorithm: &EncryptionAlgorithmSpec,
        context: &BTreeMap<String, String>,
    ) -> Result<(Vec<u8>, String), KmsError> {
        let (key, hash) = self
            .oaep_key(
                caller,
                key_id,
                "Encrypt",
                Action::Encrypt,
                algorithm,
                context,
            )
            .await?;
        let pair = key
            .materials
            .pair()
            .ok_or_else(|| missing_material(&key.record))?;
        let ciphertext = pair
            .encrypt(hash, plaintext)
            .map_err(|e| refused(e, &key.record, algorithm.as_str(), None))?;
        Ok((ciphertext, key.record.arn.clone()))
    }

    pub async fn decrypt_asymmetric(
        &self,
        caller: &Caller,
        key_id: &str,
        ciphertext: &[u8],
        algorithm: &EncryptionAlgorithmSpec,
        context: &BTreeMap<String, String>,
    ) -> Result<(Zeroizing<Vec<u8>>, String), KmsError> {
        self.oaep_open(
            caller,
            key_id,
            ciphertext,
            algorithm,
            context,
            "Decrypt",
            Action::Decrypt,
        )
        .await
    }

    /// Decrypt (or ReEncrypt's source side) with an RSA key.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn oaep_open(
        &self,
        caller: &Caller,
        key_id: &str,
        ciphertext: &[u8],
        algorithm: &EncryptionAlgorithmSpec,
        context: &BTreeMap<String, String>,
        operation: &str,
        action: Action,
    ) -> Result<(Zeroizing<Vec<u8>>, String), KmsError> {
        let (key, hash) = self
            .oaep_key(caller, key_id, operation, action, algorithm, context)
            .await?;
        let pair = key
            .materials
            .pair()
            .ok_or_else(|| missing_material(&key.record))?;
        let plaintext = pair
            .decrypt(hash, ciphertext)
            .map_err(|e| refused(e, &key.record, algorithm.as_str(), None))?;
        Ok((plaintext, key.record.arn.clone()))
    }

    /// The GENERATE_VERIFY_MAC key whose spec matches `algorithm`.
    async fn mac_key(
        &self,
        caller: &Caller,
        key_id: &str,
        operation: &str,
        action: Action,
        algorithm: &MacAlgorithmSpec,
    ) -> Result<Arc<CachedKey>, KmsError> {
        let facts = RequestFacts {
            mac_algorithm: Some(algorithm.as_str()),
            ..Default::default()
        };
        let key = self
            .authorized_key(caller, key_id, operation, action, facts)
            .await?;
        require_usage(&key.record, KeyUsageType::GenerateVerifyMac, operation)?;
        let fits = match (key.materials.hmac(), mac_algorithm(algorithm)) {
            (Some(hmac), Some(alg)) => hmac.algorithm() == alg,
            _ => false,
        };
        if !fits {
            return Err(wrong_algorithm(&key.record, algorithm.as_str()));
        }
        Ok(key)
    }

    pub async fn generate_mac(
        &self,
        caller: &Caller,
        key_id: &str,
        message: &[u8],
        algorithm: &MacAlgorithmSpec,
    ) -> Result<(Vec<u8>, String), KmsError> {
        let key = self
            .mac_key(
                caller,
                key_id,
                "GenerateMac",
                Action::GenerateMac,
                algorithm,
            )
            .await?;
        let hmac = key
            .materials
            .hmac()
            .ok_or_else(|| missing_material(&key.record))?;
        Ok((hmac.mac(message), key.record.arn.clone()))
    }

    /// Ok (with the key ARN) only for a matching MAC; otherwise
    /// `KMSInvalidMacException`, as AWS answers.
    pub async fn verify_mac(
        &self,
        caller: &Caller,
        key_id: &str,
        message: &[u8],
        mac: &[u8],
        algorithm: &MacAlgorithmSpec,
    ) -> Result<String, KmsError> {
        let key = self
            .mac_key(caller, key_id, "VerifyMac", Action::VerifyMac, algorithm)
            .await?;
        let hmac = key
            .materials
            .hmac()
            .ok_or_else(|| missing_material(&key.record))?;
        if !hmac.verify(message, mac) {
            return Err(KmsError::InvalidMac(String::new()));
        }
        Ok(key.record.arn.clone())
    }

    /// ECDH between a KEY_AGREEMENT key and a peer's public key (DER
    /// SubjectPublicKeyInfo): the raw shared secret.
    pub async fn derive_shared_secret(
        &self,
        caller: &Caller,
        key_id: &str,
        algorithm: &KeyAgreementAlgorithmSpec,
        public_key: &[u8],
    ) -> Result<(Zeroizing<Vec<u8>>, String), KmsError> {
        let facts = RequestFacts {
            key_agreement_algorithm: Some(algorithm.as_str()),
            ..Default::default()
        };
        let key = self
            .authorized_key(
                caller,
                key_id,
                "DeriveSharedSecret",
                Action::DeriveSharedSecret,
                facts,
            )
            .await?;
        require_usage(
            &key.record,
            KeyUsageType::KeyAgreement,
            "DeriveSharedSecret",
        )?;
        if *algorithm != KeyAgreementAlgorithmSpec::Ecdh {
            return Err(wrong_algorithm(&key.record, algorithm.as_str()));
        }
        let pair = key
            .materials
            .pair()
            .ok_or_else(|| missing_material(&key.record))?;
        let secret = pair
            .derive_shared_secret(public_key)
            .map_err(|e| refused(e, &key.record, algorithm.as_str(), None))?;
        Ok((secret, key.record.arn.clone()))
    }

    /// GenerateDataKeyPair (`with_plaintext`) or its WithoutPlaintext form:
    /// a fresh key pair whose PKCS#8 private key is sealed under a
    /// symmetric key, in the blob format Decrypt opens.
    pub async fn generate_data_key_pair(
        &self,
        caller: &Caller,
        key_id: &str,
        spec: &DataKeyPairSpec,
        context: &BTreeMap<String, String>,
        with_plaintext: bool,
    ) -> Result<DataKeyPair, KmsError> {
        let (operation, action) = if with_plaintext {
            ("GenerateDataKeyPair", Action::GenerateDataKeyPair)
        } else {
            (
                "GenerateDataKeyPairWithoutPlaintext",
                Action::GenerateDataKeyPairWithoutPlaintext,
            )
        };
        let facts = RequestFacts {
            encryption_context: Some(context),
            encryption_algorithm: Some("SYMMETRIC_DEFAULT"),
            data_key_pair_spec: Some(spec.as_str()),
            ..Default::default()
        };
        let key = self
            .authorized_key(caller, key_id, operation, action, facts)
            .await?;
        require_usable(&key.record, operation)?;
        let pair_spec = data_key_pair_spec(spec)?;
        let private_plaintext = if pair_spec.is_rsa() {
            tokio::task::spawn_blocking(move || pair_spec.generate_pkcs8())
                .await
                .map_err(KmsError::internal)??
        } else {
            pair_spec.generate_pkcs8()?
        };
        let public_key = public_key_of_pkcs8(pair_spec, &private_plaintext)?;
        let private_ciphertext = Self::seal_with(&key, context, &private_plaintext)?;
        Ok(DataKeyPair {
            private_plaintext,
            private_ciphertext,
            public_key,
            key_arn: key.record.arn.clone(),
            key_material_id: key.material_id(key.record.current_material),
        })
    }
}
