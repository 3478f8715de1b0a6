//! One suite for every backend (only SQLite so far).

use crate::SqliteStore;
use trent_core::{AliasRecord, Credential, KeyRecord, SealedMaterial, Store, StoreError, Tag};
use trent_wire::{KeySpec, KeyState, KeyUsageType, OriginType};
use uuid::Uuid;

fn key(account: &str) -> KeyRecord {
    let id = Uuid::new_v4();
    KeyRecord {
        id,
        account: account.into(),
        region: "us-east-1".into(),
        arn: format!("arn:aws:kms:us-east-1:{account}:key/{id}"),
        created_ms: 1_700_000_000_000,
        description: "d".into(),
        key_usage: KeyUsageType::EncryptDecrypt,
        key_spec: KeySpec::SymmetricDefault,
        origin: OriginType::AwsKms,
        state: KeyState::Enabled,
        deletion_date_ms: None,
        pending_window_days: None,
        policy: "{}".into(),
        rotation_enabled: false,
        rotation_period_days: None,
        next_rotation_ms: None,
        current_material: 1,
        tags: vec![Tag {
            key: "team".into(),
            value: "a".into(),
        }],
    }
}

fn material() -> SealedMaterial {
    SealedMaterial {
        version: 1,
        sealed: vec![1, 2, 3],
    }
}

