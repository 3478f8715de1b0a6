//! Rotation with real material versions and deletion that happens, proven
//! by moving the server's lifecycle clock (never by sleeping).

use crate::common::*;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::RotationType;

const DAY: i64 = 86_400;

#[tokio::test]
async fn rotation_on_demand_and_automatic_keeps_old_ciphertexts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    let id = new_key(&kms).await;
    let encrypt = |text: &'static str| {
        let kms = kms.clone();
        let id = id.clone();
        async move {
            kms.encrypt()
                .key_id(&id)
                .plaintext(Blob::new(text))
                .send()
                .await
                .unwrap()
                .ciphertext_blob
                .unwrap()
        }
    };
    let v1 = encrypt("one").await;

    let material = |kms: aws_sdk_kms::Client, id: String| async move {
        kms.describe_key()
            .key_id(id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .current_key_material_id
            .unwrap()
    };
    let first_material = material(kms.clone(), id.clone()).await;
    let rotated = kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let second_material = material(kms.clone(), id.clone()).await;
    assert_ne!(first_material, second_material);
    assert!(rotated.key_id().unwrap().ends_with(&id));
    let v2 = encrypt("two").await;
    assert_ne!(
        v1.as_ref()[17..21],
        v2.as_ref()[17..21],
        "new ciphertexts use the new material version"
    );

    kms.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    server.advance_clock(91 * DAY);
    let v3 = encrypt("three").await;

    let rotations = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    let types: Vec<_> = rotations
        .rotations()
        .iter()
        .map(|r| r.rotation_type().unwrap().clone())
        .collect();
    assert_eq!(types, [RotationType::OnDemand, RotationType::Automatic]);
    assert_eq!(
        rotations.rotations()[0].key_material_id(),
        Some(second_material.as_str())
    );
    let page = kms
        .list_key_rotations()
        .key_id(&id)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert!(page.truncated());
    let status = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled());
    assert!(
        status.next_rotation_date().unwrap().secs()
            > rotations.rotations()[1].rotation_date().unwrap().secs()
    );

    // The key id never changes and every version still decrypts, also after
    // a restart.
    drop(kms);
    server.kill();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    let third_material = material(kms.clone(), id.clone()).await;
    assert_eq!(
        rotations.rotations()[1].key_material_id(),
        Some(third_material.as_str())
    );
    // Decrypt names the material version that opened each ciphertext.
    for (blob, text, used) in [
        (v1, "one", &first_material),
        (v2, "two", &second_material),
        (v3.clone(), "three", &third_material),
    ] {
        let out = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
        assert_eq!(out.plaintext().unwrap().as_ref(), text.as_bytes());
        assert!(out.key_id().unwrap().ends_with(&id));
        assert_eq!(out.key_material_id(), Some(used.as_str()), "{text}");
    }
    // So do GenerateDataKey (the current material) and ReEncrypt (both
    // sides).
    let data_key = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    assert_eq!(data_key.key_material_id(), Some(third_material.as_str()));
    let without = kms
        .generate_data_key_without_plaintext()
        .key_id(&id)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    assert_eq!(without.key_material_id(), Some(third_material.as_str()));
    let other = new_key(&kms).await;
    let other_material = material(kms.clone(), other.clone()).await;
    let moved = kms
        .re_encrypt()
        .ciphertext_blob(v3)
        .destination_key_id(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(
        moved.source_key_material_id(),
        Some(third_material.as_str())
    );
    assert_eq!(
        moved.destination_key_material_id(),
        Some(other_material.as_str())
    );
    // A disabled key is not rotated on demand.
    kms.disable_key().key_id(&id).send().await.unwrap();
    let err = kms
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
}

