//! Stores that wrap another: [`StoreWrapper`] says what a wrapper adds
//! around each call, and the [`Store`] implementation that delegates to the
//! wrapped store is generated from the trait's signatures, so a wrapper
//! is a few lines. [`TimedStore`] times every call for `GET /metrics`;
//! tests wrap a store to make one method fail on cue.

use super::trail::{AuditBlock, AuditDigest, AuditTail, KeyUsage, Usage};
use super::{
    AuditStore, Change, ChangeStore, Connections, GrantLimits, IdentityStore, ImportedWrite,
    KeyStore, SealedMaterial, Store, StoreError,
};
use crate::model::{
    AliasRecord, Credential, DueWork, EntityKind, GrantRecord, IamEntity, KeyRecord, RotationRecord,
};
use crate::stats::Histogram;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What a store that wraps another adds around each of its calls.
pub trait StoreWrapper: Send + Sync {
    /// The wrapped store.
    fn inner(&self) -> &dyn Store;
    /// Before a call of the method `STORE_METHODS[method]`: an error is the
    /// call's answer, and the wrapped store is not called.
    fn before(&self, method: usize) -> Result<(), StoreError> {
        let _ = method;
        Ok(())
    }
    /// After the call, with how long the wrapped store took.
    fn after(&self, method: usize, elapsed: Duration) {
        let _ = (method, elapsed);
    }
}

/// The wrapped store and a latency histogram per method.
pub struct TimedStore {
    inner: Arc<dyn Store>,
    latency: Box<[Histogram]>,
}

impl TimedStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            latency: STORE_METHODS.iter().map(|_| Histogram::default()).collect(),
        }
    }

    /// Each method's name and latency, in the trait's order.
    pub fn latencies(&self) -> impl Iterator<Item = (&'static str, &Histogram)> {
        STORE_METHODS.iter().copied().zip(self.latency.iter())
    }
}

impl StoreWrapper for TimedStore {
    fn inner(&self) -> &dyn Store {
        self.inner.as_ref()
    }

    fn after(&self, method: usize, elapsed: Duration) {
        self.latency[method].observe(elapsed);
    }
}

/// Implements the store traits for every [`StoreWrapper`] from their
/// signatures: each method runs the wrapper's `before`, the wrapped
/// store's method, then the wrapper's `after`; a `sync` one (no I/O, not
/// timed) answers what the wrapped store answers.
macro_rules! wrapped {
    ($($store:ident {
        $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*
        $(sync fn $sync:ident(&self) -> $sret:ty;)*
    })*) => {
        /// The methods, as indexes of [`STORE_METHODS`].
        #[allow(non_camel_case_types)]
        enum Method {
            $($($name,)*)*
        }

        /// The store methods' names, trait by trait, in each trait's order.
        pub const STORE_METHODS: &[&str] = &[$($(stringify!($name),)*)*];

        $(
            #[async_trait]
            impl<W: StoreWrapper + 'static> $store for W {
                $(
                    async fn $name(&self $(, $arg: $ty)*) -> $ret {
                        let method = Method::$name as usize;
                        self.before(method)?;
                        let started = Instant::now();
                        let result = self.inner().$name($($arg),*).await;
                        self.after(method, started.elapsed());
                        result
                    }
                )*
                $(
                    fn $sync(&self) -> $sret {
                        self.inner().$sync()
                    }
                )*
            }
        )*
    };
}

