//! Key policies are enforced, with AWS's lockout safety check, and grants
//! allow exactly their operations.

use crate::common::*;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation};

const ROOT: &str = "arn:aws:iam::111122223333:root";

#[tokio::test]
async fn key_policy_is_enforced_with_lockout_check() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    // A policy that shuts the caller out is refused unless bypassed.
    let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"}]}"#;
    let err = kms
        .put_key_policy()
        .key_id(&id)
        .policy(other)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocumentException");
    kms.describe_key().key_id(&id).send().await.unwrap();
    let err = kms.create_key().policy(other).send().await.unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocumentException");

    // Deny Encrypt explicitly: Encrypt is refused, Decrypt still works.
    let deny_encrypt = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}}]}}"#
    );
    let blob = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    kms.put_key_policy()
        .key_id(&id)
        .policy(&deny_encrypt)
        .send()
        .await
        .unwrap();
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    assert!(
        message(&err).contains("kms:Encrypt") && message(&err).contains("explicit deny"),
        "{}",
        message(&err)
    );
    kms.decrypt().ciphertext_blob(blob).send().await.unwrap();

    // With the bypass flag the caller may lock itself out, and then is out.
    kms.put_key_policy()
        .key_id(&id)
        .policy(other)
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .unwrap();
    let err = kms.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = kms
        .put_key_policy()
        .key_id(&id)
        .policy(&deny_encrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
}

#[tokio::test]
async fn grants_create_list_use_retire_revoke() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    let constraints = GrantConstraints::builder()
        .encryption_context_subset("purpose", "test")
        .build();
    let created = kms
        .create_grant()
        .key_id(&id)
        .grantee_principal(ROOT)
        .retiring_principal(ROOT)
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(constraints.clone())
        .name("app")
        .send()
        .await
        .unwrap();
    let (token, grant_id) = (
        created.grant_token().unwrap().to_owned(),
        created.grant_id().unwrap().to_owned(),
    );
    // The same name and parameters give the same grant.
    let again = kms
        .create_grant()
        .key_id(&id)
        .grantee_principal(ROOT)
        .retiring_principal(ROOT)
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(constraints)
        .name("app")
        .send()
        .await
        .unwrap();
    assert_eq!(again.grant_id(), Some(grant_id.as_str()));

    let listed = kms.list_grants().key_id(&id).send().await.unwrap();
    assert_eq!(listed.grants().len(), 1);
    let grant = &listed.grants()[0];
    assert_eq!(grant.grant_id(), Some(grant_id.as_str()));
    assert_eq!(grant.grantee_principal(), Some(ROOT));
    assert_eq!(grant.name(), Some("app"));
    assert_eq!(
        grant.operations(),
        [GrantOperation::Encrypt, GrantOperation::Decrypt]
    );
    assert_eq!(
        grant
            .constraints()
            .unwrap()
            .encryption_context_subset()
            .unwrap()["purpose"],
        "test"
    );
    let retirable = kms
        .list_retirable_grants()
        .retiring_principal(ROOT)
        .send()
        .await
        .unwrap();
    assert_eq!(retirable.grants().len(), 1);

    // Grant tokens are accepted; forged ones are not.
    kms.encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .grant_tokens(&token)
        .send()
        .await
        .unwrap();
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .grant_tokens("forged")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidGrantTokenException");

    let err = kms
        .create_grant()
        .key_id(&id)
        .grantee_principal("arn:aws:iam::111122223333:user/nobody")
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");

    kms.retire_grant().grant_token(&token).send().await.unwrap();
    assert!(
        kms.list_grants()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .grants()
            .is_empty()
    );
    let second = kms
        .create_grant()
        .key_id(&id)
        .grantee_principal(ROOT)
        .operations(GrantOperation::DescribeKey)
        .send()
        .await
        .unwrap();
    kms.revoke_grant()
        .key_id(&id)
        .grant_id(second.grant_id().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        kms.list_grants()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .grants()
            .is_empty()
    );
    let err = kms
        .revoke_grant()
        .key_id(&id)
        .grant_id(second.grant_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
}

#[tokio::test]
async fn grants_allow_what_the_key_policy_does_not() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    // The key policy allows the root only to manage grants and policy; a
    // grant with a context constraint gives it Encrypt.
    let admin_only = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},
            "Action":["kms:PutKeyPolicy","kms:CreateGrant","kms:ListGrants","kms:DescribeKey"],"Resource":"*"}}]}}"#
    );
    kms.put_key_policy()
        .key_id(&id)
        .policy(&admin_only)
        .send()
        .await
        .unwrap();
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    kms.create_grant()
        .key_id(&id)
        .grantee_principal(ROOT)
        .operations(GrantOperation::Encrypt)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("purpose", "test")
                .build(),
        )
        .send()
        .await
        .unwrap();
    kms.encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .encryption_context("purpose", "prod")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(32)
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
}

