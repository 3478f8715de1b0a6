//! Asymmetric key pairs (RSA, ECDSA, ECDH, Ed25519, ML-DSA) and HMAC keys,
//! all on `aws-lc-rs`.
//!
//! Private keys travel as PKCS#8 DER in zeroizing buffers (that is what is
//! sealed under the root key and what GenerateDataKeyPair returns); a
//! [`PrivateKey`] is parsed once per key and shared by all requests. Public
//! keys are DER `SubjectPublicKeyInfo`, as AWS KMS returns them.
//!
//! Message types follow AWS KMS: `Raw` messages are hashed by the algorithm;
//! a `Digest` is signed as given (RSA PKCS#1 v1.5 wraps it in a DigestInfo,
//! as for a hashed message), so a DIGEST signature verifies as a RAW one over
//! the original message.

use crate::CryptoError;
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair};
use aws_lc_rs::{agreement, hmac, rsa};
use zeroize::Zeroizing;

/// The key specs of asymmetric KMS keys and data key pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairSpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    EccNistP521,
    EccSecgP256k1,
    Ed25519,
    MlDsa44,
    MlDsa65,
    MlDsa87,
    /// Only with the `sm2` feature (see [`PairSpec::available`]).
    Sm2,
}

/// What a key pair is for (AWS's KeyUsage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairUsage {
    SignVerify,
    EncryptDecrypt,
    KeyAgreement,
}

/// AWS's SigningAlgorithmSpec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    Ed25519Sha512,
    Ed25519PhSha512,
    MlDsaShake256,
    Sm2Dsa,
}

/// AWS's MessageType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Raw,
    Digest,
    ExternalMu,
}

/// AWS's asymmetric EncryptionAlgorithmSpecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsymmetricEncryption {
    /// RSAES-OAEP with SHA-1 (and MGF1 with SHA-1).
    RsaesOaepSha1,
    /// RSAES-OAEP with SHA-256 (and MGF1 with SHA-256).
    RsaesOaepSha256,
    /// SM2 public-key encryption (GM/T 0003.4), DER ciphertext (GM/T 0009).
    Sm2Pke,
}

/// Why an asymmetric operation was refused. Each maps to one AWS error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AsymmetricError {
    /// The algorithm does not belong to the key's spec or usage.
    #[error("the algorithm is not valid for this key")]
    WrongAlgorithm,
    /// The message type can't be used with the algorithm.
    #[error("the message type is not valid for this signing algorithm")]
    WrongMessageType,
    /// A DIGEST or EXTERNAL_MU message of the wrong length.
    #[error("the digest must be {expected} bytes long for this signing algorithm")]
    DigestLength { expected: usize },
    #[error("the signature is invalid")]
    InvalidSignature,
    #[error("the ciphertext is invalid")]
    InvalidCiphertext,
    #[error("the plaintext is longer than the {max} bytes this key and algorithm can encrypt")]
    PlaintextTooLong { max: usize },
    /// A peer public key that is not a DER SubjectPublicKeyInfo on the key's curve.
    #[error("the public key is not a valid DER-encoded SubjectPublicKeyInfo for this key's curve")]
    InvalidPublicKey,
    /// Valid in AWS KMS but not implemented here.
    #[error("{0} is not supported by this server yet")]
    NotImplemented(&'static str),
    #[error("cryptographic primitive failed")]
    Internal,
}

impl From<CryptoError> for AsymmetricError {
    fn from(_: CryptoError) -> Self {
        AsymmetricError::Internal
    }
}

fn internal<E>(_: E) -> AsymmetricError {
    AsymmetricError::Internal
}

fn bad<E>(_: E) -> CryptoError {
    CryptoError::Internal
}

impl PairSpec {
    pub const ALL: [PairSpec; 11] = [
        PairSpec::Rsa2048,
        PairSpec::Rsa3072,
        PairSpec::Rsa4096,
        PairSpec::EccNistP256,
        PairSpec::EccNistP384,
        PairSpec::EccNistP521,
        PairSpec::EccSecgP256k1,
        PairSpec::Ed25519,
        PairSpec::MlDsa44,
        PairSpec::MlDsa65,
        PairSpec::MlDsa87,
    ];

