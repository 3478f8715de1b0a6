//! The cryptographic operations: the hot path. Everything here reads memory
//! only: the key cache, the alias map, compiled policies.

use super::grants::parse_grant_token;
use super::*;
use trent_crypto::asymmetric::AsymmetricEncryption;
use trent_wire::EncryptionAlgorithmSpec;

impl Kms {
    // ----- cryptographic operations (the hot path) --------------------------

    /// The key for a cryptographic operation: resolved from memory,
    /// authorized, usable for ENCRYPT_DECRYPT, and Enabled.
    async fn usable_key(
        &self,
        caller: &Caller,
        key_id: &str,
        operation: &str,
        action: Action,
        context: &BTreeMap<String, String>,
    ) -> Result<Arc<CachedKey>, KmsError> {
        let (key, resolved) = self.target(caller, key_id, AliasMode::Accept).await?;
        let facts = RequestFacts {
            encryption_context: Some(context),
            request_alias: resolved.alias.as_deref(),
            encryption_algorithm: Some("SYMMETRIC_DEFAULT"),
            ..Default::default()
        };
        self.authorize(caller, action, &key, &facts, Some(operation))?;
        require_usable(&key.record, operation)?;
        Ok(key)
    }

    /// Encrypts under the key's current material; the `KeyMaterialId` of
    /// what it used is [`current_material_id`].
    pub(super) fn seal_with(
        key: &CachedKey,
        context: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let version = key.record.current_material;
        let material = key.materials.get(version).ok_or_else(|| {
            KmsError::internal(StoreError::Corrupt(format!("missing material v{version}")))
        })?;
        let header = BlobHeader {
            key_id: *key.record.blob_id().as_bytes(),
            material_version: version,
        };
        Ok(material.with(|material| blob::seal(header, material, context, plaintext))?)
    }