#[tokio::test]
async fn cross_account_use_needs_the_key_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_b, secret_b) = create_account(dir.path(), "444455556666");
    let a = server.client();
    let b = server.client_with(&id_b, &secret_b, "us-east-1");
    let key = a.create_key().send().await.unwrap().key_metadata.unwrap();
    let arn = key.arn().unwrap().to_owned();

    // By bare id the key of another account is not even visible; by ARN it
    // is, but the default key policy trusts only its own account.
    let err = b
        .encrypt()
        .key_id(key.key_id())
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let err = b
        .encrypt()
        .key_id(&arn)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    assert!(
        message(&err).contains("arn:aws:iam::444455556666:root"),
        "{}",
        message(&err)
    );

    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::444455556666:root"}},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}}]}}"#
    );
    a.put_key_policy()
        .key_id(&arn)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let blob = b
        .encrypt()
        .key_id(&arn)
        .plaintext(Blob::new("shared"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let plain = b
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), b"shared");
    a.decrypt().ciphertext_blob(blob).send().await.unwrap();
    let err = b.describe_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // B's own listing shows none of A's keys.
    assert!(b.list_keys().send().await.unwrap().keys().is_empty());
    // A second `account create` of the same id is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trent"))
        .args([
            "account",
            "create",
            "--account-id",
            "444455556666",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Issue 17: Decrypt's dry run with `DryRunModifiers: [IGNORE_CIPHERTEXT]`
/// checks the permission to decrypt under the named key, with no
/// ciphertext: allowed answers DryRunOperationException, another account
/// without a key policy for it AccessDeniedException (and a grantee past
/// its grant's operations or encryption context too), a disabled key
/// DisabledException; the key must be named.
#[tokio::test]
async fn decrypt_dry_run_ignoring_the_ciphertext_checks_permissions_only() {
    use aws_sdk_kms::types::DryRunModifierType::IgnoreCiphertext;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_b, secret_b) = create_account(dir.path(), "444455556666");
    let a = server.client();
    let b = server.client_with(&id_b, &secret_b, "us-east-1");
    let key = a.create_key().send().await.unwrap().key_metadata.unwrap();
    let arn = key.arn().unwrap().to_owned();
    let dry = |client: &aws_sdk_kms::Client, key: Option<&str>| {
        client
            .decrypt()
            .set_key_id(key.map(str::to_owned))
            .dry_run(true)
            .dry_run_modifiers(IgnoreCiphertext)
            .send()
    };
    let err = dry(&a, Some(&arn)).await.unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    let err = dry(&b, Some(&arn)).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = dry(&a, None).await.unwrap_err();
    assert_eq!(code(&err), "ValidationException");

    // A grantee reaching past its grant: an Encrypt grant allows no
    // Decrypt; a Decrypt grant bound to an encryption context allows only
    // that context.
    let grant = |operation, context: Option<&str>| {
        a.create_grant()
            .key_id(&arn)
            .grantee_principal("arn:aws:iam::444455556666:root")
            .operations(operation)
            .set_constraints(context.map(|v| {
                aws_sdk_kms::types::GrantConstraints::builder()
                    .encryption_context_equals("purpose", v)
                    .build()
            }))
            .send()
    };
    grant(aws_sdk_kms::types::GrantOperation::Encrypt, None)
        .await
        .unwrap();
    let err = dry(&b, Some(&arn)).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    grant(aws_sdk_kms::types::GrantOperation::Decrypt, Some("backups"))
        .await
        .unwrap();
    let with_context = |purpose: &str| {
        b.decrypt()
            .key_id(&arn)
            .encryption_context("purpose", purpose)
            .dry_run(true)
            .dry_run_modifiers(IgnoreCiphertext)
            .send()
    };
    let err = with_context("backups").await.unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    let err = with_context("payroll").await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = dry(&b, Some(&arn)).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException", "no context, no grant");

    // An RSA key: checked with the RSA algorithm given, refused without.
    let rsa = a
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::Rsa2048)
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let err = a
        .decrypt()
        .key_id(&rsa)
        .encryption_algorithm(aws_sdk_kms::types::EncryptionAlgorithmSpec::RsaesOaepSha256)
        .dry_run(true)
        .dry_run_modifiers(IgnoreCiphertext)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    let err = dry(&a, Some(&rsa)).await.unwrap_err();
    assert_eq!(code(&err), "InvalidKeyUsageException");

    a.disable_key().key_id(&arn).send().await.unwrap();
    let err = dry(&a, Some(&arn)).await.unwrap_err();
    assert_eq!(code(&err), "DisabledException");
}