    /// Whether this build implements the spec (SM2 needs the `sm2` feature).
    pub fn available(self) -> bool {
        self != PairSpec::Sm2 || cfg!(feature = "sm2")
    }

    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            PairSpec::Rsa2048 | PairSpec::Rsa3072 | PairSpec::Rsa4096
        )
    }

    /// The usages AWS allows for this spec.
    pub fn allows(self, usage: PairUsage) -> bool {
        use PairSpec::*;
        match usage {
            PairUsage::SignVerify => true,
            PairUsage::EncryptDecrypt => self.is_rsa() || self == Sm2,
            PairUsage::KeyAgreement => {
                matches!(self, EccNistP256 | EccNistP384 | EccNistP521 | Sm2)
            }
        }
    }

    /// The signing algorithms of a SIGN_VERIFY key of this spec, in AWS's order.
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm::*;
        match self {
            PairSpec::Rsa2048 | PairSpec::Rsa3072 | PairSpec::Rsa4096 => &[
                RsaPssSha256,
                RsaPssSha384,
                RsaPssSha512,
                RsaPkcs1Sha256,
                RsaPkcs1Sha384,
                RsaPkcs1Sha512,
            ],
            PairSpec::EccNistP256 | PairSpec::EccSecgP256k1 => &[EcdsaSha256],
            PairSpec::EccNistP384 => &[EcdsaSha384],
            PairSpec::EccNistP521 => &[EcdsaSha512],
            PairSpec::Ed25519 => &[Ed25519Sha512, Ed25519PhSha512],
            PairSpec::MlDsa44 | PairSpec::MlDsa65 | PairSpec::MlDsa87 => &[MlDsaShake256],
            PairSpec::Sm2 => &[Sm2Dsa],
        }
    }

    /// The most plaintext `algorithm` can encrypt under this spec (AWS's
    /// documented limits), or `None` if the spec does not use it.
    pub fn max_plaintext(self, algorithm: AsymmetricEncryption) -> Option<usize> {
        let modulus = match (self, algorithm) {
            (PairSpec::Sm2, AsymmetricEncryption::Sm2Pke) => return Some(1024),
            (_, AsymmetricEncryption::Sm2Pke) => return None,
            (PairSpec::Rsa2048, _) => 256,
            (PairSpec::Rsa3072, _) => 384,
            (PairSpec::Rsa4096, _) => 512,
            _ => return None,
        };
        let hash_len = match algorithm {
            AsymmetricEncryption::RsaesOaepSha1 => 20,
            _ => 32,
        };
        Some(modulus - 2 * hash_len - 2)
    }

    fn ecdsa_signing(self) -> Option<&'static signature::EcdsaSigningAlgorithm> {
        match self {
            PairSpec::EccNistP256 => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
            PairSpec::EccNistP384 => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
            PairSpec::EccNistP521 => Some(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
            PairSpec::EccSecgP256k1 => Some(&signature::ECDSA_P256K1_SHA256_ASN1_SIGNING),
            _ => None,
        }
    }

    fn ecdh(self) -> Option<&'static agreement::Algorithm> {
        match self {
            PairSpec::EccNistP256 => Some(&agreement::ECDH_P256),
            PairSpec::EccNistP384 => Some(&agreement::ECDH_P384),
            PairSpec::EccNistP521 => Some(&agreement::ECDH_P521),
            _ => None,
        }
    }

    fn ml_dsa(self) -> Option<&'static signature::PqdsaSigningAlgorithm> {
        match self {
            PairSpec::MlDsa44 => Some(&signature::ML_DSA_44_SIGNING),
            PairSpec::MlDsa65 => Some(&signature::ML_DSA_65_SIGNING),
            PairSpec::MlDsa87 => Some(&signature::ML_DSA_87_SIGNING),
            _ => None,
        }
    }

    fn rsa_size(self) -> Option<rsa::KeySize> {
        match self {
            PairSpec::Rsa2048 => Some(rsa::KeySize::Rsa2048),
            PairSpec::Rsa3072 => Some(rsa::KeySize::Rsa3072),
            PairSpec::Rsa4096 => Some(rsa::KeySize::Rsa4096),
            _ => None,
        }
    }

    /// A fresh private key as PKCS#8 DER. RSA generation takes tens to
    /// hundreds of milliseconds: call it off the async runtime's workers.
    pub fn generate_pkcs8(self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if self == PairSpec::Sm2 {
            return sm2::generate_pkcs8();
        }
        let rng = SystemRandom::new();
        let doc = if let Some(size) = self.rsa_size() {
            let pair = rsa::KeyPair::generate(size).map_err(|_| CryptoError::Internal)?;
            let der = pair.as_der().map_err(|_| CryptoError::Internal)?;
            return Ok(Zeroizing::new(der.as_ref().to_vec()));
        } else if let Some(alg) = self.ecdsa_signing() {
            signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
        } else if let Some(alg) = self.ml_dsa() {
            signature::PqdsaKeyPair::generate(alg).and_then(|pair| pair.to_pkcs8v1())
        } else {
            signature::Ed25519KeyPair::generate_pkcs8v1(&rng)
        }
        .map_err(|_| CryptoError::Internal)?;
        Ok(Zeroizing::new(doc.as_ref().to_vec()))
    }
}

