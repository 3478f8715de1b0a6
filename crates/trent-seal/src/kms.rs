//! `kms:KEY_ARN[,endpoint=URL]`: the root key is a 256-bit data key another
//! KMS (Trent, or AWS KMS) made once with `GenerateDataKey`. Its wrapped
//! form (the `CiphertextBlob`, not secret) is kept in the store's `meta`
//! table under [`META`]; every start unwraps it with `Decrypt`, naming the
//! key, so a blob of another key is refused. As Vault's `awskms` seal: the
//! outer KMS is needed to start, not to serve.
//!
//! Credentials and Region come from the AWS SDK's standard chain
//! (`AWS_ACCESS_KEY_ID`…, profile files, web identity, ECS, instance
//! metadata); the Region of a key ARN wins, `endpoint=` over
//! `AWS_ENDPOINT_URL_KMS`. Both calls bind the encryption context
//! [`CONTEXT`].

use crate::{InMemoryRootKey, KmsSpec, RootKeyError};
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use std::time::Duration;
use trent_core::Store;
use trent_crypto::KEY_LEN;
use zeroize::Zeroizing;

/// The store's `meta` entry holding the wrapped root key.
pub const META: &str = "root-key-kms";

/// The encryption context of the wrapped root key.
pub const CONTEXT: (&str, &str) = ("trent:purpose", "root-key");

/// The root key of `store`, unwrapped by the KMS; a new installation has a
/// data key made and stores its wrapped form. Nothing is written unless
/// the KMS made the key.
pub(crate) async fn open(
    spec: &KmsSpec,
    provider: &str,
    store: &dyn Store,
    new_installation: bool,
) -> Result<InMemoryRootKey, RootKeyError> {
    let stored = store.meta(META).await?;
    if stored.is_none() && !new_installation {
        return Err(RootKeyError::NotFromProvider {
            provider: provider.to_owned(),
            missing: "wrapped root key",
            kind: "a KMS",
        });
    }
    let client = client(spec).await;
    let key = match stored {
        Some(blob) => decrypt(&client, spec, blob).await?,
        None => {
            let (plaintext, blob) = generate(&client, spec).await?;
            // Of several nodes starting at once, all use the one stored.
            let stored = store.meta_secret(META, &blob).await?;
            if stored == blob {
                plaintext
            } else {
                decrypt(&client, spec, stored).await?
            }
        }
    };
    InMemoryRootKey::new(&key)
}

/// A new data key of the KMS, for a rotation: the key and its wrapped
/// form, written to no store.
pub(crate) async fn new_key(spec: &KmsSpec) -> Result<(InMemoryRootKey, Vec<u8>), RootKeyError> {
    let (plaintext, blob) = generate(&client(spec).await, spec).await?;
    Ok((InMemoryRootKey::new(&plaintext)?, blob))
}

async fn client(spec: &KmsSpec) -> aws_sdk_kms::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(30))
            .build(),
    );
    if let Some(region) = arn_region(&spec.key_id) {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(endpoint) = &spec.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    aws_sdk_kms::Client::new(&loader.load().await)
}

/// The Region of a key or alias ARN (`arn:PARTITION:kms:REGION:…`).
fn arn_region(key_id: &str) -> Option<&str> {
    let mut parts = key_id.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some("kms"), Some(region)) if !region.is_empty() => Some(region),
        _ => None,
    }
}

async fn generate(
    client: &aws_sdk_kms::Client,
    spec: &KmsSpec,
) -> Result<(Zeroizing<[u8; KEY_LEN]>, Vec<u8>), RootKeyError> {
    let out = client
        .generate_data_key()
        .key_id(&spec.key_id)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context(CONTEXT.0, CONTEXT.1)
        .send()
        .await
        .map_err(|e| failure(spec, "generate", e))?;
    let plaintext = Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
    let blob = out
        .ciphertext_blob
        .map(Blob::into_inner)
        .ok_or_else(|| answer(spec, "GenerateDataKey gave no CiphertextBlob"))?;
    Ok((exactly_a_key(spec, &plaintext)?, blob))
}

async fn decrypt(
    client: &aws_sdk_kms::Client,
    spec: &KmsSpec,
    blob: Vec<u8>,
) -> Result<Zeroizing<[u8; KEY_LEN]>, RootKeyError> {
    let out = client
        .decrypt()
        .key_id(&spec.key_id)
        .ciphertext_blob(Blob::new(blob))
        .encryption_context(CONTEXT.0, CONTEXT.1)
        .send()
        .await
        .map_err(|e| failure(spec, "decrypt", e))?;
    let plaintext = Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
    exactly_a_key(spec, &plaintext)
}

fn exactly_a_key(spec: &KmsSpec, bytes: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, RootKeyError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if bytes.len() != KEY_LEN {
        return Err(answer(spec, "the plaintext is not 32 bytes"));
    }
    key.copy_from_slice(bytes);
    Ok(key)
}

fn answer(spec: &KmsSpec, reason: &str) -> RootKeyError {
    RootKeyError::KmsAnswer {
        key: spec.key_id.clone(),
        reason: reason.to_owned(),
    }
}

/// The KMS's refusal (its error code and message), or why it could not be
/// asked (connection, timeout, credentials, Region).
fn failure<E, R>(spec: &KmsSpec, action: &'static str, error: SdkError<E, R>) -> RootKeyError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(service) => RootKeyError::KmsRefused {
            key: spec.key_id.clone(),
            action,
            code: service
                .err()
                .code()
                .unwrap_or("an unnamed error")
                .to_owned(),
            message: service.err().message().unwrap_or_default().to_owned(),
        },
        _ => RootKeyError::KmsUnreachable {
            key: spec.key_id.clone(),
            reason: DisplayErrorContext(&error).to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_of_an_arn() {
        assert_eq!(
            arn_region("arn:aws:kms:eu-west-1:111122223333:key/1234"),
            Some("eu-west-1")
        );
        assert_eq!(
            arn_region("arn:aws-cn:kms:cn-north-1:111122223333:alias/x"),
            Some("cn-north-1")
        );
        assert_eq!(arn_region("alias/x"), None);
        assert_eq!(arn_region("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
    }
}
