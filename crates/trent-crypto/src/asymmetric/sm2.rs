//! SM2 (GB/T 32918, GM/T 0003) on RustCrypto's `sm2` crate, which is not
//! audited: only built with the `sm2` feature. SM2DSA uses the default
//! distinguishing ID `1234567812345678` for Z_A, as AWS KMS does; a DIGEST
//! message is the 32-byte SM3 hash of Z_A ‖ M. SM2PKE ciphertexts are DER
//! (GM/T 0009: C1 x, C1 y, C3, C2). KEY_AGREEMENT is ECDH on the SM2 curve.

use super::{AsymmetricError, AwsLcRng, CryptoError, MessageKind, PairUsage};
use sm2::dsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use sm2::pke::{DecryptingKey, EncryptingKey, Mode};
use zeroize::Zeroizing;

const DIST_ID: &str = "1234567812345678";

pub(super) struct Sm2Key {
    usage: PairUsage,
    /// For ECDH (zeroized on drop by `elliptic-curve`).
    secret: sm2::SecretKey,
    signing: SigningKey,
    decrypting: DecryptingKey,
    public_der: Vec<u8>,
}

pub(super) fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    loop {
        let mut bytes = Zeroizing::new([0u8; 32]);
        crate::random_bytes(bytes.as_mut())?;
        // Zero or ≥ n: draw again (probability ~2^-32).
        if let Ok(secret) = sm2::SecretKey::from_slice(bytes.as_ref()) {
            let der = secret.to_pkcs8_der().map_err(|_| CryptoError::Internal)?;
            return Ok(Zeroizing::new(der.as_bytes().to_vec()));
        }
    }
}

pub(super) fn verify(
    public_der: &[u8],
    kind: MessageKind,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AsymmetricError> {
    let public =
        sm2::PublicKey::from_public_key_der(public_der).map_err(|_| AsymmetricError::Internal)?;
    let key = VerifyingKey::new(DIST_ID, public).map_err(|_| AsymmetricError::Internal)?;
    let signature =
        Signature::from_der(signature).map_err(|_| AsymmetricError::InvalidSignature)?;
    match kind {
        MessageKind::Digest => key.verify_prehash(message, &signature),
        _ => key.verify(message, &signature),
    }
    .map_err(|_| AsymmetricError::InvalidSignature)
}

impl Sm2Key {
    pub(super) fn from_pkcs8(pkcs8: &[u8], usage: PairUsage) -> Result<Self, CryptoError> {
        let bad = |_| CryptoError::Internal;
        let secret = sm2::SecretKey::from_pkcs8_der(pkcs8).map_err(|_| CryptoError::Internal)?;
        let signing = SigningKey::new(DIST_ID, &secret).map_err(bad)?;
        let decrypting = DecryptingKey::new_with_mode(secret.to_nonzero_scalar(), Mode::C1C3C2);
        let public_der = secret
            .public_key()
            .to_public_key_der()
            .map_err(|_| CryptoError::Internal)?
            .as_bytes()
            .to_vec();
        Ok(Self {
            usage,
            secret,
            signing,
            decrypting,
            public_der,
        })
    }

    pub(super) fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    pub(super) fn usage(&self) -> PairUsage {
        self.usage
    }

    pub(super) fn sign(
        &self,
        kind: MessageKind,
        message: &[u8],
    ) -> Result<Vec<u8>, AsymmetricError> {
        if self.usage != PairUsage::SignVerify {
            return Err(AsymmetricError::WrongAlgorithm);
        }
        let signature: Signature = match kind {
            MessageKind::Digest => self.signing.sign_prehash(message),
            _ => self.signing.try_sign(message),
        }
        .map_err(|_| AsymmetricError::Internal)?;
        Ok(signature.to_der().as_bytes().to_vec())
    }

    /// ECDH on the SM2 curve with a peer's SubjectPublicKeyInfo: the x
    /// coordinate of the shared point, as for the NIST curves.
    pub(super) fn derive_shared_secret(
        &self,
        peer_spki: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AsymmetricError> {
        use sm2::elliptic_curve::point::AffineCoordinates;
        if self.usage != PairUsage::KeyAgreement {
            return Err(AsymmetricError::WrongAlgorithm);
        }
        let peer = sm2::PublicKey::from_public_key_der(peer_spki)
            .map_err(|_| AsymmetricError::InvalidPublicKey)?;
        let shared = (peer.to_projective() * *self.secret.to_nonzero_scalar()).to_affine();
        Ok(Zeroizing::new(shared.x().to_vec()))
    }

    pub(super) fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, AsymmetricError> {
        let public: &EncryptingKey = self.decrypting.encrypting_key();
        public
            .encrypt_der(&mut AwsLcRng, plaintext)
            .map_err(|_| AsymmetricError::Internal)
    }

    pub(super) fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, AsymmetricError> {
        self.decrypting
            .decrypt_der(ciphertext)
            .map(Zeroizing::new)
            .map_err(|_| AsymmetricError::InvalidCiphertext)
    }
}