wrapped! {
    KeyStore {
    fn insert_key(&self, key: &KeyRecord, material: &SealedMaterial, max_keys: u64) -> Result<(), StoreError>;
    fn insert_key_without_material(&self, key: &KeyRecord, max_keys: u64) -> Result<(), StoreError>;
    fn insert_replica(&self, key: &KeyRecord, primary: Uuid, materials: &[SealedMaterial], max_keys: u64)
        -> Result<(), StoreError>;
    fn related_keys(&self, account: &str, family: Uuid) -> Result<Vec<KeyRecord>, StoreError>;
    fn write_imported(&self, writes: &[ImportedWrite<'_>]) -> Result<(), StoreError>;
    fn get_key(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError>;
    fn update_key(&self, key: &KeyRecord, previous: &KeyRecord) -> Result<(), StoreError>;
    fn list_keys(&self, account: &str, region: &str, after: Option<Uuid>, limit: usize)
        -> Result<Vec<(Uuid, String)>, StoreError>;
    fn key_materials(&self, id: Uuid) -> Result<Vec<SealedMaterial>, StoreError>;
    fn count_keys(&self, account: &str, region: &str) -> Result<u64, StoreError>;
    fn load_keys(&self, after: Option<Uuid>, limit: usize)
        -> Result<Vec<(KeyRecord, Vec<SealedMaterial>, Vec<GrantRecord>)>, StoreError>;
    fn rotate_key(&self, key: &KeyRecord, material: &SealedMaterial, rotation: &RotationRecord)
        -> Result<(), StoreError>;
    fn rotate_family(&self, rotations: &[(KeyRecord, SealedMaterial, RotationRecord)])
        -> Result<(), StoreError>;
    fn update_keys(&self, keys: &[(KeyRecord, KeyRecord)]) -> Result<(), StoreError>;
    fn list_rotations(&self, id: Uuid) -> Result<Vec<RotationRecord>, StoreError>;
    fn delete_key(&self, id: Uuid) -> Result<bool, StoreError>;
    fn key_was_deleted(&self, id: Uuid) -> Result<bool, StoreError>;
    fn due_work(&self, now_ms: i64) -> Result<Vec<DueWork>, StoreError>;
    fn meta_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn all_aliases(&self) -> Result<Vec<AliasRecord>, StoreError>;
    fn get_alias(&self, account: &str, region: &str, name: &str) -> Result<Option<AliasRecord>, StoreError>;
    fn insert_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError>;
    fn update_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError>;
    fn delete_alias(&self, account: &str, region: &str, name: &str) -> Result<(), StoreError>;
    fn insert_grant(&self, grant: &GrantRecord, limits: GrantLimits) -> Result<(), StoreError>;
    fn list_grants(&self, key_id: Uuid) -> Result<Vec<GrantRecord>, StoreError>;
    fn find_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError>;
    fn list_retirable_grants(&self, principal: &str) -> Result<Vec<GrantRecord>, StoreError>;
    fn delete_grant(&self, key_id: Uuid, grant_id: &str) -> Result<bool, StoreError>;
    }
    IdentityStore {
    fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError>;
    fn get_credential(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError>;
    fn list_credentials(&self, account: &str, user: Option<&str>)
        -> Result<Vec<Credential>, StoreError>;
    fn set_credential_active(&self, access_key_id: &str, active: bool) -> Result<(), StoreError>;
    fn delete_credential(&self, access_key_id: &str) -> Result<bool, StoreError>;
    fn insert_account(&self, account: &str, root_key: Option<&Credential>)
        -> Result<(), StoreError>;
    fn account_exists(&self, account: &str) -> Result<bool, StoreError>;
    fn insert_entity(&self, entity: &IamEntity) -> Result<(), StoreError>;
    fn get_entity(&self, account: &str, kind: EntityKind, name: &str)
        -> Result<Option<IamEntity>, StoreError>;
    fn list_entities(&self, account: &str, kind: EntityKind) -> Result<Vec<IamEntity>, StoreError>;
    fn delete_entity(&self, account: &str, kind: EntityKind, name: &str) -> Result<bool, StoreError>;
    fn put_policy(&self, account: &str, kind: EntityKind, owner: &str, name: &str, document: &str)
        -> Result<(), StoreError>;
    fn list_policies(&self, account: &str, kind: EntityKind, owner: &str)
        -> Result<Vec<(String, String)>, StoreError>;
    fn delete_policy(&self, account: &str, kind: EntityKind, owner: &str, name: &str)
        -> Result<bool, StoreError>;
    fn add_group_member(&self, account: &str, group: &str, user: &str) -> Result<(), StoreError>;
    fn remove_group_member(&self, account: &str, group: &str, user: &str)
        -> Result<bool, StoreError>;
    fn groups_of_user(&self, account: &str, user: &str) -> Result<Vec<String>, StoreError>;
    fn members_of_group(&self, account: &str, group: &str) -> Result<Vec<String>, StoreError>;
    }
    AuditStore {
    fn append_audit(
        &self,
        block: Option<AuditBlock>,
        digest: Option<&AuditDigest>,
        usage: &[KeyUsage],
        usage_through: Option<i64>,
        durable: bool
    ) -> Result<(), StoreError>;
    fn audit_blocks(&self, from_seq: i64, limit: usize) -> Result<Vec<AuditBlock>, StoreError>;
    fn audit_blocks_of_account(&self, account: &str, before_seq: i64, start_ms: i64, end_ms: i64, limit: usize)
        -> Result<Vec<AuditBlock>, StoreError>;
    fn key_last_usage(&self, key_id: Uuid) -> Result<Option<Usage>, StoreError>;
    fn audit_digests(&self, after_seq: i64, limit: usize) -> Result<Vec<AuditDigest>, StoreError>;
    fn audit_tail(&self) -> Result<AuditTail, StoreError>;
    }
    ChangeStore {
    fn last_change(&self) -> Result<i64, StoreError>;
    fn changes_after(&self, after: i64, limit: usize) -> Result<Vec<Change>, StoreError>;
    fn prune_changes(&self, before_ms: i64) -> Result<u64, StoreError>;
    fn wait_for_change(&self, timeout: std::time::Duration) -> Result<(), StoreError>;
    sync fn connections(&self) -> Option<Connections>;
    }
}
