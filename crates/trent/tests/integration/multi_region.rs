//! Multi-Region keys: CreateKey MultiRegion, ReplicateKey, DescribeKey's
//! MultiRegionConfiguration, ciphertexts of one Region opened in another,
//! Sign/Verify across Regions; aliases regional; the refusals (replica
//! rotation, another account, a key policy denying kms:ReplicateKey, a
//! single-Region key's ciphertext in another Region).

use crate::common::*;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MultiRegionKeyType, SigningAlgorithmSpec};

const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";

async fn create_mrk(kms: &Client) -> aws_sdk_kms::types::KeyMetadata {
    kms.create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

type Sent<O, E> =
    Result<O, aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>>;

/// ReplicateKey with only the key and the Region.
async fn replicate(
    kms: &Client,
    key: &str,
    region: &str,
) -> Sent<
    aws_sdk_kms::operation::replicate_key::ReplicateKeyOutput,
    aws_sdk_kms::operation::replicate_key::ReplicateKeyError,
> {
    kms.replicate_key()
        .key_id(key)
        .replica_region(region)
        .send()
        .await
}

/// UpdatePrimaryRegion.
async fn move_primary(
    kms: &Client,
    key: &str,
    region: &str,
) -> Sent<
    aws_sdk_kms::operation::update_primary_region::UpdatePrimaryRegionOutput,
    aws_sdk_kms::operation::update_primary_region::UpdatePrimaryRegionError,
> {
    kms.update_primary_region()
        .key_id(key)
        .primary_region(region)
        .send()
        .await
}

#[tokio::test]
async fn replicate_describe_and_decrypt_across_regions() {
    let server = Server::start();
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);

    let primary = create_mrk(&east).await;
    let id = primary.key_id.clone();
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    assert_eq!(primary.multi_region, Some(true));
    let east_arn = format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/{id}");
    let west_arn = format!("arn:aws:kms:{WEST}:{ACCOUNT}:key/{id}");
    assert_eq!(primary.arn.as_deref(), Some(east_arn.as_str()));
    let config = primary.multi_region_configuration.unwrap();
    assert_eq!(
        config.multi_region_key_type,
        Some(MultiRegionKeyType::Primary)
    );
    assert_eq!(config.primary_key.unwrap().region.as_deref(), Some(EAST));

    // Not in the other Region until replicated.
    let err = west.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException");

    let replicated = east
        .replicate_key()
        .key_id(&id)
        .replica_region(WEST)
        .description("the replica")
        .send()
        .await
        .unwrap();
    let replica = replicated.replica_key_metadata.unwrap();
    assert_eq!(replica.key_id, id);
    assert_eq!(replica.arn.as_deref(), Some(west_arn.as_str()));
    assert_eq!(replica.description.as_deref(), Some("the replica"));
    assert!(replicated.replica_policy.is_some());

    for (client, kind) in [
        (&east, MultiRegionKeyType::Primary),
        (&west, MultiRegionKeyType::Replica),
    ] {
        let meta = client
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(meta.multi_region, Some(true));
        let config = meta.multi_region_configuration.unwrap();
        assert_eq!(config.multi_region_key_type, Some(kind));
        let primary = config.primary_key.unwrap();
        assert_eq!(primary.arn.as_deref(), Some(east_arn.as_str()));
        let replicas = config.replica_keys.unwrap();
        assert_eq!(replicas.len(), 1);
        assert_eq!(replicas[0].arn.as_deref(), Some(west_arn.as_str()));
        assert_eq!(replicas[0].region.as_deref(), Some(WEST));
    }
    // By ARN in its own Region; another Region's ARN is refused.
    west.describe_key().key_id(&west_arn).send().await.unwrap();
    let err = west
        .describe_key()
        .key_id(&east_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    // ListKeys shows the mrk id.
    let listed = west.list_keys().send().await.unwrap().keys.unwrap();
    assert!(
        listed
            .iter()
            .any(|k| k.key_id.as_deref() == Some(id.as_str()))
    );

    // Encrypt in one Region, decrypt in the other, with and without KeyId.
    let ciphertext = east
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("across"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    for key_id in [None, Some(id.as_str()), Some(west_arn.as_str())] {
        let out = west
            .decrypt()
            .set_key_id(key_id.map(str::to_owned))
            .ciphertext_blob(ciphertext.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), b"across");
        assert_eq!(out.key_id.as_deref(), Some(west_arn.as_str()));
    }
    let data_key = west
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    let opened = east
        .decrypt()
        .ciphertext_blob(data_key.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext, data_key.plaintext);
    assert_eq!(opened.key_material_id, data_key.key_material_id);

    // A second replica in one Region, or one in the primary's Region.
    let err = replicate(&east, &id, WEST).await.unwrap_err();
    assert_eq!(code(&err), "AlreadyExistsException");
    let err = replicate(&east, &id, EAST).await.unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    // A replica is not replicated; nor is a single-Region key.
    let err = replicate(&west, &id, "ap-south-1").await.unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    let single = new_key(&east).await;
    let err = replicate(&east, &single, WEST).await.unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");

    // Rotation is the primary's; a replica refuses it.
    let err = west
        .enable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    let err = west
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
}

#[tokio::test]
async fn aliases_are_regional_and_single_region_ciphertexts_stay_home() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let id = create_mrk(&east).await.key_id;
    replicate(&east, &id, WEST).await.unwrap();
    east.create_alias()
        .alias_name("alias/mrk-east")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let aliases = east.list_aliases().key_id(&id).send().await.unwrap();
    let alias = &aliases.aliases.unwrap()[0];
    assert_eq!(alias.target_key_id.as_deref(), Some(id.as_str()));
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    east.create_grant()
        .key_id(&id)
        .grantee_principal(&root)
        .retiring_principal(&root)
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    // After a restart, with no key cached, the listings still show the
    // key's `mrk-` id and ARN.
    server.stop();
    let server = Server::start_in(dir.path(), &[]);
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let aliases = east.list_aliases().send().await.unwrap();
    let alias = aliases
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/mrk-east"))
        .unwrap();
    assert_eq!(alias.target_key_id(), Some(id.as_str()));
    let retirable = east
        .list_retirable_grants()
        .retiring_principal(&root)
        .send()
        .await
        .unwrap();
    let [grant] = retirable.grants() else {
        panic!("one grant: {retirable:?}");
    };
    assert_eq!(
        grant.key_id(),
        Some(format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/{id}").as_str())
    );
    let err = west
        .encrypt()
        .key_id("alias/mrk-east")
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");

    // A single-Region key's ciphertext does not open in another Region.
    let single = new_key(&east).await;
    let ciphertext = east
        .encrypt()
        .key_id(&single)
        .plaintext(Blob::new("home"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let err = west
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidCiphertextException");
}

#[tokio::test]
async fn sign_in_one_region_verify_in_another() {
    let server = Server::start();
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let id = east
        .create_key()
        .multi_region(true)
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    replicate(&east, &id, WEST).await.unwrap();
    let signature = east
        .sign()
        .key_id(&id)
        .message(Blob::new("signed here"))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap();
    let verified = west
        .verify()
        .key_id(&id)
        .message(Blob::new("signed here"))
        .signature(signature)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    assert!(verified.signature_valid);
    let east_public = east.get_public_key().key_id(&id).send().await.unwrap();
    let west_public = west.get_public_key().key_id(&id).send().await.unwrap();
    assert_eq!(east_public.public_key, west_public.public_key);
}

#[tokio::test]
async fn replicate_key_is_refused_to_other_accounts_and_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_b, secret_b) = create_account(dir.path(), "444455556666");
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let other = server.client_with(&id_b, &secret_b, EAST);
    let id = create_mrk(&east).await.key_id;
    let arn = format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/{id}");
    // Even a key policy allowing the other account does not let it
    // replicate (cross-account use: no).
    let open_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::444455556666:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    east.put_key_policy()
        .key_id(&id)
        .policy(open_policy)
        .send()
        .await
        .unwrap();
    let err = replicate(&other, &arn, WEST).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");

    // A key policy denying kms:ReplicateKey.
    let deny_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","Principal":{{"AWS":"*"}},"Action":"kms:ReplicateKey","Resource":"*"}}]}}"#
    );
    let denied = east
        .create_key()
        .multi_region(true)
        .policy(deny_policy)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let err = replicate(&east, &denied, WEST).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // Nothing was made in the other Region.
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let err = west
        .describe_key()
        .key_id(&denied)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
}