impl SigningAlgorithm {
    /// The hash a DIGEST message must come from (its length is checked).
    fn digest_algorithm(self) -> Option<&'static digest::Algorithm> {
        use SigningAlgorithm::*;
        match self {
            RsaPssSha256 | RsaPkcs1Sha256 | EcdsaSha256 => Some(&digest::SHA256),
            RsaPssSha384 | RsaPkcs1Sha384 | EcdsaSha384 => Some(&digest::SHA384),
            RsaPssSha512 | RsaPkcs1Sha512 | EcdsaSha512 | Ed25519PhSha512 => Some(&digest::SHA512),
            // The SM3 hash of Z_A ‖ M; 32 bytes (checked in `check_message`).
            Sm2Dsa => None,
            Ed25519Sha512 | MlDsaShake256 => None,
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn signature::RsaEncoding> {
        use SigningAlgorithm::*;
        match self {
            RsaPssSha256 => Some(&signature::RSA_PSS_SHA256),
            RsaPssSha384 => Some(&signature::RSA_PSS_SHA384),
            RsaPssSha512 => Some(&signature::RSA_PSS_SHA512),
            RsaPkcs1Sha256 => Some(&signature::RSA_PKCS1_SHA256),
            RsaPkcs1Sha384 => Some(&signature::RSA_PKCS1_SHA384),
            RsaPkcs1Sha512 => Some(&signature::RSA_PKCS1_SHA512),
            _ => None,
        }
    }

    fn verification(
        self,
        spec: PairSpec,
    ) -> Result<&'static dyn signature::VerificationAlgorithm, AsymmetricError> {
        use SigningAlgorithm::*;
        Ok(match (self, spec) {
            (RsaPssSha256, _) => &signature::RSA_PSS_2048_8192_SHA256,
            (RsaPssSha384, _) => &signature::RSA_PSS_2048_8192_SHA384,
            (RsaPssSha512, _) => &signature::RSA_PSS_2048_8192_SHA512,
            (RsaPkcs1Sha256, _) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (RsaPkcs1Sha384, _) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (RsaPkcs1Sha512, _) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (EcdsaSha256, PairSpec::EccNistP256) => &signature::ECDSA_P256_SHA256_ASN1,
            (EcdsaSha256, PairSpec::EccSecgP256k1) => &signature::ECDSA_P256K1_SHA256_ASN1,
            (EcdsaSha384, PairSpec::EccNistP384) => &signature::ECDSA_P384_SHA384_ASN1,
            (EcdsaSha512, PairSpec::EccNistP521) => &signature::ECDSA_P521_SHA512_ASN1,
            (Ed25519Sha512, _) => &signature::ED25519,
            (MlDsaShake256, PairSpec::MlDsa44) => &signature::ML_DSA_44,
            (MlDsaShake256, PairSpec::MlDsa65) => &signature::ML_DSA_65,
            (MlDsaShake256, PairSpec::MlDsa87) => &signature::ML_DSA_87,
            _ => return Err(AsymmetricError::WrongAlgorithm),
        })
    }
}

/// Checks `alg` against `spec` and `kind` against `alg`, with AWS's rules:
/// DIGEST for the hashing algorithms (and only DIGEST for Ed25519ph),
/// EXTERNAL_MU (64 bytes) for ML-DSA only. Returns the digest to sign or
/// verify for DIGEST messages.
fn check_message(
    spec: PairSpec,
    alg: SigningAlgorithm,
    kind: MessageKind,
    message: &[u8],
) -> Result<Option<Digest>, AsymmetricError> {
    if !spec.signing_algorithms().contains(&alg) {
        return Err(AsymmetricError::WrongAlgorithm);
    }
    match kind {
        MessageKind::Raw if alg == SigningAlgorithm::Ed25519PhSha512 => {
            Err(AsymmetricError::WrongMessageType)
        }
        MessageKind::Raw => Ok(None),
        MessageKind::Digest if alg == SigningAlgorithm::Sm2Dsa => {
            if message.len() != 32 {
                return Err(AsymmetricError::DigestLength { expected: 32 });
            }
            Ok(None)
        }
        MessageKind::Digest => {
            let Some(hash) = alg.digest_algorithm() else {
                return Err(AsymmetricError::WrongMessageType);
            };
            Digest::import_less_safe(message, hash)
                .map(Some)
                .map_err(|_| AsymmetricError::DigestLength {
                    expected: hash.output_len(),
                })
        }
        MessageKind::ExternalMu if alg == SigningAlgorithm::MlDsaShake256 => {
            if message.len() != 64 {
                return Err(AsymmetricError::DigestLength { expected: 64 });
            }
            Ok(None)
        }
        MessageKind::ExternalMu => Err(AsymmetricError::WrongMessageType),
    }
}

