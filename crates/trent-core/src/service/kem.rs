//! Operations on ML-KEM keys (key usage ENCAPSULATE_DECAPSULATE):
//! Encapsulate and Decapsulate. Like the other cryptographic operations
//! they read memory only; the parsed pair lives in the key cache.

use super::asymmetric::{missing_material, wrong_algorithm};
use super::*;
use trent_wire::EncapsulationAlgorithmSpec;

/// A shared secret and, from Encapsulate, its encapsulated form.
pub struct SharedSecret {
    pub secret: Zeroizing<Vec<u8>>,
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
}

impl Kms {
    /// The ENCAPSULATE_DECAPSULATE key for Encapsulate or Decapsulate,
    /// authorized, in a usable state, with the algorithm ML-KEM.
    async fn kem_key(
        &self,
        caller: &Caller,
        key_id: &str,
        operation: &str,
        action: Action,
        algorithm: &EncapsulationAlgorithmSpec,
    ) -> Result<Arc<CachedKey>, KmsError> {
        let key = self
            .authorized_key(caller, key_id, operation, action, RequestFacts::default())
            .await?;
        require_usage(&key.record, KeyUsageType::EncapsulateDecapsulate, operation)?;
        if *algorithm != EncapsulationAlgorithmSpec::MlKem || key.materials.kem().is_none() {
            return Err(wrong_algorithm(&key.record, algorithm.as_str()));
        }
        Ok(key)
    }

    /// A fresh 32-byte secret and its ciphertext under the key's
    /// encapsulation key.
    pub async fn encapsulate(
        &self,
        caller: &Caller,
        key_id: &str,
        algorithm: &EncapsulationAlgorithmSpec,
    ) -> Result<SharedSecret, KmsError> {
        let key = self
            .kem_key(
                caller,
                key_id,
                "Encapsulate",
                Action::Encapsulate,
                algorithm,
            )
            .await?;
        let pair = key
            .materials
            .kem()
            .ok_or_else(|| missing_material(&key.record))?;
        let (ciphertext, secret) = pair.encapsulate()?;
        Ok(SharedSecret {
            secret,
            ciphertext,
            key_arn: key.record.arn.clone(),
        })
    }

    /// The secret of a ciphertext. A ciphertext of the key spec's length
    /// always yields a secret (implicit rejection: an unrelated one if it
    /// was not made for this key); only a wrong length is refused, with
    /// `InvalidCiphertextException` and no message, as AWS answers.
    pub async fn decapsulate(
        &self,
        caller: &Caller,
        key_id: &str,
        ciphertext: &[u8],
        algorithm: &EncapsulationAlgorithmSpec,
    ) -> Result<SharedSecret, KmsError> {
        let key = self
            .kem_key(
                caller,
                key_id,
                "Decapsulate",
                Action::Decapsulate,
                algorithm,
            )
            .await?;
        let pair = key
            .materials
            .kem()
            .ok_or_else(|| missing_material(&key.record))?;
        let secret = pair.decapsulate(ciphertext)?;
        Ok(SharedSecret {
            secret,
            ciphertext: Vec::new(),
            key_arn: key.record.arn.clone(),
        })
    }
}