/// Encrypts in `from` and decrypts in `to`: the KeyMaterialId it used.
async fn round_trip(from: &Client, to: &Client, id: &str) -> String {
    let out = from
        .encrypt()
        .key_id(id)
        .plaintext(Blob::new("rotated"))
        .send()
        .await
        .unwrap();
    let opened = to
        .decrypt()
        .ciphertext_blob(out.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.plaintext.unwrap().as_ref(), b"rotated");
    opened.key_material_id.unwrap()
}

#[tokio::test]
async fn rotation_of_the_primary_reaches_the_replica() {
    const DAY: i64 = 86_400;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let id = create_mrk(&east).await.key_id;
    replicate(&east, &id, WEST).await.unwrap();
    let first = round_trip(&east, &west, &id).await;
    assert_eq!(first, round_trip(&west, &east, &id).await);

    east.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let status = west
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled);
    assert!(server.advance_clock(91 * DAY) >= 1);
    // The primary's new version is the replica's too, both ways.
    let second = round_trip(&east, &west, &id).await;
    assert_ne!(second, first);
    assert_eq!(second, round_trip(&west, &east, &id).await);

    // On demand, from the primary only.
    east.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let third = round_trip(&west, &east, &id).await;
    assert_ne!(third, second);
    assert_eq!(third, round_trip(&east, &west, &id).await);
    let rotations = west
        .list_key_rotations()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .rotations
        .unwrap();
    assert_eq!(rotations.len(), 2);
    let err = west
        .disable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");

    // A replica made after rotations has every version and encrypts with
    // the newest.
    let south = server.client_with(ACCESS_KEY, SECRET_KEY, "ap-south-1");
    replicate(&east, &id, "ap-south-1").await.unwrap();
    let current = |meta: aws_sdk_kms::types::KeyMetadata| meta.current_key_material_id;
    assert_eq!(
        current(describe(&south, &id).await),
        current(describe(&east, &id).await)
    );
    assert_eq!(round_trip(&south, &east, &id).await, third);
    south
        .update_key_description()
        .key_id(&id)
        .description("south")
        .send()
        .await
        .unwrap();
}

