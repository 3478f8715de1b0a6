//! Authentication and protocol-level behaviour seen through the SDK.

use crate::common::*;

#[tokio::test]
async fn unknown_access_key_and_wrong_secret_are_refused() {
    let server = Server::start();
    let stranger = server.client_with("AKIAUNKNOWNUNKNOWN00", SECRET_KEY, "us-east-1");
    let err = stranger.list_keys().send().await.unwrap_err();
    assert_eq!(code(&err), "UnrecognizedClientException");
    let forger = server.client_with(ACCESS_KEY, "not-the-secret", "us-east-1");
    let err = forger.list_keys().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidSignatureException");
    // Nothing was created by the refused calls.
    assert!(
        server
            .client()
            .list_keys()
            .send()
            .await
            .unwrap()
            .keys()
            .is_empty()
    );
}

#[tokio::test]
async fn regions_can_be_limited() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--regions", "eu-west-1"]);
    let err = server.client().list_keys().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidSignatureException");
    server
        .client_with(ACCESS_KEY, SECRET_KEY, "eu-west-1")
        .list_keys()
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn operations_not_built_yet_say_so() {
    let server = Server::start();
    let err = server
        .client()
        .describe_custom_key_stores()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
}

/// A call over its request quota is answered `ThrottlingException`, which
/// the Rust SDK's standard retry classifies as throttling and retries with
/// backoff: a burst over the quota still ends well, slower.
#[tokio::test]
async fn throttled_calls_are_retried_by_the_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--request-quota", "CreateKey=2"]);
    let burst = |client: aws_sdk_kms::Client, n: usize| async move {
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..n {
            let client = client.clone();
            calls.spawn(async move { client.create_key().send().await });
        }
        calls.join_all().await
    };
    // Without retries, the burst meets the quota.
    let once = server
        .client_configured(|c| c.retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled()));
    let outcomes = burst(once, 8).await;
    let throttled: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!throttled.is_empty(), "no call of the burst was throttled");
    for err in &throttled {
        assert_eq!(code(*err), "ThrottlingException");
        assert_eq!(
            message(*err),
            "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
        );
    }
    // With the SDK's standard retries (more attempts than its default 3),
    // every call of another burst succeeds.
    let patient = server.client_configured(|c| {
        c.retry_config(aws_sdk_kms::config::retry::RetryConfig::standard().with_max_attempts(10))
    });
    for outcome in burst(patient, 6).await {
        outcome.expect("the SDK retried until the quota admitted it");
    }
}
