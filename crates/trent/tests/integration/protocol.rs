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