async fn describe(client: &Client, id: &str) -> aws_sdk_kms::types::KeyMetadata {
    client
        .describe_key()
        .key_id(id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

#[tokio::test]
async fn update_primary_region_swaps_the_roles() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_b, secret_b) = create_account(dir.path(), "444455556666");
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let other = server.client_with(&id_b, &secret_b, EAST);
    let id = create_mrk(&east).await.key_id;
    replicate(&east, &id, WEST).await.unwrap();
    east.enable_key_rotation().key_id(&id).send().await.unwrap();

    // Another account cannot, whatever the key policy says.
    let arn = format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/{id}");
    let err = move_primary(&other, &arn, WEST).await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // Only the primary is named; only a Region with a replica.
    let err = move_primary(&west, &id, EAST).await.unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    let err = move_primary(&east, &id, "ap-south-1").await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException");

    move_primary(&east, &id, WEST).await.unwrap();
    let west_arn = format!("arn:aws:kms:{WEST}:{ACCOUNT}:key/{id}");
    for client in [&east, &west] {
        let config = describe(client, &id)
            .await
            .multi_region_configuration
            .unwrap();
        assert_eq!(
            config.primary_key.unwrap().arn.as_deref(),
            Some(west_arn.as_str())
        );
        let replicas = config.replica_keys.unwrap();
        assert_eq!(replicas.len(), 1);
        assert_eq!(replicas[0].region.as_deref(), Some(EAST));
    }
    assert_eq!(
        describe(&west, &id)
            .await
            .multi_region_configuration
            .unwrap()
            .multi_region_key_type,
        Some(MultiRegionKeyType::Primary)
    );
    // Rotation moved with the primary: the new replica refuses it, the
    // new primary has the schedule.
    let err = east
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    let status = west
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled);
    assert!(status.next_rotation_date.is_some());
    west.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    round_trip(&west, &east, &id).await;
    round_trip(&east, &west, &id).await;
    // The former primary cannot be replicated any more; the new one can.
    let err = replicate(&east, &id, "ap-south-1").await.unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    replicate(&west, &id, "ap-south-1").await.unwrap();
}

