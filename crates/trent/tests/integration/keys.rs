//! Key management, aliases, tags, policies and rotation settings.

use crate::common::*;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, OriginType, Tag};

#[tokio::test]
async fn create_and_describe_key_with_aws_defaults() {
    let server = Server::start();
    let kms = server.client();
    let created = kms
        .create_key()
        .description("first")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(created.aws_account_id(), Some(ACCOUNT));
    assert_eq!(created.key_state(), Some(&KeyState::Enabled));
    assert!(created.enabled());
    assert_eq!(created.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(created.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(created.origin(), Some(&OriginType::AwsKms));
    assert_eq!(created.description(), Some("first"));
    let arn = created.arn().unwrap().to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{}", created.key_id())
    );
    assert!(created.creation_date().is_some());

    kms.create_alias()
        .alias_name("alias/first")
        .target_key_id(created.key_id())
        .send()
        .await
        .unwrap();
    for key_id in [
        created.key_id().to_owned(),
        arn.clone(),
        "alias/first".into(),
        format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/first"),
    ] {
        let described = kms
            .describe_key()
            .key_id(&key_id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(described.key_id(), created.key_id(), "{key_id}");
    }

    let err = kms
        .describe_key()
        .key_id("not-a-key")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    assert_eq!(message(&err), "Invalid keyId 'not-a-key'");
    let err = kms
        .describe_key()
        .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let err = kms
        .describe_key()
        .key_id("alias/missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let err = kms
        .create_key()
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn list_keys_paginates() {
    let server = Server::start();
    let kms = server.client();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(new_key(&kms).await);
    }
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = kms
            .list_keys()
            .limit(2)
            .set_marker(marker)
            .send()
            .await
            .unwrap();
        assert!(page.keys().len() <= 2);
        seen.extend(page.keys().iter().map(|k| k.key_id().unwrap().to_owned()));
        if !page.truncated() {
            break;
        }
        marker = page.next_marker().map(str::to_owned);
    }
    assert_eq!(seen, ids);
    // The SDK's paginator follows the same markers.
    let all: Vec<_> = kms
        .list_keys()
        .limit(3)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(all.len(), 5);
    let err = kms.list_keys().limit(1001).send().await.unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = kms.list_keys().marker("garbage").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidMarkerException");
}

#[tokio::test]
async fn key_states_enable_disable_schedule_cancel() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    kms.update_key_description()
        .key_id(&id)
        .description("changed")
        .send()
        .await
        .unwrap();
    kms.disable_key().key_id(&id).send().await.unwrap();
    let meta = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Disabled));
    assert_eq!(meta.description(), Some("changed"));
    kms.enable_key().key_id(&id).send().await.unwrap();

    let err = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(6)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(31)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        scheduled.key_id(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}").as_str())
    );
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(scheduled.pending_window_in_days(), Some(7));
    let deletion = scheduled.deletion_date().unwrap().secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (deletion - now - 7 * 86400).abs() < 120,
        "deletion date {deletion} vs now {now}"
    );

    for err in [
        code(&kms.enable_key().key_id(&id).send().await.unwrap_err()),
        code(&kms.disable_key().key_id(&id).send().await.unwrap_err()),
        code(
            &kms.schedule_key_deletion()
                .key_id(&id)
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &kms.update_key_description()
                .key_id(&id)
                .description("x")
                .send()
                .await
                .unwrap_err(),
        ),
    ] {
        assert_eq!(err, "KMSInvalidStateException");
    }
    let cancelled = kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert!(cancelled.key_id().unwrap().ends_with(&id));
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
        Some(&KeyState::Disabled),
        "CancelKeyDeletion leaves the key Disabled"
    );
    assert!(meta.deletion_date().is_none());
    let err = kms
        .cancel_key_deletion()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMSInvalidStateException");
}