enum Inner {
    RsaSign(rsa::KeyPair),
    RsaDecrypt(rsa::OaepPrivateDecryptingKey, rsa::OaepPublicEncryptingKey),
    Ecdsa(signature::EcdsaKeyPair),
    Ecdh(agreement::PrivateKey),
    /// The key pair, and its seed for Ed25519ph (which aws-lc-rs does not
    /// wrap), kept zeroized on drop.
    Ed25519(signature::Ed25519KeyPair, Zeroizing<[u8; 32]>),
    MlDsa(signature::PqdsaKeyPair, MuSource),
    Sm2(Box<sm2::Sm2Key>),
}

/// A parsed private key of one spec and usage. No `Debug`; shared (`Sync`)
/// by all requests.
pub struct PrivateKey {
    spec: PairSpec,
    inner: Inner,
    public_der: Vec<u8>,
}

fn oaep(algorithm: AsymmetricEncryption) -> Option<&'static rsa::OaepAlgorithm> {
    match algorithm {
        AsymmetricEncryption::RsaesOaepSha1 => Some(&rsa::OAEP_SHA1_MGF1SHA1),
        AsymmetricEncryption::RsaesOaepSha256 => Some(&rsa::OAEP_SHA256_MGF1SHA256),
        AsymmetricEncryption::Sm2Pke => None,
    }
}