    pub async fn encrypt(
        &self,
        caller: &Caller,
        key_id: &str,
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<(Vec<u8>, String), KmsError> {
        let key = self
            .usable_key(caller, key_id, "Encrypt", Action::Encrypt, context)
            .await?;
        let ciphertext = Self::seal_with(&key, context, plaintext)?;
        Ok((ciphertext, key.record.arn.clone()))
    }

    /// GenerateDataKey (`with_plaintext`) or GenerateDataKeyWithoutPlaintext.
    pub async fn generate_data_key(
        &self,
        caller: &Caller,
        key_id: &str,
        number_of_bytes: usize,
        context: &BTreeMap<String, String>,
        with_plaintext: bool,
    ) -> Result<DataKey, KmsError> {
        let (operation, action) = if with_plaintext {
            ("GenerateDataKey", Action::GenerateDataKey)
        } else {
            (
                "GenerateDataKeyWithoutPlaintext",
                Action::GenerateDataKeyWithoutPlaintext,
            )
        };
        let key = self
            .usable_key(caller, key_id, operation, action, context)
            .await?;
        let mut plaintext = Zeroizing::new(vec![0u8; number_of_bytes]);
        trent_crypto::random_bytes(&mut plaintext)?;
        let ciphertext = Self::seal_with(&key, context, &plaintext)?;
        Ok(DataKey {
            plaintext,
            ciphertext,
            key_arn: key.record.arn.clone(),
            key_material_id: key.material_id(key.record.current_material),
        })
    }

    /// Opens a ciphertext blob; the key comes from the blob. When `key_id`
    /// is given it must name the same key.
    pub async fn decrypt(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        context: &BTreeMap<String, String>,
        key_id: Option<&str>,
    ) -> Result<Decrypted, KmsError> {
        self.open_blob(
            caller,
            ciphertext,
            context,
            key_id,
            "Decrypt",
            Action::Decrypt,
        )
        .await
    }

    /// Decrypt's dry run with `DryRunModifiers: [IGNORE_CIPHERTEXT]`: the
    /// checks Decrypt makes before it reads the ciphertext (key policy, IAM
    /// policies, grants with their constraints, the key's state, usage and
    /// algorithm), for the key named. `algorithm`: an RSA one, or `None`
    /// for SYMMETRIC_DEFAULT. Answers the key's ARN; the caller then
    /// answers DryRunOperation.
    pub async fn check_decrypt(
        &self,
        caller: &Caller,
        key_id: &str,
        context: &BTreeMap<String, String>,
        algorithm: Option<&EncryptionAlgorithmSpec>,
    ) -> Result<String, KmsError> {
        let key = match algorithm {
            None => {
                self.usable_key(caller, key_id, "Decrypt", Action::Decrypt, context)
                    .await?
            }
            Some(algorithm) => {
                self.oaep_key(
                    caller,
                    key_id,
                    "Decrypt",
                    Action::Decrypt,
                    algorithm,
                    context,
                )
                .await?
                .0
            }
        };
        Ok(key.record.arn.clone())
    }

    async fn open_blob(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        context: &BTreeMap<String, String>,
        key_id: Option<&str>,
        operation: &str,
        action: Action,
    ) -> Result<Decrypted, KmsError> {
        let header = BlobHeader::parse(ciphertext).map_err(|_| invalid_ciphertext())?;
        // A multi-Region family's blob opens with the family's key in the
        // caller's Region.
        let blob_id = Uuid::from_bytes(header.key_id);
        let family = crate::ids::is_family(&blob_id).then_some(blob_id);
        let blob_key = match &family {
            Some(family) => crate::ids::related_key_id(family, &caller.region),
            None => blob_id,
        };
        let incorrect_key = || {
            KmsError::IncorrectKey(
                "The key ID in the request does not identify a CMK that can perform this operation.".into(),
            )
        };
        let mut request_alias = None;
        let mut named_account = None;
        if let Some(raw) = key_id {
            let named = self.resolve(caller, raw, AliasMode::Accept)?;
            if named.id != blob_key {
                return Err(incorrect_key());
            }
            request_alias = named.alias;
            named_account = named.account;
        }
        let key = match self.key_for(caller, blob_key).await {
            // A key that was deleted is gone for good, as AWS reports it;
            // an id no key ever had means the blob is not ours.
            Err(KmsError::NotFound(_)) if self.store.key_was_deleted(blob_key).await? => {
                return Err(match family {
                    Some(family) => KmsError::NotFound(format!(
                        "Key '{}' does not exist",
                        crate::ids::mrk_key_arn(&caller.region, caller.account(), &family)
                    )),
                    None => not_found(caller, &blob_key),
                });
            }
            Err(KmsError::NotFound(_)) => return Err(invalid_ciphertext()),
            other => other?,
        };
        if key.record.region != caller.region {
            return Err(invalid_ciphertext());
        }
        // A KeyId naming the key's id in another account (by ARN) does not
        // name this key.
        if named_account.is_some_and(|a| a != key.record.account) {
            return Err(incorrect_key());
        }
        let facts = RequestFacts {
            encryption_context: Some(context),
            request_alias: request_alias.as_deref(),
            encryption_algorithm: Some("SYMMETRIC_DEFAULT"),
            ..Default::default()
        };
        self.authorize(caller, action, &key, &facts, Some(operation))?;
        require_usable(&key.record, operation)?;
        let material = key
            .materials
            .get(header.material_version)
            .ok_or_else(invalid_ciphertext)?;
        let plaintext = material
            .with(|material| blob::open(ciphertext, material, context))
            .map_err(|_| invalid_ciphertext())?;
        Ok(Decrypted {
            plaintext,
            key_arn: key.record.arn.clone(),
            key_material_id: Some(key.material_id(header.material_version)),
        })
    }

    /// ReEncrypt. Each side is a symmetric key (`algorithm` None) or an RSA
    /// key with its OAEP algorithm; an RSA source must be named.
    #[allow(clippy::too_many_arguments)]
    pub async fn re_encrypt(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        source_context: &BTreeMap<String, String>,
        source_key_id: Option<&str>,
        source_algorithm: Option<&EncryptionAlgorithmSpec>,
        destination_key_id: &str,
        destination_context: &BTreeMap<String, String>,
        destination_algorithm: Option<&EncryptionAlgorithmSpec>,
    ) -> Result<ReEncrypted, KmsError> {
        enum Destination {
            Symmetric(Arc<CachedKey>),
            Rsa(
                Arc<CachedKey>,
                AsymmetricEncryption,
                EncryptionAlgorithmSpec,
            ),
        }
        let destination = match destination_algorithm {
            None => Destination::Symmetric(
                self.usable_key(
                    caller,
                    destination_key_id,
                    "ReEncryptTo",
                    Action::ReEncryptTo,
                    destination_context,
                )
                .await?,
            ),
            Some(algorithm) => {
                let (key, hash) = self
                    .oaep_key(
                        caller,
                        destination_key_id,
                        "ReEncryptTo",
                        Action::ReEncryptTo,
                        algorithm,
                        destination_context,
                    )
                    .await?;
                Destination::Rsa(key, hash, algorithm.clone())
            }
        };
        let source = match (source_algorithm, source_key_id) {
            (None, _) => {
                self.open_blob(
                    caller,
                    ciphertext,
                    source_context,
                    source_key_id,
                    "ReEncryptFrom",
                    Action::ReEncryptFrom,
                )
                .await?
            }
            (Some(algorithm), None) => {
                return Err(KmsError::Validation(format!(
                    "SourceKeyId is required to decrypt with the asymmetric algorithm {algorithm}"
                )));
            }
            (Some(algorithm), Some(key_id)) => {
                let (plaintext, key_arn) = self
                    .oaep_open(
                        caller,
                        key_id,
                        ciphertext,
                        algorithm,
                        source_context,
                        "ReEncryptFrom",
                        Action::ReEncryptFrom,
                    )
                    .await?;
                Decrypted {
                    plaintext,
                    key_arn,
                    key_material_id: None,
                }
            }
        };
        let plaintext = source.plaintext;
        let (ciphertext, destination, destination_key_material_id) = match destination {
            Destination::Symmetric(key) => {
                let ciphertext = Self::seal_with(&key, destination_context, &plaintext)?;
                let material = key.material_id(key.record.current_material);
                (ciphertext, key, Some(material))
            }
            Destination::Rsa(key, hash, algorithm) => {
                let pair = key.materials.pair().ok_or_else(|| {
                    KmsError::internal(StoreError::Corrupt(format!(
                        "key {} has no key pair",
                        key.record.id
                    )))
                })?;
                let ciphertext = pair.encrypt(hash, &plaintext).map_err(|e| {
                    super::asymmetric::refused(e, &key.record, algorithm.as_str(), None)
                })?;
                (ciphertext, key, None)
            }
        };
        Ok(ReEncrypted {
            ciphertext,
            source_key_arn: source.key_arn,
            destination_key_arn: destination.record.arn.clone(),
            source_key_material_id: source.key_material_id,
            destination_key_material_id,
        })
    }

    pub fn generate_random(
        &self,
        caller: &Caller,
        number_of_bytes: usize,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        self.authorize_account(caller, Action::GenerateRandom, &RequestFacts::default())?;
        let mut out = Zeroizing::new(vec![0u8; number_of_bytes]);
        trent_crypto::random_bytes(&mut out)?;
        Ok(out)
    }

    /// Checks the `GrantTokens` of a request: each must be one this server
    /// issued. Grants take effect at once here, so tokens add no access.
    pub fn check_grant_tokens(&self, tokens: &[String]) -> Result<(), KmsError> {
        for token in tokens {
            parse_grant_token(token)
                .map_err(|_| KmsError::InvalidGrantToken("The grant token is not valid".into()))?;
        }
        Ok(())
    }
}
