//! Grants as the model defines them beyond IAM grantees: grants for AWS
//! service principals, the SourceArn constraint, the grant condition keys,
//! and encryption context constraints whose keys ignore case.

use crate::common::*;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation};

const SERVICE: &str = "backup.amazonaws.com";
const SOURCE: &str = "arn:aws:backup:us-east-1:111122223333:backup-vault:vault";
const ROOT: &str = "arn:aws:iam::111122223333:root";

fn source_arn(arn: &str) -> GrantConstraints {
    GrantConstraints::builder().source_arn(arn).build()
}

#[tokio::test]
async fn grants_for_service_principals_are_kept_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let id = new_key(&kms).await;
    let created = kms
        .create_grant()
        .key_id(&id)
        .grantee_service_principal(SERVICE)
        .retiring_service_principal(SERVICE)
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(source_arn(SOURCE))
        .send()
        .await
        .unwrap();
    let grant_id = created.grant_id().unwrap().to_owned();

    // The model's rules for the pairs of fields.
    let refused = [
        // No SourceArn constraint.
        kms.create_grant()
            .key_id(&id)
            .grantee_service_principal(SERVICE)
            .retiring_principal(ROOT)
            .operations(GrantOperation::Encrypt),
        // No retiring principal of either kind.
        kms.create_grant()
            .key_id(&id)
            .grantee_service_principal(SERVICE)
            .constraints(source_arn(SOURCE))
            .operations(GrantOperation::Encrypt),
        // Both kinds of grantee.
        kms.create_grant()
            .key_id(&id)
            .grantee_principal(ROOT)
            .grantee_service_principal(SERVICE)
            .retiring_principal(ROOT)
            .constraints(source_arn(SOURCE))
            .operations(GrantOperation::Encrypt),
        // Neither.
        kms.create_grant()
            .key_id(&id)
            .operations(GrantOperation::Encrypt),
        // Both kinds of retiring principal.
        kms.create_grant()
            .key_id(&id)
            .grantee_principal(ROOT)
            .retiring_principal(ROOT)
            .retiring_service_principal(SERVICE)
            .operations(GrantOperation::Encrypt),
        // Not a service principal's form.
        kms.create_grant()
            .key_id(&id)
            .grantee_service_principal("backup")
            .retiring_principal(ROOT)
            .constraints(source_arn(SOURCE))
            .operations(GrantOperation::Encrypt),
        // Not an ARN's form.
        kms.create_grant()
            .key_id(&id)
            .grantee_principal(ROOT)
            .constraints(source_arn("arn:aws:backup:us-east-1:vault"))
            .operations(GrantOperation::Encrypt),
    ];
    for request in refused {
        let err = request.send().await.unwrap_err();
        assert_eq!(code(&err), "ValidationException", "{err:?}");
    }

    let check_listed = |kms: Client| {
        let (id, grant_id) = (id.clone(), grant_id.clone());
        async move {
            let listed = kms.list_grants().key_id(&id).send().await.unwrap();
            let [grant] = listed.grants() else {
                panic!("one grant: {listed:?}");
            };
            assert_eq!(grant.grant_id(), Some(grant_id.as_str()));
            assert_eq!(grant.grantee_principal(), None);
            assert_eq!(grant.grantee_service_principal(), Some(SERVICE));
            assert_eq!(grant.retiring_principal(), None);
            assert_eq!(grant.retiring_service_principal(), Some(SERVICE));
            assert_eq!(grant.constraints().unwrap().source_arn(), Some(SOURCE));
        }
    };
    check_listed(kms.clone()).await;
    // Kept across a restart.
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    check_listed(kms.clone()).await;

    // The service principal filters are for callers in a service
    // principal, which no caller of Trent is.
    let err = kms
        .list_grants()
        .key_id(&id)
        .grantee_service_principal(SERVICE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = kms
        .list_retirable_grants()
        .retiring_service_principal(SERVICE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // A grant retired by a service is not the root's to retire.
    let retirable = kms
        .list_retirable_grants()
        .retiring_principal(ROOT)
        .send()
        .await
        .unwrap();
    assert!(retirable.grants().is_empty());
    // The key's account revokes it like any grant.
    kms.revoke_grant()
        .key_id(&id)
        .grant_id(&grant_id)
        .send()
        .await
        .unwrap();
    let listed = kms.list_grants().key_id(&id).send().await.unwrap();
    assert!(listed.grants().is_empty());
}

/// A SourceArn constraint allows only requests made on behalf of that
/// resource, which a direct caller's never are: the grantee gets nothing
/// from the grant but RetireGrant.
#[tokio::test]
async fn a_source_arn_grant_allows_no_direct_call() {
    let server = Server::start();
    let kms = server.client();
    let (grantee, grantee_arn) = iam_user(&server, "grantee", None);
    let id = new_key(&kms).await;
    let constrained = kms
        .create_grant()
        .key_id(&id)
        .grantee_principal(&grantee_arn)
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::DescribeKey)
        .operations(GrantOperation::RetireGrant)
        .constraints(source_arn(SOURCE))
        .send()
        .await
        .unwrap();
    let token = constrained.grant_token().unwrap();
    let err = grantee
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .grant_tokens(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    let err = grantee
        .describe_key()
        .key_id(&id)
        .grant_tokens(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // AWS does not apply the constraint to RetireGrant.
    grantee
        .retire_grant()
        .grant_token(token)
        .send()
        .await
        .unwrap();

    // The same grant without the constraint allows the call.
    kms.create_grant()
        .key_id(&id)
        .grantee_principal(&grantee_arn)
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    grantee
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap();
}

/// kms:GranteeServicePrincipal, kms:GrantConstraintSourceArn and
/// kms:GrantConstraintType in the policy that allows CreateGrant.
#[tokio::test]
async fn grant_condition_keys_bind_create_grant() {
    let server = Server::start();
    let kms = server.client();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"kms:CreateGrant","Resource":"*","Condition":{{"StringEquals":{{
                "kms:GranteeServicePrincipal":"{SERVICE}","kms:GrantConstraintSourceArn":"{SOURCE}"}}}}}},
            {{"Effect":"Deny","Action":"kms:CreateGrant","Resource":"*","Condition":{{
                "ForAnyValue:StringEquals":{{"kms:GrantConstraintType":"EncryptionContextEquals"}}}}}}]}}"#
    );
    let (granter, _) = iam_user(&server, "granter", Some(&policy));
    let id = new_key(&kms).await;
    let grant = |service: &str, source: &str| {
        granter
            .create_grant()
            .key_id(&id)
            .grantee_service_principal(service)
            .retiring_principal(ROOT)
            .operations(GrantOperation::Decrypt)
            .constraints(source_arn(source))
    };
    grant(SERVICE, SOURCE).send().await.unwrap();
    let other_source = "arn:aws:backup:us-east-1:111122223333:backup-vault:other";
    for refused in [
        grant("logs.amazonaws.com", SOURCE),
        grant(SERVICE, other_source),
        grant(SERVICE, SOURCE).constraints(
            GrantConstraints::builder()
                .source_arn(SOURCE)
                .encryption_context_equals("purpose", "backup")
                .build(),
        ),
        // An IAM grantee has no kms:GranteeServicePrincipal to match.
        granter
            .create_grant()
            .key_id(&id)
            .grantee_principal(ROOT)
            .operations(GrantOperation::Decrypt)
            .constraints(source_arn(SOURCE)),
    ] {
        let err = refused.send().await.unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException", "{err:?}");
    }
}