async fn suite(store: &dyn Store) {
    // Keys round-trip, update whole, list in creation order with paging.
    let a = key("111122223333");
    store.insert_key(&a, &material()).await.unwrap();
    let mut got = store.get_key(a.id).await.unwrap().unwrap();
    assert_eq!(got.tags, a.tags);
    assert_eq!(got.state, KeyState::Enabled);
    got.state = KeyState::PendingDeletion;
    got.deletion_date_ms = Some(5);
    got.tags.push(Tag {
        key: "x".into(),
        value: "".into(),
    });
    store.update_key(&got).await.unwrap();
    let again = store.get_key(a.id).await.unwrap().unwrap();
    assert_eq!(again.state, KeyState::PendingDeletion);
    assert_eq!(again.deletion_date_ms, Some(5));
    assert_eq!(again.tags.len(), 2);
    assert!(store.get_key(Uuid::new_v4()).await.unwrap().is_none());

    let b = key("111122223333");
    let c = key("111122223333");
    let other = key("444455556666");
    for k in [&b, &c, &other] {
        store.insert_key(k, &material()).await.unwrap();
    }
    let page = store
        .list_keys("111122223333", "us-east-1", None, 2)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    let page = store
        .list_keys("111122223333", "us-east-1", Some(b.id), 2)
        .await
        .unwrap();
    assert_eq!(page.iter().map(|p| p.0).collect::<Vec<_>>(), vec![c.id]);

    // The bulk read pages through every account's keys with their material.
    let first = store.load_keys(None, 3).await.unwrap();
    assert_eq!(
        first.iter().map(|k| k.0.id).collect::<Vec<_>>(),
        vec![a.id, b.id, c.id]
    );
    assert!(first.iter().all(|k| k.1.len() == 1 && k.2.is_empty()));
    let rest = store.load_keys(Some(c.id), 3).await.unwrap();
    assert_eq!(
        rest.iter().map(|k| k.0.id).collect::<Vec<_>>(),
        vec![other.id]
    );

    // A duplicate key id is refused and leaves the first intact.
    assert!(store.insert_key(&a, &material()).await.is_err());
    assert_eq!(store.key_materials(a.id).await.unwrap().len(), 1);

    // Aliases are unique per account and region.
    let alias = AliasRecord {
        account: "111122223333".into(),
        region: "us-east-1".into(),
        name: "alias/x".into(),
        target: a.id,
        created_ms: 1,
        updated_ms: 1,
    };
    store.insert_alias(&alias).await.unwrap();
    assert!(matches!(
        store.insert_alias(&alias).await,
        Err(StoreError::Conflict(_))
    ));
    let moved = AliasRecord {
        target: b.id,
        updated_ms: 2,
        ..alias.clone()
    };
    store.update_alias(&moved).await.unwrap();
    assert_eq!(store.all_aliases().await.unwrap(), vec![moved]);
    store
        .delete_alias("111122223333", "us-east-1", "alias/x")
        .await
        .unwrap();
    assert!(store.all_aliases().await.unwrap().is_empty());

    // Credentials.
    let cred = Credential {
        access_key_id: "AKIA1".into(),
        account: "111122223333".into(),
        principal_arn: "arn:aws:iam::111122223333:root".into(),
        sealed_secret: vec![9; 40],
        user_name: None,
        active: true,
        created_ms: 1,
        session: None,
    };
    store.insert_credential(&cred).await.unwrap();
    assert!(matches!(
        store.insert_credential(&cred).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .get_credential("AKIA1")
            .await
            .unwrap()
            .unwrap()
            .sealed_secret,
        vec![9; 40]
    );
    assert_eq!(
        store
            .list_credentials("111122223333", None)
            .await
            .unwrap()
            .len(),
        1
    );

    // An account and its root's first key: together, once.
    let other = Credential {
        access_key_id: "AKIA2".into(),
        account: "444455556666".into(),
        principal_arn: "arn:aws:iam::444455556666:root".into(),
        ..cred.clone()
    };
    assert!(!store.account_exists("444455556666").await.unwrap());
    store
        .insert_account("444455556666", Some(&other))
        .await
        .unwrap();
    assert!(store.account_exists("444455556666").await.unwrap());
    let again = Credential {
        access_key_id: "AKIA3".into(),
        ..other.clone()
    };
    assert!(matches!(
        store.insert_account("444455556666", Some(&again)).await,
        Err(StoreError::Conflict(_))
    ));
    // The refused account's key was not stored either.
    assert!(store.get_credential("AKIA3").await.unwrap().is_none());
    assert_eq!(
        store
            .list_credentials("444455556666", None)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn sqlite_passes_the_store_suite_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trent.db");
    let store = SqliteStore::open(&path).await.unwrap();
    suite(&store).await;
    drop(store);
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        reopened
            .list_keys("111122223333", "us-east-1", None, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// Audit blocks, of both encodings (JSON lines written before compact
/// records, as a store upgraded by migration 0007 holds them), read back
/// from any position; lookups (newest first, paged by seq) see across
/// blocks.
#[tokio::test]
async fn audit_blocks_read_back_from_any_position() {
    use trent_core::audit::block::{AuditBlock, BlockDecoder, BlockEncoder};
    use trent_core::audit::lookup::{AuditLookup, LookupAttribute};
    use trent_core::audit::{Actor, AuditEvent, EventSource, chain_hash};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trent.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(store.audit_tail().await.unwrap().last_event.is_none());
    let event = |seq: i64| AuditEvent {
        time_ms: trent_core::audit::parse_rfc3339_ms("2026-11-23T10:00:00Z").unwrap() + seq * 1000,
        source: EventSource::Kms,
        name: if seq % 2 == 0 { "Decrypt" } else { "Encrypt" }.into(),
        region: "us-east-1".into(),
        source_ip: None,
        user_agent: Some("agent".into()),
        actor: Actor::Service {
            account: "111122223333".into(),
        },
        request_parameters: None,
        response_elements: None,
        error: None,
        request_id: Some(trent_core::audit::Id::parse(&format!("r{seq}"))),
        read_only: true,
        service_event: false,
        key_arns: Default::default(),
        recipient: None,
    };
    // Events 1 and 2 as the first encoding stored them: a TEXT row.
    let mut prev = vec![0u8; 32];
    let (mut text, mut hashes) = (String::new(), Vec::new());
    for seq in 1..=2 {
        let json = event(seq).to_json(&format!("e{seq}"));
        prev = chain_hash(&prev, seq, json.as_bytes()).to_vec();
        hashes.extend_from_slice(&prev);
        text += &json;
        text.push('\n');
    }
    let old = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit_blocks (first_seq, last_seq, first_time_ms, last_time_ms, events, hashes) \
         VALUES (1, 2, 0, 9999999999999, ?, ?)",
    )
    .bind(&text)
    .bind(&hashes)
    .execute(&old)
    .await
    .unwrap();
    // As migration 0009 found it: blocks before seq 3 are not in the
    // account index, and lookups scan them.
    sqlx::query("UPDATE meta SET value = 3 WHERE name = 'audit-accounts-indexed-from'")
        .execute(&old)
        .await
        .unwrap();
    old.close().await;
    let mut blocks = vec![AuditBlock {
        first_seq: 1,
        last_seq: 2,
        first_time_ms: 0,
        last_time_ms: 9_999_999_999_999,
        encoding: 1,
        events: text.into_bytes(),
        hashes,
        accounts: Vec::new(),
    }];
    // Then compact blocks (the current encoding).
    let mut next = 3;
    for batch in [3i64, 1, 5] {
        let events: Vec<AuditEvent> = (next..next + batch).map(event).collect();
        let mut encoder = BlockEncoder::new([1; 8]);
        for (e, seq) in events.iter().zip(next..) {
            prev = encoder.push(e, seq, &prev).to_vec();
        }
        let block = encoder.into_block(next).unwrap();
        assert_eq!(block.last_seq, next + batch - 1);
        // Both kinds of commit: durable (a mutation waits) and not.
        let durable = batch == 1;
        store
            .append_audit(Some(block.clone()), None, &[], None, durable)
            .await
            .unwrap();
        blocks.push(block);
        next += batch;
    }
    let mut all = Vec::new();
    let mut decoder = BlockDecoder::default();
    for b in &blocks {
        let before = all
            .last()
            .map_or(vec![0; 32], |r: &trent_core::audit::AuditRecord| {
                r.hash.clone()
            });
        all.extend(decoder.block(b, &before));
    }
    assert_eq!(all.len(), 11);
    assert_eq!(all[1].event_id, "e2");
    for after in 0..=all.len() {
        for limit in [1, 2, 4, 100] {
            let page = store.audit_events(after as i64, limit).await.unwrap();
            let expected: Vec<_> = all.iter().skip(after).take(limit).cloned().collect();
            assert_eq!(page, expected, "after {after}, limit {limit}");
        }
    }
    let tail = store.audit_tail().await.unwrap().last_event.unwrap();
    assert_eq!(tail, (11, prev));

    // Key usage: many keys in one upsert, then some of them again; ids
    // that are UUIDs (stored as 16 bytes) and ids that are not (as text).
    use trent_core::audit::usage::{Id, KeyUsage, Usage};
    let usage = |n: u128, operation: &str| {
        let event_id = match n % 3 {
            0 => Id::Text(format!("e{n}").into()),
            _ => Id::Uuid(uuid::Uuid::from_u128(n << 64)),
        };
        Usage::new(
            operation,
            n as i64,
            event_id,
            n.is_multiple_of(2).then(|| Id::parse(&format!("r{n}"))),
        )
        .unwrap()
    };
    let row = |n: u128, operation: &str| KeyUsage {
        key_id: uuid::Uuid::from_u128(n),
        last: usage(n, operation),
    };
    assert_eq!(store.audit_tail().await.unwrap().usage_through, 0);
    let first: Vec<KeyUsage> = (1..=1200).map(|n| row(n, "Encrypt")).collect();
    store
        .append_audit(None, None, &first, None, false)
        .await
        .unwrap();
    let again: Vec<KeyUsage> = (1000..=1002).map(|n| row(n, "Decrypt")).collect();
    store
        .append_audit(None, None, &again, Some(11), true)
        .await
        .unwrap();
    assert_eq!(store.audit_tail().await.unwrap().usage_through, 11);
    for (n, operation) in [
        (1, "Encrypt"),
        (999, "Encrypt"),
        (1001, "Decrypt"),
        (1002, "Decrypt"),
        (1200, "Encrypt"),
    ] {
        let got = store
            .key_last_usage(uuid::Uuid::from_u128(n))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, usage(n, operation));
    }
    assert_eq!(
        store
            .key_last_usage(uuid::Uuid::from_u128(5000))
            .await
            .unwrap(),
        None
    );
    // A deleted key's usage goes with it.
    store.delete_key(uuid::Uuid::from_u128(999)).await.unwrap();
    assert_eq!(
        store
            .key_last_usage(uuid::Uuid::from_u128(999))
            .await
            .unwrap(),
        None
    );

    // Every page, following NextToken: after a full page's last event, or
    // where a page the budget cut short stopped.
    async fn all_pages(store: &dyn Store, mut query: AuditLookup) -> Vec<i64> {
        let mut seen = Vec::new();
        loop {
            let page = store.lookup_audit(&query).await.unwrap();
            seen.extend(page.records.iter().map(|r| r.seq));
            query.before_seq = match (page.records.last(), page.resume_before) {
                (Some(last), _) if page.records.len() == query.limit => Some(last.seq),
                (_, Some(resume)) => Some(resume),
                _ => break,
            };
        }
        seen
    }
    let mut query = AuditLookup {
        account: "111122223333".into(),
        attribute: Some((LookupAttribute::EventName, "Encrypt".into())),
        start_ms: None,
        end_ms: None,
        before_seq: None,
        limit: 2,
        budget: 20_000,
    };
    let seen = all_pages(&store, query.clone()).await;
    // A budget of one event decodes a block per call: the same events.
    let frugal = all_pages(
        &store,
        AuditLookup {
            budget: 1,
            ..query.clone()
        },
    )
    .await;
    assert_eq!(frugal, seen);
    // Another account's lookup decodes none of these (indexed) blocks.
    let other = store
        .lookup_audit(&AuditLookup {
            account: "999999999999".into(),
            ..query.clone()
        })
        .await
        .unwrap();
    assert!(other.records.is_empty());
    assert_eq!(seen, [11, 9, 7, 5, 3, 1]);
    query.before_seq = None;
    query.attribute = None;
    query.start_ms = trent_core::audit::parse_rfc3339_ms("2026-11-23T10:00:04Z");
    query.end_ms = trent_core::audit::parse_rfc3339_ms("2026-11-23T10:00:05Z");
    query.limit = 50;
    let page = store.lookup_audit(&query).await.unwrap();
    assert_eq!(
        page.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [5, 4]
    );
}