impl PrivateKey {
    /// Parses PKCS#8 DER made by [`PairSpec::generate_pkcs8`] for `usage`.
    pub fn from_pkcs8(spec: PairSpec, usage: PairUsage, pkcs8: &[u8]) -> Result<Self, CryptoError> {
        if !spec.allows(usage) {
            return Err(CryptoError::Internal);
        }
        if spec == PairSpec::Sm2 {
            let key = sm2::Sm2Key::from_pkcs8(pkcs8, usage)?;
            let public_der = key.public_der().to_vec();
            return Ok(Self {
                spec,
                inner: Inner::Sm2(Box::new(key)),
                public_der,
            });
        }
        let (inner, public) = match usage {
            PairUsage::EncryptDecrypt => {
                let private = rsa::PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(bad)?;
                let public = private.public_key();
                let der = public.as_der().map_err(bad)?.as_ref().to_vec();
                let encrypting = rsa::OaepPublicEncryptingKey::new(public).map_err(bad)?;
                let decrypting = rsa::OaepPrivateDecryptingKey::new(private).map_err(bad)?;
                (Inner::RsaDecrypt(decrypting, encrypting), der)
            }
            PairUsage::KeyAgreement => {
                let alg = spec.ecdh().ok_or(CryptoError::Internal)?;
                let private =
                    agreement::PrivateKey::from_private_key_der(alg, pkcs8).map_err(bad)?;
                let der = private
                    .compute_public_key()
                    .map_err(bad)?
                    .as_der()
                    .map_err(bad)?
                    .as_ref()
                    .to_vec();
                (Inner::Ecdh(private), der)
            }
            PairUsage::SignVerify => {
                if spec.is_rsa() {
                    let pair = rsa::KeyPair::from_pkcs8(pkcs8).map_err(bad)?;
                    let der = pair.public_key().as_der().map_err(bad)?.as_ref().to_vec();
                    (Inner::RsaSign(pair), der)
                } else if let Some(alg) = spec.ecdsa_signing() {
                    let pair = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(bad)?;
                    let der = pair.public_key().as_der().map_err(bad)?.as_ref().to_vec();
                    (Inner::Ecdsa(pair), der)
                } else if let Some(alg) = spec.ml_dsa() {
                    let pair = signature::PqdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(bad)?;
                    let der = pair.public_key().as_der().map_err(bad)?.as_ref().to_vec();
                    let mu = MuSource::from_pkcs8(spec, pkcs8, pair.public_key().as_ref())?;
                    (Inner::MlDsa(pair, mu), der)
                } else {
                    let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8).map_err(bad)?;
                    let der = pair.public_key().as_der().map_err(bad)?.as_ref().to_vec();
                    let seed = ed25519_seed(pkcs8).ok_or(CryptoError::Internal)?;
                    (Inner::Ed25519(pair, Zeroizing::new(*seed)), der)
                }
            }
        };
        Ok(Self {
            spec,
            inner,
            public_der: public,
        })
    }

    pub fn spec(&self) -> PairSpec {
        self.spec
    }

    /// An SM2 key made for ENCRYPT_DECRYPT (SM2 keys parse the same for
    /// either usage).
    fn encrypts(&self) -> bool {
        matches!(&self.inner, Inner::Sm2(key) if key.usage() == PairUsage::EncryptDecrypt)
    }

    /// The public key, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// Signs `message` (of `kind`) with `alg`.
    pub fn sign(
        &self,
        alg: SigningAlgorithm,
        kind: MessageKind,
        message: &[u8],
    ) -> Result<Vec<u8>, AsymmetricError> {
        let digest = check_message(self.spec, alg, kind, message)?;
        match &self.inner {
            Inner::RsaSign(pair) => {
                let encoding = alg.rsa_encoding().ok_or(AsymmetricError::WrongAlgorithm)?;
                let mut out = vec![0u8; pair.public_modulus_len()];
                match digest {
                    Some(digest) => pair.sign_digest(encoding, &digest, &mut out),
                    None => pair.sign(encoding, &SystemRandom::new(), message, &mut out),
                }
                .map_err(internal)?;
                Ok(out)
            }
            Inner::Ecdsa(pair) => {
                let signature = match digest {
                    Some(digest) => pair.sign_digest(&digest),
                    None => pair.sign(&SystemRandom::new(), message),
                }
                .map_err(internal)?;
                Ok(signature.as_ref().to_vec())
            }
            Inner::Ed25519(pair, seed) => match digest {
                // ED25519_PH_SHA_512: DIGEST only (checked above).
                Some(digest) => {
                    use aws_lc_rs::signature::KeyPair;
                    let public: &[u8; 32] =
                        pair.public_key().as_ref().try_into().map_err(internal)?;
                    let digest: &[u8; 64] = digest.as_ref().try_into().map_err(internal)?;
                    let signature =
                        ed25519ph::sign(seed, public, digest).ok_or(AsymmetricError::Internal)?;
                    Ok(signature.to_vec())
                }
                None => Ok(pair.try_sign(message).map_err(internal)?.as_ref().to_vec()),
            },
            Inner::MlDsa(pair, mu_signer) => {
                if kind == MessageKind::ExternalMu {
                    let mu: &[u8; 64] = message.try_into().map_err(internal)?;
                    return mu_signer.sign(mu);
                }
                let mut out = vec![0u8; pair.algorithm().signature_len()];
                let len = pair.sign(message, &mut out).map_err(internal)?;
                out.truncate(len);
                Ok(out)
            }
            Inner::Sm2(key) => key.sign(kind, message),
            Inner::RsaDecrypt(..) | Inner::Ecdh(_) => Err(AsymmetricError::WrongAlgorithm),
        }
    }

    /// Verifies with this key's public half; see [`verify`].
    pub fn verify(
        &self,
        alg: SigningAlgorithm,
        kind: MessageKind,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AsymmetricError> {
        if !matches!(
            self.inner,
            Inner::RsaSign(_)
                | Inner::Ecdsa(_)
                | Inner::Ed25519(..)
                | Inner::MlDsa(..)
                | Inner::Sm2(_)
        ) {
            return Err(AsymmetricError::WrongAlgorithm);
        }
        verify(self.spec, &self.public_der, alg, kind, message, signature)
    }

    /// Encryption with the public half (RSAES-OAEP, SM2PKE), within AWS's
    /// limits.
    pub fn encrypt(
        &self,
        algorithm: AsymmetricEncryption,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AsymmetricError> {
        let max = self
            .spec
            .max_plaintext(algorithm)
            .ok_or(AsymmetricError::WrongAlgorithm)?;
        if plaintext.len() > max {
            return Err(AsymmetricError::PlaintextTooLong { max });
        }
        let public = match (&self.inner, oaep(algorithm)) {
            (Inner::Sm2(key), None) if self.encrypts() => return key.encrypt(plaintext),
            (Inner::RsaDecrypt(_, public), Some(_)) => public,
            _ => return Err(AsymmetricError::WrongAlgorithm),
        };
        let oaep = oaep(algorithm).ok_or(AsymmetricError::WrongAlgorithm)?;
        let mut out = vec![0u8; public.ciphertext_size()];
        let len = public
            .encrypt(oaep, plaintext, &mut out, None)
            .map_err(internal)?
            .len();
        out.truncate(len);
        Ok(out)
    }

    /// RSAES-OAEP decryption; any failure is an invalid ciphertext.
    pub fn decrypt(
        &self,
        algorithm: AsymmetricEncryption,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AsymmetricError> {
        let (private, oaep) = match (&self.inner, oaep(algorithm)) {
            (Inner::Sm2(key), None) if self.encrypts() => return key.decrypt(ciphertext),
            (Inner::RsaDecrypt(private, _), Some(oaep)) => (private, oaep),
            _ => return Err(AsymmetricError::WrongAlgorithm),
        };
        if ciphertext.len() != private.key_size_bytes() {
            return Err(AsymmetricError::InvalidCiphertext);
        }
        let mut out = Zeroizing::new(vec![0u8; private.min_output_size()]);
        let len = private
            .decrypt(oaep, ciphertext, &mut out, None)
            .map_err(|_| AsymmetricError::InvalidCiphertext)?
            .len();
        out.truncate(len);
        Ok(out)
    }

    /// ECDH with a peer's DER SubjectPublicKeyInfo on the same curve: the
    /// raw shared secret (the x coordinate), as AWS returns it.
    pub fn derive_shared_secret(
        &self,
        peer_spki: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AsymmetricError> {
        let private = match &self.inner {
            Inner::Ecdh(private) => private,
            Inner::Sm2(key) => return key.derive_shared_secret(peer_spki),
            _ => return Err(AsymmetricError::WrongAlgorithm),
        };
        let unparsed = agreement::UnparsedPublicKey::new(private.algorithm(), peer_spki);
        let parsed = agreement::ParsedPublicKey::try_from(&unparsed)
            .map_err(|_| AsymmetricError::InvalidPublicKey)?;
        if parsed.format() != agreement::ParsedPublicKeyFormat::X509
            || parsed.alg() != private.algorithm()
        {
            return Err(AsymmetricError::InvalidPublicKey);
        }
        agreement::agree(
            private,
            parsed,
            AsymmetricError::InvalidPublicKey,
            |secret| Ok(Zeroizing::new(secret.to_vec())),
        )
    }
}

/// Verifies `signature` of `message` (of `kind`) under the DER
/// SubjectPublicKeyInfo `public_der` of a `spec` key. A signature that does
/// not verify, or is malformed, is [`AsymmetricError::InvalidSignature`].
pub fn verify(
    spec: PairSpec,
    public_der: &[u8],
    alg: SigningAlgorithm,
    kind: MessageKind,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AsymmetricError> {
    let digest = check_message(spec, alg, kind, message)?;
    if spec == PairSpec::Sm2 {
        return sm2::verify(public_der, kind, message, signature);
    }
    if alg == SigningAlgorithm::Ed25519PhSha512 {
        let digest = digest.ok_or(AsymmetricError::WrongMessageType)?;
        let digest: &[u8; 64] = digest.as_ref().try_into().map_err(internal)?;
        let public = ed25519_public_key(public_der).ok_or(AsymmetricError::Internal)?;
        return if ed25519ph::verify(public, digest, signature) {
            Ok(())
        } else {
            Err(AsymmetricError::InvalidSignature)
        };
    }
    let verification = alg.verification(spec)?;
    let public = signature::ParsedPublicKey::new(verification, public_der)
        .map_err(|_| AsymmetricError::Internal)?;
    if kind == MessageKind::ExternalMu {
        let mu: &[u8; 64] = message.try_into().map_err(internal)?;
        return verify_mu(spec, public_der, mu, signature);
    }
    match digest {
        Some(digest) => public.verify_digest_sig(&digest, signature),
        None => public.verify_sig(message, signature),
    }
    .map_err(|_| AsymmetricError::InvalidSignature)
}

/// ML-DSA over a given mu (MessageType EXTERNAL_MU), with RustCrypto's
/// `ml-dsa`: aws-lc-rs signs and verifies whole messages only. The key is
/// rebuilt from the seed in aws-lc-rs's PKCS#8 on first use (an expanded
/// ML-DSA-87 key takes ~60 KiB, so keys that never sign a mu don't pay for
/// it) and checked against aws-lc-rs's public key; signing is hedged
/// (FIPS 204's default), randomness from aws-lc-rs.
struct MuSource {
    spec: PairSpec,
    seed: Zeroizing<[u8; 32]>,
    public_raw: Vec<u8>,
    signer: std::sync::OnceLock<Result<MuSigner, CryptoError>>,
}

impl MuSource {
    fn from_pkcs8(spec: PairSpec, pkcs8: &[u8], public_raw: &[u8]) -> Result<Self, CryptoError> {
        // aws-lc-rs writes the seed form: privateKey = [0] IMPLICIT OCTET
        // STRING (32 bytes), the last 34 bytes of the document.
        let n = pkcs8.len();
        if n < 34 || pkcs8[n - 34..n - 32] != [0x80, 0x20] {
            return Err(CryptoError::Internal);
        }
        Ok(Self {
            spec,
            seed: Zeroizing::new(pkcs8[n - 32..].try_into().map_err(bad)?),
            public_raw: public_raw.to_vec(),
            signer: std::sync::OnceLock::new(),
        })
    }

    fn sign(&self, mu: &[u8; 64]) -> Result<Vec<u8>, AsymmetricError> {
        let signer = self
            .signer
            .get_or_init(|| MuSigner::new(self.spec, &self.seed, &self.public_raw));
        signer.as_ref().map_err(internal)?.sign(mu)
    }
}

enum MuSigner {
    L44(Box<ml_dsa::SigningKey<ml_dsa::MlDsa44>>),
    L65(Box<ml_dsa::SigningKey<ml_dsa::MlDsa65>>),
    L87(Box<ml_dsa::SigningKey<ml_dsa::MlDsa87>>),
}

/// aws-lc-rs's DRBG as the `rand_core` generator `ml-dsa` (and `sm2`) take.
pub(crate) struct AwsLcRng;

impl ml_dsa::common::rand_core::TryRng for AwsLcRng {
    type Error = aws_lc_rs::error::Unspecified;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        aws_lc_rs::rand::fill(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        aws_lc_rs::rand::fill(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        aws_lc_rs::rand::fill(dst)
    }
}

impl ml_dsa::common::rand_core::TryCryptoRng for AwsLcRng {}

fn mu_key<P: ml_dsa::MlDsaParams>(
    seed: &[u8; 32],
    public_raw: &[u8],
) -> Result<Box<ml_dsa::SigningKey<P>>, CryptoError> {
    let key = ml_dsa::SigningKey::<P>::from_seed(&(*seed).into());
    use ml_dsa::Keypair;
    if key.verifying_key().encode().as_slice() != public_raw {
        return Err(CryptoError::Internal);
    }
    Ok(Box::new(key))
}

fn sign_mu<P: ml_dsa::MlDsaParams>(
    key: &ml_dsa::SigningKey<P>,
    mu: &[u8; 64],
) -> Result<Vec<u8>, AsymmetricError> {
    let signature = key
        .expanded_key()
        .sign_mu_randomized(&(*mu).into(), &mut AwsLcRng)
        .map_err(internal)?;
    Ok(signature.encode().to_vec())
}

fn verify_mu_with<P: ml_dsa::MlDsaParams>(raw: &[u8], mu: &[u8; 64], signature: &[u8]) -> bool {
    use ml_dsa::KeyInit;
    let (Ok(key), Ok(signature)) = (
        ml_dsa::VerifyingKey::<P>::new_from_slice(raw),
        ml_dsa::Signature::<P>::try_from(signature),
    ) else {
        return false;
    };
    key.verify_mu(&(*mu).into(), &signature)
}

impl MuSigner {
    fn new(spec: PairSpec, seed: &[u8; 32], public_raw: &[u8]) -> Result<Self, CryptoError> {
        Ok(match spec {
            PairSpec::MlDsa44 => MuSigner::L44(mu_key(seed, public_raw)?),
            PairSpec::MlDsa65 => MuSigner::L65(mu_key(seed, public_raw)?),
            PairSpec::MlDsa87 => MuSigner::L87(mu_key(seed, public_raw)?),
            _ => return Err(CryptoError::Internal),
        })
    }

    fn sign(&self, mu: &[u8; 64]) -> Result<Vec<u8>, AsymmetricError> {
        match self {
            MuSigner::L44(key) => sign_mu(key, mu),
            MuSigner::L65(key) => sign_mu(key, mu),
            MuSigner::L87(key) => sign_mu(key, mu),
        }
    }
}

/// Verifies an ML-DSA signature of `mu` under a DER SubjectPublicKeyInfo
/// (already parsed by aws-lc-rs: the raw key is its BIT STRING, at the end).
fn verify_mu(
    spec: PairSpec,
    public_der: &[u8],
    mu: &[u8; 64],
    signature: &[u8],
) -> Result<(), AsymmetricError> {
    let len = match spec {
        PairSpec::MlDsa44 => 1312,
        PairSpec::MlDsa65 => 1952,
        PairSpec::MlDsa87 => 2592,
        _ => return Err(AsymmetricError::WrongAlgorithm),
    };
    let raw = public_der
        .get(public_der.len().saturating_sub(len)..)
        .ok_or(AsymmetricError::Internal)?;
    let valid = match spec {
        PairSpec::MlDsa44 => verify_mu_with::<ml_dsa::MlDsa44>(raw, mu, signature),
        PairSpec::MlDsa65 => verify_mu_with::<ml_dsa::MlDsa65>(raw, mu, signature),
        _ => verify_mu_with::<ml_dsa::MlDsa87>(raw, mu, signature),
    };
    if !valid {
        return Err(AsymmetricError::InvalidSignature);
    }
    Ok(())
}

/// The DER SubjectPublicKeyInfo of a PKCS#8 private key of `spec` (for
/// GenerateDataKeyPair).
pub fn public_key_of_pkcs8(spec: PairSpec, pkcs8: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(PrivateKey::from_pkcs8(spec, PairUsage::SignVerify, pkcs8)?.public_der)
}

/// AWS's MacAlgorithmSpec; each HMAC key spec has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl MacAlgorithm {
    /// The key length of the matching HMAC key spec, in bytes.
    pub fn key_len(self) -> usize {
        match self {
            MacAlgorithm::HmacSha224 => 28,
            MacAlgorithm::HmacSha256 => 32,
            MacAlgorithm::HmacSha384 => 48,
            MacAlgorithm::HmacSha512 => 64,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            MacAlgorithm::HmacSha224 => hmac::HMAC_SHA224,
            MacAlgorithm::HmacSha256 => hmac::HMAC_SHA256,
            MacAlgorithm::HmacSha384 => hmac::HMAC_SHA384,
            MacAlgorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    /// The lengths of imported material AWS accepts for the matching HMAC
    /// key spec, in bytes (generated material is [`Self::key_len`]).
    pub fn import_lens(self) -> std::ops::RangeInclusive<usize> {
        match self {
            MacAlgorithm::HmacSha224 | MacAlgorithm::HmacSha256 => self.key_len()..=64,
            MacAlgorithm::HmacSha384 | MacAlgorithm::HmacSha512 => self.key_len()..=128,
        }
    }

    /// Fresh key bytes of [`Self::key_len`].
    pub fn generate_bytes(self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut bytes = Zeroizing::new(vec![0u8; self.key_len()]);
        crate::random_bytes(&mut bytes)?;
        Ok(bytes)
    }
}

/// An HMAC key of a KMS HMAC key spec. No `Debug`.
pub struct HmacKey {
    algorithm: MacAlgorithm,
    key: hmac::Key,
}

impl HmacKey {
    pub fn from_bytes(algorithm: MacAlgorithm, bytes: &[u8]) -> Result<Self, CryptoError> {
        if !algorithm.import_lens().contains(&bytes.len()) {
            return Err(CryptoError::Internal);
        }
        Ok(Self {
            algorithm,
            key: hmac::Key::new(algorithm.hmac(), bytes),
        })
    }

    pub fn algorithm(&self) -> MacAlgorithm {
        self.algorithm
    }

    pub fn mac(&self, message: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, message).as_ref().to_vec()
    }

    /// Constant-time check of `mac` over `message`.
    pub fn verify(&self, message: &[u8], mac: &[u8]) -> bool {
        hmac::verify(&self.key, message, mac).is_ok()
    }
}

#[cfg(feature = "sm2")]
mod sm2;

/// Without the `sm2` feature no SM2 key exists: `PairSpec::Sm2` is not
/// [`PairSpec::available`], and these refuse.
#[cfg(not(feature = "sm2"))]
mod sm2 {
    use super::{AsymmetricError, CryptoError, MessageKind, PairUsage};
    use zeroize::Zeroizing;

    pub(super) enum Sm2Key {}

    pub(super) fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        Err(CryptoError::Internal)
    }

    pub(super) fn verify(
        _: &[u8],
        _: MessageKind,
        _: &[u8],
        _: &[u8],
    ) -> Result<(), AsymmetricError> {
        Err(AsymmetricError::NotImplemented("SM2"))
    }

    impl Sm2Key {
        pub(super) fn from_pkcs8(_: &[u8], _: PairUsage) -> Result<Self, CryptoError> {
            Err(CryptoError::Internal)
        }
        pub(super) fn public_der(&self) -> &[u8] {
            match *self {}
        }
        pub(super) fn usage(&self) -> PairUsage {
            match *self {}
        }
        pub(super) fn sign(&self, _: MessageKind, _: &[u8]) -> Result<Vec<u8>, AsymmetricError> {
            match *self {}
        }
        pub(super) fn encrypt(&self, _: &[u8]) -> Result<Vec<u8>, AsymmetricError> {
            match *self {}
        }
        pub(super) fn derive_shared_secret(
            &self,
            _: &[u8],
        ) -> Result<Zeroizing<Vec<u8>>, AsymmetricError> {
            match *self {}
        }
        pub(super) fn decrypt(&self, _: &[u8]) -> Result<Zeroizing<Vec<u8>>, AsymmetricError> {
            match *self {}
        }
    }
}

/// The raw 32-byte key of an Ed25519 SubjectPublicKeyInfo (RFC 8410: a
/// fixed 12-byte prefix, then the key).
fn ed25519_public_key(spki: &[u8]) -> Option<&[u8; 32]> {
    const PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.strip_prefix(&PREFIX)?.try_into().ok()
}

/// The seed of an Ed25519 PKCS#8 v1 document (RFC 8410; what
/// [`PairSpec::generate_pkcs8`] makes): a fixed 16-byte prefix, then the
/// 32-byte seed.
fn ed25519_seed(pkcs8: &[u8]) -> Option<&[u8; 32]> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.strip_prefix(&PREFIX)?.try_into().ok()
}

mod ed25519ph;

#[cfg(test)]
mod tests;
