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
    assert_eq!(store.count_credentials("111122223333").await.unwrap(), 1);
    assert_eq!(store.count_credentials("444455556666").await.unwrap(), 0);
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

/// Audit events are stored a batch per block; reading from any position
/// gives each event once, in order, with the hash before it; the tail and
/// lookups (newest first, paged by seq) see across blocks.
#[tokio::test]
async fn audit_blocks_read_back_from_any_position() {
    use trent_core::audit::lookup::{AuditLookup, LookupAttribute};
    use trent_core::audit::{AuditRecord, chain_hash};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("trent.db"))
        .await
        .unwrap();
    assert!(store.audit_tail().await.unwrap().last_event.is_none());
    let mut prev = vec![0u8; 32];
    let mut all = Vec::new();
    for batch in [3usize, 1, 5] {
        let mut records = Vec::new();
        for _ in 0..batch {
            let seq = all.len() as i64 + records.len() as i64 + 1;
            let name = if seq % 2 == 0 { "Decrypt" } else { "Encrypt" };
            let json = format!(
                r#"{{"eventID":"e{seq}","eventName":"{name}","eventTime":"2026-11-23T10:00:{seq:02}Z","recipientAccountId":"111122223333"}}"#
            );
            let hash = chain_hash(&prev, seq, &json);
            records.push(AuditRecord::from_stored(
                seq,
                json,
                prev.clone(),
                hash.clone(),
            ));
            prev = hash;
        }
        store.append_audit(&records, None, &[]).await.unwrap();
        all.extend(records);
    }
    for after in 0..=all.len() {
        for limit in [1, 2, 4, 100] {
            let page = store.audit_events(after as i64, limit).await.unwrap();
            let expected: Vec<_> = all.iter().skip(after).take(limit).cloned().collect();
            assert_eq!(page, expected, "after {after}, limit {limit}");
        }
    }
    let tail = store.audit_tail().await.unwrap().last_event.unwrap();
    assert_eq!(tail, (9, prev));

    let mut query = AuditLookup {
        account: "111122223333".into(),
        attribute: Some((LookupAttribute::EventName, "Encrypt".into())),
        start_ms: None,
        end_ms: None,
        before_seq: None,
        limit: 2,
    };
    let mut seen = Vec::new();
    loop {
        let page = store.lookup_audit(&query).await.unwrap();
        seen.extend(page.iter().map(|r| r.seq));
        match page.last() {
            Some(last) if page.len() == query.limit => query.before_seq = Some(last.seq),
            _ => break,
        }
    }
    assert_eq!(seen, [9, 7, 5, 3, 1]);
    query.before_seq = None;
    query.attribute = None;
    query.start_ms = trent_core::audit::parse_rfc3339_ms("2026-11-23T10:00:04Z");
    query.end_ms = trent_core::audit::parse_rfc3339_ms("2026-11-23T10:00:05Z");
    query.limit = 50;
    let page = store.lookup_audit(&query).await.unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [5, 4]);
}
