//! Issue 14's findings that no client can provoke from outside: the key
//! service in process over a real SQLite store wrapped to fail on cue.

use std::sync::{Arc, Mutex};
use trent_core::{
    Caller, CreateGrant, CreateKey, GrantPrincipal, Identities, Kms, KmsConfig, STORE_METHODS,
    Store, StoreError, StoreWrapper,
};

/// A store whose method `fail` (by name) fails while it is set.
struct FailingStore {
    inner: Arc<dyn Store>,
    fail: Mutex<Option<&'static str>>,
}

impl StoreWrapper for FailingStore {
    fn inner(&self) -> &dyn Store {
        self.inner.as_ref()
    }

    fn before(&self, method: usize) -> Result<(), StoreError> {
        match *self.fail.lock().unwrap() {
            Some(name) if STORE_METHODS[method] == name => Err(StoreError::Backend(
                format!("{name} fails (injected)").into(),
            )),
            _ => Ok(()),
        }
    }
}

/// Finding 12: RevokeGrant deleted the grant, then read the key's grants
/// again to publish them to the key cache; when that read failed, the
/// cache kept the revoked grant, which went on authorizing its grantee.
/// Now the cache is updated from the list it holds, with nothing that can
/// fail after the store's delete commits.
#[tokio::test]
async fn a_revoked_grant_leaves_the_key_cache_even_if_the_store_fails_after_the_delete() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = trent_store::SqliteStore::open(&dir.path().join("trent.db"))
        .await
        .unwrap();
    let store = Arc::new(FailingStore {
        inner: Arc::new(sqlite),
        fail: Mutex::new(None),
    });
    let root: Arc<dyn trent_core::RootKey> =
        Arc::new(trent_seal::FileRootKey::open_or_create(&dir.path().join("root.key")).unwrap());
    let identities = Arc::new(Identities::new(store.clone(), root.clone()));
    let account = "111122223333";
    identities
        .bootstrap_account(account, ("AKIAHARDENINGTEST001", "secret"))
        .await
        .unwrap();
    let identity = identities
        .lookup("AKIAHARDENINGTEST001")
        .await
        .unwrap()
        .unwrap();
    let caller = Caller::new(identity, "us-east-1", None, false);
    let kms = Kms::open(
        store.clone(),
        root,
        identities,
        KmsConfig::default(),
        Arc::new(trent_core::clock::SystemClock),
    )
    .await
    .unwrap();
    let key = kms
        .create_key(&caller, CreateKey::default())
        .await
        .unwrap()
        .id
        .to_string();
    let (_, grant_id) = kms
        .create_grant(
            &caller,
            CreateGrant {
                key_id: key.clone(),
                grantee: GrantPrincipal::Iam(format!("arn:aws:iam::{account}:root")),
                retiring: None,
                operations: vec!["Encrypt".into()],
                context_equals: None,
                context_subset: None,
                source_arn: None,
                name: None,
            },
            false,
        )
        .await
        .unwrap();
    // The key's grants cannot be read from the store any more.
    *store.fail.lock().unwrap() = Some("list_grants");
    let revoked = kms.revoke_grant(&caller, &key, &grant_id, false).await;
    // (ListGrants answers from the key cache.)
    let listed = kms
        .list_grants(&caller, &key, None, None, 50, None)
        .await
        .unwrap();
    assert!(
        listed.items.iter().all(|g| g.grant.grant_id != grant_id),
        "the key cache still holds the revoked grant"
    );
    revoked.expect("the revocation is committed and published");
}