#[tokio::test]
async fn deletion_happens_at_the_deletion_date() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let kms = server.client();
    let id = new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let blob = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("bye"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    kms.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();

    server.advance_clock(6 * DAY);
    let meta = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );

    server.advance_clock(2 * DAY);
    let err = kms.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let err = kms
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    assert!(
        kms.list_aliases()
            .send()
            .await
            .unwrap()
            .aliases()
            .iter()
            .all(|a| a.target_key_id().is_none())
    );
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty());

    // Nothing of the key's material is left in the store.
    server.kill();
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("trent.db").display()
    ))
    .await
    .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM key_materials WHERE key_id = ?")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn quotas_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(
        dir.path(),
        &[
            "--quota",
            "keys=2",
            "--quota",
            "aliases-per-key=1",
            "--quota",
            "tags-per-key=2",
            "--quota",
            "grants-per-grantee=1",
        ],
    );
    let kms = server.client();
    let a = new_key(&kms).await;
    new_key(&kms).await;
    let err = kms.create_key().send().await.unwrap_err();
    assert_eq!(code(&err), "LimitExceededException");
    kms.create_alias()
        .alias_name("alias/one")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();
    let err = kms
        .create_alias()
        .alias_name("alias/two")
        .target_key_id(&a)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "LimitExceededException");
    let tag = |k: &str| {
        aws_sdk_kms::types::Tag::builder()
            .tag_key(k)
            .tag_value("v")
            .build()
            .unwrap()
    };
    let err = kms
        .tag_resource()
        .key_id(&a)
        .tags(tag("a"))
        .tags(tag("b"))
        .tags(tag("c"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "LimitExceededException");
    assert!(
        kms.list_resource_tags()
            .key_id(&a)
            .send()
            .await
            .unwrap()
            .tags()
            .is_empty(),
        "a refused call changes nothing"
    );
    let grant = || {
        kms.create_grant()
            .key_id(&a)
            .grantee_principal(format!("arn:aws:iam::{ACCOUNT}:root"))
            .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
            .send()
    };
    grant().await.unwrap();
    assert_eq!(code(&grant().await.unwrap_err()), "LimitExceededException");
}

#[tokio::test]
async fn dry_run_checks_everything_and_changes_nothing() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    let op = aws_sdk_kms::types::GrantOperation::Encrypt;
    let err = kms
        .create_grant()
        .key_id(&id)
        .grantee_principal(&root)
        .operations(op.clone())
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    assert!(
        kms.list_grants()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .grants()
            .is_empty()
    );
    // The real error wins over DryRun.
    let err = kms
        .create_grant()
        .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
        .grantee_principal(&root)
        .operations(op.clone())
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let grant = kms
        .create_grant()
        .key_id(&id)
        .grantee_principal(&root)
        .operations(op)
        .send()
        .await
        .unwrap();
    let grant_id = grant.grant_id().unwrap();
    let err = kms
        .revoke_grant()
        .key_id(&id)
        .grant_id(grant_id)
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    let err = kms
        .retire_grant()
        .grant_token(grant.grant_token().unwrap())
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    assert_eq!(
        kms.list_grants()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .grants()
            .len(),
        1
    );
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    let err = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(16)
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DryRunOperationException");
    kms.disable_key().key_id(&id).send().await.unwrap();
    let err = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
}

#[tokio::test]
async fn markers_are_tamper_proof() {
    let server = Server::start();
    let kms = server.client();
    for _ in 0..3 {
        new_key(&kms).await;
    }
    let page = kms.list_keys().limit(1).send().await.unwrap();
    let marker = page.next_marker().unwrap().to_owned();
    kms.list_keys()
        .limit(1)
        .marker(&marker)
        .send()
        .await
        .unwrap();
    let mut forged = marker.into_bytes();
    forged[2] = if forged[2] == b'A' { b'B' } else { b'A' };
    let err = kms
        .list_keys()
        .marker(String::from_utf8(forged).unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidMarkerException");
    // A marker of one list is no marker of another.
    let aliases_marker = kms
        .list_aliases()
        .limit(1)
        .send()
        .await
        .unwrap()
        .next_marker()
        .unwrap()
        .to_owned();
    let err = kms
        .list_keys()
        .marker(aliases_marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidMarkerException");
    let err = kms
        .list_aliases()
        .marker(page.next_marker().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidMarkerException");
}

#[tokio::test]
async fn on_demand_rotations_are_limited_to_25() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    for _ in 0..25 {
        kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    }
    let err = kms
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "LimitExceededException");
    let all: Vec<_> = kms
        .list_key_rotations()
        .key_id(&id)
        .limit(10)
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    assert_eq!(all.len(), 25);
    let blob = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    assert_eq!(
        u32::from_be_bytes(blob.as_ref()[17..21].try_into().unwrap()),
        26
    );
}

/// Issue 17: checks in AWS's order, the key's state before its type: a
/// disabled HMAC key's rotation is DisabledException; enabled, its type
/// is refused (UnsupportedOperationException).
#[tokio::test]
async fn a_disabled_keys_state_is_reported_before_its_type() {
    let server = Server::start();
    let kms = server.client();
    let hmac = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let err = kms
        .rotate_key_on_demand()
        .key_id(&hmac)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    kms.disable_key().key_id(&hmac).send().await.unwrap();
    let err = kms
        .rotate_key_on_demand()
        .key_id(&hmac)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
    let err = kms
        .enable_key_rotation()
        .key_id(&hmac)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
}