#[tokio::test]
async fn a_primary_waits_for_its_replicas_to_be_deleted() {
    const DAY: i64 = 86_400;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--unsafe-test-clock"]);
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let id = create_mrk(&east).await.key_id;
    replicate(&east, &id, WEST).await.unwrap();

    let scheduled = east
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        scheduled.key_state,
        Some(aws_sdk_kms::types::KeyState::PendingReplicaDeletion)
    );
    assert!(scheduled.deletion_date.is_none());
    // Cancelled from PendingReplicaDeletion: Disabled, as from PendingDeletion.
    east.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(
        describe(&east, &id).await.key_state,
        Some(aws_sdk_kms::types::KeyState::Disabled)
    );
    east.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    // The primary is not deleted while its replica lives.
    server.advance_clock(8 * DAY);
    assert_eq!(
        describe(&east, &id).await.key_state,
        Some(aws_sdk_kms::types::KeyState::PendingReplicaDeletion)
    );
    // The replica deletes normally; the primary's window starts then.
    let blob = west
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    west.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    server.advance_clock(8 * DAY);
    let err = west.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    // Its ciphertexts name the deleted key by its mrk ARN in that Region.
    let err = west
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
    assert!(
        message(&err).contains(&format!("{WEST}:{ACCOUNT}:key/{id}")),
        "{}",
        message(&err)
    );
    let primary = describe(&east, &id).await;
    assert_eq!(
        primary.key_state,
        Some(aws_sdk_kms::types::KeyState::PendingDeletion)
    );
    assert!(primary.deletion_date.is_some());
    server.advance_clock(8 * DAY);
    let err = east.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(code(&err), "NotFoundException");
}

#[tokio::test]
async fn grants_are_regional() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let (id_b, secret_b) = create_account(dir.path(), "444455556666");
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let b_east = server.client_with(&id_b, &secret_b, EAST);
    let b_west = server.client_with(&id_b, &secret_b, WEST);
    let id = create_mrk(&east).await.key_id;
    replicate(&east, &id, WEST).await.unwrap();
    east.create_grant()
        .key_id(&id)
        .grantee_principal("arn:aws:iam::444455556666:root")
        .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    let east_arn = format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/{id}");
    let west_arn = format!("arn:aws:kms:{WEST}:{ACCOUNT}:key/{id}");
    let grants = east.list_grants().key_id(&id).send().await.unwrap();
    assert_eq!(
        grants.grants.unwrap()[0].key_id.as_deref(),
        Some(east_arn.as_str())
    );
    b_east
        .encrypt()
        .key_id(&east_arn)
        .plaintext(Blob::new("granted"))
        .send()
        .await
        .unwrap();
    let err = b_west
        .encrypt()
        .key_id(&west_arn)
        .plaintext(Blob::new("granted"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
}

#[tokio::test]
async fn multi_region_condition_keys() {
    let server = Server::start();
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let west = server.client_with(ACCESS_KEY, SECRET_KEY, WEST);
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    // kms:ReplicaRegion in the primary's policy.
    let primary_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"{root}"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","Principal":{{"AWS":"*"}},"Action":"kms:ReplicateKey","Resource":"*",
              "Condition":{{"StringEquals":{{"kms:ReplicaRegion":"ap-south-1"}}}}}},
            {{"Effect":"Deny","Principal":{{"AWS":"*"}},"Action":"kms:Decrypt","Resource":"*",
              "Condition":{{"Bool":{{"kms:MultiRegion":"true"}}}}}}]}}"#
    );
    let id = east
        .create_key()
        .multi_region(true)
        .policy(primary_policy)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let err = replicate(&east, &id, "ap-south-1").await.unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // kms:MultiRegionKeyType in the replica's policy.
    let replica_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Principal":{{"AWS":"{root}"}},"Action":"kms:*","Resource":"*"}},
            {{"Effect":"Deny","Principal":{{"AWS":"*"}},"Action":"kms:Encrypt","Resource":"*",
              "Condition":{{"StringEquals":{{"kms:MultiRegionKeyType":"REPLICA"}}}}}}]}}"#
    );
    east.replicate_key()
        .key_id(&id)
        .replica_region(WEST)
        .policy(replica_policy)
        .send()
        .await
        .unwrap();
    let blob = east
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let err = west
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    // The primary's policy denies Decrypt of multi-Region keys; the
    // replica's does not.
    let err = east
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDeniedException");
    west.decrypt().ciphertext_blob(blob).send().await.unwrap();
}

#[tokio::test]
async fn replicas_only_in_served_regions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--regions", "us-east-1,eu-west-1"]);
    let east = server.client_with(ACCESS_KEY, SECRET_KEY, EAST);
    let id = create_mrk(&east).await.key_id;
    let err = replicate(&east, &id, "ap-south-1").await.unwrap_err();
    assert_eq!(code(&err), "UnsupportedOperationException");
    replicate(&east, &id, WEST).await.unwrap();
}