#[tokio::test]
async fn aliases_create_update_delete_list() {
    let server = Server::start();
    let kms = server.client();
    let a = new_key(&kms).await;
    let b = new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/app")
        .target_key_id(&a)
        .send()
        .await
        .unwrap();
    let err = kms
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AlreadyExistsException");
    let err = kms
        .create_alias()
        .alias_name("app")
        .target_key_id(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = kms
        .create_alias()
        .alias_name("alias/aws/s3")
        .target_key_id(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidAliasNameException");
    let err = kms
        .create_alias()
        .alias_name("alias/bad name")
        .target_key_id(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = kms
        .create_alias()
        .alias_name("alias/x")
        .target_key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");

    kms.update_alias()
        .alias_name("alias/app")
        .target_key_id(&b)
        .send()
        .await
        .unwrap();
    let described = kms
        .describe_key()
        .key_id("alias/app")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(described.key_id(), b);
    let err = kms
        .update_alias()
        .alias_name("alias/none")
        .target_key_id(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");

    for i in 0..3 {
        kms.create_alias()
            .alias_name(format!("alias/more-{i}"))
            .target_key_id(&a)
            .send()
            .await
            .unwrap();
    }
    let listed = kms.list_aliases().send().await.unwrap();
    let names: Vec<_> = listed
        .aliases()
        .iter()
        .map(|x| x.alias_name().unwrap())
        .filter(|n| !n.starts_with("alias/aws/"))
        .collect();
    assert_eq!(
        names,
        ["alias/app", "alias/more-0", "alias/more-1", "alias/more-2"]
    );
    let first = listed
        .aliases()
        .iter()
        .find(|x| x.alias_name() == Some("alias/app"))
        .unwrap();
    assert_eq!(first.target_key_id(), Some(b.as_str()));
    assert_eq!(
        first.alias_arn(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/app").as_str())
    );
    assert!(first.creation_date().is_some());
    // AWS's predefined aliases: listed, sorted among the others, with no
    // target and no dates; not in a list filtered by key.
    let predefined = listed
        .aliases()
        .iter()
        .find(|x| x.alias_name() == Some("alias/aws/dynamodb"))
        .unwrap();
    assert_eq!(predefined.target_key_id(), None);
    assert_eq!(predefined.creation_date(), None);
    assert_eq!(
        predefined.alias_arn(),
        Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/dynamodb").as_str())
    );
    let all: Vec<_> = listed.aliases().iter().map(|x| x.alias_name()).collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
    let for_a = kms.list_aliases().key_id(&a).send().await.unwrap();
    assert_eq!(for_a.aliases().len(), 3);
    // Pages of 3 give the same list.
    let mut paged = Vec::new();
    let mut marker = None;
    loop {
        let page = kms
            .list_aliases()
            .limit(3)
            .set_marker(marker)
            .send()
            .await
            .unwrap();
        assert!(page.aliases().len() <= 3);
        paged.extend(
            page.aliases()
                .iter()
                .map(|x| x.alias_name().map(str::to_owned)),
        );
        marker = page.next_marker().map(str::to_owned);
        assert_eq!(page.truncated(), marker.is_some());
        if marker.is_none() {
            break;
        }
    }
    let all: Vec<_> = all.into_iter().map(|n| n.map(str::to_owned)).collect();
    assert_eq!(paged, all);

    kms.delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .unwrap();
    let err = kms
        .delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let err = kms
        .encrypt()
        .key_id("alias/app")
        .plaintext(aws_sdk_kms::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
}

#[tokio::test]
async fn tags_policies_and_rotation() {
    let server = Server::start();
    let kms = server.client();
    let tag = |k: &str, v: &str| Tag::builder().tag_key(k).tag_value(v).build().unwrap();
    let id = kms
        .create_key()
        .tags(tag("team", "payments"))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.tag_resource()
        .key_id(&id)
        .tags(tag("env", "test"))
        .tags(tag("team", "platform"))
        .send()
        .await
        .unwrap();
    let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    let pairs: Vec<_> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(pairs, [("team", "platform"), ("env", "test")]);
    // Empty lists are lists (issue 17): nothing changes, nothing fails.
    kms.tag_resource()
        .key_id(&id)
        .set_tags(Some(vec![]))
        .send()
        .await
        .unwrap();
    kms.untag_resource()
        .key_id(&id)
        .set_tag_keys(Some(vec![]))
        .send()
        .await
        .unwrap();
    let again = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    assert_eq!(again.tags().len(), 2);
    kms.untag_resource()
        .key_id(&id)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms.list_resource_tags()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .tags()
            .len(),
        1
    );
    let err = kms
        .tag_resource()
        .key_id(&id)
        .tags(tag("aws:reserved", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TagException");
    // Issue 17: the reserved prefix in any case, and one value a key in a
    // request, as AWS answers them; a refused call changes nothing.
    let err = kms
        .tag_resource()
        .key_id(&id)
        .tags(tag("AWS:Reserved", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&err), message(&err)),
        (
            "TagException".to_owned(),
            "Tags beginning with aws: are reserved".to_owned()
        )
    );
    let err = kms
        .tag_resource()
        .key_id(&id)
        .tags(tag("twice", "a"))
        .tags(tag("twice", "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (code(&err), message(&err)),
        ("TagException".to_owned(), "Duplicate tag keys".to_owned())
    );
    let kept = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    assert!(kept.tags().iter().all(|t| t.tag_key() != "twice"));

    let policy = kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(
        doc["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
    let names = kms.list_key_policies().key_id(&id).send().await.unwrap();
    assert_eq!(names.policy_names(), ["default"]);
    let new_policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;
    kms.put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(new_policy)
        .send()
        .await
        .unwrap();
    let stored = kms.get_key_policy().key_id(&id).send().await.unwrap();
    assert_eq!(stored.policy(), Some(new_policy));
    let err = kms
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocumentException");
    let err = kms
        .put_key_policy()
        .key_id(&id)
        .policy(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Bogus":1}]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicyDocumentException");

    let status = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!status.key_rotation_enabled());
    kms.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(180)
        .send()
        .await
        .unwrap();
    let status = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(180));
    assert!(status.next_rotation_date().is_some());
    let err = kms
        .enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(30)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    kms.disable_key_rotation().key_id(&id).send().await.unwrap();
    assert!(
        !kms.get_key_rotation_status()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled()
    );
    kms.disable_key().key_id(&id).send().await.unwrap();
    let err = kms
        .enable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DisabledException");
}

#[tokio::test]
async fn keys_belong_to_their_region() {
    let server = Server::start();
    let east = server.client();
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, "us-west-2");
    let id = new_key(&east).await;
    let meta = west
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert!(meta.arn().unwrap().starts_with("arn:aws:kms:us-west-2:"));
    let err = west.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    assert_eq!(east.list_keys().send().await.unwrap().keys().len(), 1);
    let blob = east
        .encrypt()
        .key_id(&id)
        .plaintext(aws_sdk_kms::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap();
    let err = west
        .decrypt()
        .ciphertext_blob(blob.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let id = new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/durable")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let blob = kms
        .encrypt()
        .key_id("alias/durable")
        .plaintext(aws_sdk_kms::primitives::Blob::new("kept"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    kms.disable_key().key_id(&id).send().await.unwrap();
    server.kill();

    let server = Server::start_in(dir.path(), &[]);
    let kms = server.client();
    let meta = kms
        .describe_key()
        .key_id("alias/durable")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Disabled));
    kms.enable_key().key_id(&id).send().await.unwrap();
    let plain = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(plain.plaintext().unwrap().as_ref(), b"kept");
    use std::os::unix::fs::PermissionsExt;
    for file in ["root.key", "trent.db"] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
}

/// Issue 17: a key ARN is looked up in the account it names, as AWS does:
/// the caller's own key id under another account's ARN is not found there
/// (its message names that ARN), and as Decrypt's KeyId it does not name
/// the ciphertext's key.
#[tokio::test]
async fn a_key_arn_is_looked_up_in_the_account_it_names() {
    let server = Server::start();
    let kms = server.client();
    let id = new_key(&kms).await;
    let own = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}");
    let elsewhere = format!("arn:aws:kms:us-east-1:999988887777:key/{id}");
    kms.describe_key().key_id(&own).send().await.unwrap();
    let err = kms
        .describe_key()
        .key_id(&elsewhere)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    assert_eq!(message(&err), format!("Key '{elsewhere}' does not exist"));
    let err = kms
        .encrypt()
        .key_id(&elsewhere)
        .plaintext(aws_sdk_kms::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let err = kms
        .disable_key()
        .key_id(&elsewhere)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    let blob = kms
        .encrypt()
        .key_id(&own)
        .plaintext(aws_sdk_kms::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let err = kms
        .decrypt()
        .key_id(&elsewhere)
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IncorrectKeyException");
    kms.decrypt()
        .key_id(&own)
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap();
    let state = kms.describe_key().key_id(&id).send().await.unwrap();
    assert!(
        state.key_metadata.unwrap().enabled,
        "the refused calls changed nothing"
    );
}

/// Issue 17: an alias that does not exist is reported in AWS's words, the
/// alias ARN unquoted (as AWS answered, e.g. "Alias
/// arn:aws:kms:us-west-2:271462348125:alias/parameter_store_key is not
/// found.").
#[tokio::test]
async fn a_missing_alias_is_reported_in_aws_words() {
    let server = Server::start();
    let kms = server.client();
    let err = kms
        .describe_key()
        .key_id("alias/nowhere")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    assert_eq!(
        message(&err),
        format!("Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nowhere is not found.")
    );
    let err = kms
        .delete_alias()
        .alias_name("alias/nowhere")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        format!("Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nowhere is not found.")
    );
}

/// Issue 17: alias names outside AWS's alphabet are refused as AWS refuses
/// them: ':' (allowed by the model's pattern) by the service's own check,
/// anything else by the model's pattern; neither makes an alias.
#[tokio::test]
async fn alias_names_outside_aws_alphabet_are_refused() {
    let server = Server::start();
    let kms = server.client();
    let key = new_key(&kms).await;
    let refused = |name: &'static str| {
        let kms = kms.clone();
        let key = key.clone();
        async move {
            let err = kms
                .create_alias()
                .alias_name(name)
                .target_key_id(&key)
                .send()
                .await
                .unwrap_err();
            (code(&err), message(&err))
        }
    };
    assert_eq!(
        refused("alias/my:alias").await,
        (
            "ValidationException".to_owned(),
            "alias/my:alias contains invalid characters for an alias".to_owned()
        )
    );
    let (code_, text) = refused("alias/my.alias").await;
    assert_eq!(code_, "ValidationException");
    assert!(
        text.contains("Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"),
        "{text}"
    );
    let aliases = kms.list_aliases().key_id(&key).send().await.unwrap();
    assert!(aliases.aliases().is_empty());
}
