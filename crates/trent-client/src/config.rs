//! The AWS SDK's configuration for the client commands: the standard
//! credential chain, profiles, Region and endpoints (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL_S3`), plus `AWS_CA_BUNDLE`,
//! which the Rust SDK does not read itself: the same variables point the
//! commands at Trent or at AWS.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::{Error, Result};

/// The configuration from the environment and the profile files (`profile`,
/// else `AWS_PROFILE`), with `AWS_CA_BUNDLE`'s certificates as the only
/// trusted roots when it is set (as the AWS CLI does).
pub async fn load(profile: Option<&str>) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(120))
            .build(),
    );
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(bundle) = std::env::var_os("AWS_CA_BUNDLE").filter(|b| !b.is_empty()) {
        let pem = std::fs::read(&bundle).map_err(|e| {
            Error::Kms(format!(
                "AWS_CA_BUNDLE {}: {e}",
                std::path::Path::new(&bundle).display()
            ))
        })?;
        loader = trusting_only(loader, pem)?;
    }
    Ok(loader.load().await)
}

/// The SDK's HTTPS client, trusting only the PEM bundle's certificates.
fn trusting_only(
    loader: aws_config::ConfigLoader,
    pem: Vec<u8>,
) -> Result<aws_config::ConfigLoader> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
        .build()
        .map_err(|e| Error::Kms(format!("AWS_CA_BUNDLE: {e}")))?;
    Ok(loader.http_client(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https(),
    ))
}

/// A service's refusal as its error code and message, or why it could not
/// be asked (connection, timeout, credentials, Region), after `what` (the
/// key or object, and the action).
pub(crate) fn refusal<E, R>(what: std::fmt::Arguments, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(service) => Error::Kms(format!(
            "{what}: {}: {}",
            service.err().code().unwrap_or("error"),
            service.err().message().unwrap_or("(no message)")
        )),
        _ => Error::Kms(format!("{what}: {}", DisplayErrorContext(&error))),
    }
}