/// AWS: in a grant constraint the keys of the encryption context are not
/// case sensitive, the values are.
#[tokio::test]
async fn grant_context_constraints_ignore_the_case_of_keys_only() {
    let server = Server::start();
    let kms = server.client();
    let (grantee, grantee_arn) = iam_user(&server, "grantee", None);
    let id = new_key(&kms).await;
    for constraints in [
        GrantConstraints::builder()
            .encryption_context_subset("Purpose", "test")
            .build(),
        GrantConstraints::builder()
            .encryption_context_equals("Dept", "a")
            .build(),
    ] {
        kms.create_grant()
            .key_id(&id)
            .grantee_principal(&grantee_arn)
            .operations(GrantOperation::Encrypt)
            .constraints(constraints)
            .send()
            .await
            .unwrap();
    }
    let encrypt = |pairs: &[(&str, &str)]| {
        let mut request = grantee.encrypt().key_id(&id).plaintext(Blob::new("x"));
        for (k, v) in pairs {
            request = request.encryption_context(*k, *v);
        }
        request.send()
    };
    encrypt(&[("purpose", "test")]).await.unwrap();
    encrypt(&[("PURPOSE", "test"), ("other", "x")])
        .await
        .unwrap();
    encrypt(&[("dept", "a")]).await.unwrap();
    for refused in [
        &[("Purpose", "TEST")][..],
        &[("dept", "A")],
        &[("dept", "a"), ("other", "x")],
        &[],
    ] {
        let err = encrypt(refused).await.unwrap_err();
        assert_eq!(code(&err), "AccessDeniedException", "{refused:?}");
    }
}
