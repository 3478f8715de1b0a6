use crate::model::{
    AliasRecord, Credential, DueWork, EntityKind, GrantRecord, IamEntity, KeyRecord, RotationRecord,
};
use async_trait::async_trait;
use uuid::Uuid;
use zeroize::Zeroizing;

pub use crate::model::SealedMaterialRow as SealedMaterial;

pub mod timed;
pub mod trail;

use trail::{AuditBlock, AuditDigest, AuditTail, KeyUsage, Usage};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint refused the write (e.g. an alias name taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed; the transaction was rolled back.
    #[error("store backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A row could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The insert would take its scope past the most it may hold; nothing
    /// was written. `held`: how many the scope holds.
    #[error("{limit:?} limit reached: {held} held")]
    Full { limit: Limit, held: u64 },
}

/// A resource quota the store keeps, across every process writing to it:
/// the insert and the count it is checked against are one transaction, and
/// two processes inserting into one scope at once end as some serial order
/// would (one of them is refused when one place was left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Keys of one account in one Region (every state counts).
    Keys,
    /// Aliases pointing at one key.
    AliasesOfKey,
    /// Grants on one key.
    GrantsOfKey,
    /// Grants on one key to one grantee principal.
    GrantsOfGrantee,
}

/// One key's part of [`KeyStore::write_imported`].
#[derive(Clone, Copy)]
pub struct ImportedWrite<'a> {
    /// The key as it is to be.
    pub key: &'a KeyRecord,
    /// The key as the writer read it.
    pub previous: &'a KeyRecord,
    /// A material version to store.
    pub put: Option<&'a SealedMaterial>,
    /// Versions whose sealed material is destroyed.
    pub destroy: &'a [u32],
}

impl<'a> ImportedWrite<'a> {
    /// The key rewritten, no sealed material stored or destroyed.
    pub fn rewrite(key: &'a KeyRecord, previous: &'a KeyRecord) -> Self {
        Self {
            key,
            previous,
            put: None,
            destroy: &[],
        }
    }
}

/// The most grants a key may hold, in all and to one grantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantLimits {
    pub per_key: u64,
    pub per_grantee: u64,
}

impl GrantLimits {
    /// No limit: for copying a store whose grants were limited already.
    pub const NONE: Self = Self {
        per_key: u64::MAX,
        per_grantee: u64::MAX,
    };
}

/// Persistence, split by what it keeps: [`KeyStore`] (keys with their
/// material, aliases, grants, the server's named values), [`IdentityStore`]
/// (accounts, IAM entities, access keys), [`AuditStore`] (the trail) and
/// [`ChangeStore`] (the feed of changes other processes' caches follow).
/// A backend implements all four; [`Store`] is the four together.
///
/// What every method of every backend promises:
/// - **Atomic**: one transaction; it happens whole or not at all, also when
///   the process is killed in the middle.
/// - **Durable**: when it returns `Ok`, the change survives `kill -9` of
///   Trent and of the machine (except `append_audit` with `durable:
///   false`, which survives Trent being killed only).
/// - **Several writers**: several Trent processes may call any method at
///   once on one store. A method's outcome is that of some serial order of
///   the calls: an insert that a uniqueness rule refuses answers
///   [`StoreError::Conflict`] and changes nothing; a read sees only
///   committed changes. Nothing is cached by the backend: a read after
///   another process's committed write sees that write.
/// - **No domain logic**: a backend stores and finds rows. Decoding the
///   trail, matching events, deciding what a change means: the domain
///   does that, once, for every backend.
///
/// The store suite (`trent-store/src/tests.rs`) calls every method, on
/// every backend.
pub trait Store: KeyStore + IdentityStore + AuditStore + ChangeStore {}

impl<T: KeyStore + IdentityStore + AuditStore + ChangeStore + ?Sized> Store for T {}

/// Keys with their sealed material, rotations and deletion tombstones;
/// aliases; grants; the server's named values.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// A new key with its first material version. `Conflict` if the id
    /// exists; `Full` if its account already holds `max_keys` keys in its
    /// Region ([`Limit::Keys`]).
    async fn insert_key(
        &self,
        key: &KeyRecord,
        material: &SealedMaterial,
        max_keys: u64,
    ) -> Result<(), StoreError>;
    /// A new key without material (Origin EXTERNAL, pending import), as
    /// [`Self::insert_key`] otherwise.
    async fn insert_key_without_material(
        &self,
        key: &KeyRecord,
        max_keys: u64,
    ) -> Result<(), StoreError>;
    /// A multi-Region replica with every material version of its primary
    /// `primary` (sealed for the replica), in one transaction; as
    /// [`Self::insert_key`] otherwise (`Conflict`, `Full`). Also `Conflict`
    /// if the primary has a newer version than those given (a rotation
    /// committed meanwhile): ordered against [`Self::rotate_family`], so no
    /// replica ever lacks a version of its primary.
    async fn insert_replica(
        &self,
        key: &KeyRecord,
        primary: Uuid,
        materials: &[SealedMaterial],
        max_keys: u64,
    ) -> Result<(), StoreError>;
    /// The keys of a multi-Region family in an account (primary and
    /// replicas, every Region), by Region.
    async fn related_keys(&self, account: &str, family: Uuid)
    -> Result<Vec<KeyRecord>, StoreError>;
    /// Imported material, its rotation, deletion and expiry, in one
    /// transaction, for one key or several (the keys of a multi-Region
    /// family rotate, and lose material pending rotation, together). For
    /// each write: rewrites the key as [`Self::update_key`] does
    /// (`Conflict`, and nothing written, if it is no longer `previous`, or
    /// its imported materials are no longer `previous.imported`), makes its
    /// imported materials `key.imported`, stores `put` (replacing that
    /// version's sealed material if it has one) and destroys the sealed
    /// material of each version in `destroy` (overwritten before its row is
    /// removed, as [`Self::delete_key`] does).
    async fn write_imported(&self, writes: &[ImportedWrite<'_>]) -> Result<(), StoreError>;
    async fn get_key(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError>;
    /// Rewrites every mutable column of the key (state, description, policy,
    /// tags, rotation, deletion), if it is still `previous` (as the caller
    /// read it): `Conflict`, and nothing written, when another writer
    /// changed it meanwhile or it is gone. Two processes that read, change
    /// and write back a key at once end as some serial order would.
    async fn update_key(&self, key: &KeyRecord, previous: &KeyRecord) -> Result<(), StoreError>;
    /// Keys of one account and region in creation order, after `after`.
    async fn list_keys(
        &self,
        account: &str,
        region: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(Uuid, String)>, StoreError>;
    /// Every material version of a key, in version order.
    async fn key_materials(&self, id: Uuid) -> Result<Vec<SealedMaterial>, StoreError>;
    /// How many keys (in every state) the account holds in the Region:
    /// what `insert_key` holds `max_keys` against.
    async fn count_keys(&self, account: &str, region: &str) -> Result<u64, StoreError>;
    /// Keys after `after` in creation order (all accounts), each with its
    /// sealed material and grants: the cache warm-up's bulk read.
    async fn load_keys(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(KeyRecord, Vec<SealedMaterial>, Vec<GrantRecord>)>, StoreError>;
    /// Adds a material version, records the rotation and rewrites the key
    /// (its `current_material` and next rotation date), in one transaction.
    /// `Conflict` if the version exists (another writer rotated first).
    async fn rotate_key(
        &self,
        key: &KeyRecord,
        material: &SealedMaterial,
        rotation: &RotationRecord,
    ) -> Result<(), StoreError>;
    /// [`Self::rotate_key`] for every key of a multi-Region family at
    /// once (its primary and each replica, each with its own sealed copy of
    /// the new version), in one transaction: `Conflict`, and nothing
    /// written, if any of them has the version already, or the family has
    /// a key not among them (a replica inserted meanwhile). The first is
    /// the primary.
    async fn rotate_family(
        &self,
        rotations: &[(KeyRecord, SealedMaterial, RotationRecord)],
    ) -> Result<(), StoreError>;
    /// [`Self::update_key`] for several keys (each `(key, previous)`) in one
    /// transaction: `Conflict`, and nothing written, if any of them is no
    /// longer its `previous` (UpdatePrimaryRegion's swap of roles).
    async fn update_keys(&self, keys: &[(KeyRecord, KeyRecord)]) -> Result<(), StoreError>;
    /// A key's rotations, in version order.
    async fn list_rotations(&self, id: Uuid) -> Result<Vec<RotationRecord>, StoreError>;
    /// Deletes a key for good, in one transaction: its material, aliases,
    /// grants and rotations; leaves a tombstone. The material's bytes are
    /// overwritten before the rows are removed, and the backend does what
    /// it can so that no copy of them outlives the call on its own pages
    /// (each backend says how, and where that ends, in ARCHITECTURE.md).
    /// Whether the key was there: of several processes deleting it at
    /// once, exactly one is told `true` (deleting a key that is gone is
    /// not an error).
    async fn delete_key(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Whether a key id names a key that was deleted.
    async fn key_was_deleted(&self, id: Uuid) -> Result<bool, StoreError>;
    /// Rotations, deletions and expiries of imported material due at
    /// `now_ms`; also, as `Delete`, multi-Region primaries in
    /// PendingReplicaDeletion that have no replica left.
    async fn due_work(&self, now_ms: i64) -> Result<Vec<DueWork>, StoreError>;
    /// A named secret of the server (sealed by the caller), created once:
    /// returns the stored value, or stores and returns `candidate`. Of
    /// several processes calling at once, all get the one value stored.
    async fn meta_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// A named value of the server's, if stored.
    async fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every alias of every account.
    async fn all_aliases(&self) -> Result<Vec<AliasRecord>, StoreError>;
    async fn get_alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<AliasRecord>, StoreError>;
    /// `Conflict` when the name is taken in its account and region; `Full`
    /// when its target already has `max_per_key` aliases
    /// ([`Limit::AliasesOfKey`]).
    async fn insert_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError>;
    /// Points an existing alias at its (new) target key; `Full` when that
    /// key already has `max_per_key` other aliases.
    async fn update_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError>;
    /// Deleting an alias that is gone is not an error.
    async fn delete_alias(&self, account: &str, region: &str, name: &str)
    -> Result<(), StoreError>;

    /// `Conflict` when the grant id exists; `Full` when its key already
    /// has `limits.per_key` grants, or `limits.per_grantee` to its grantee.
    async fn insert_grant(
        &self,
        grant: &GrantRecord,
        limits: GrantLimits,
    ) -> Result<(), StoreError>;
    /// A key's grants, in creation order.
    async fn list_grants(&self, key_id: Uuid) -> Result<Vec<GrantRecord>, StoreError>;
    async fn find_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError>;
    /// Grants whose retiring principal is `principal`, across keys.
    async fn list_retirable_grants(&self, principal: &str) -> Result<Vec<GrantRecord>, StoreError>;
    /// Whether the grant was there (of two concurrent deletes, one sees
    /// `true`).
    async fn delete_grant(&self, key_id: Uuid, grant_id: &str) -> Result<bool, StoreError>;
}

/// Accounts, IAM users, groups and roles with their inline policies and
/// memberships, and access keys (long-term and temporary).
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// `Conflict` when the access key id exists.
    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError>;
    async fn get_credential(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError>;
    /// Long-term access keys of one IAM user (`None`: the root's).
    async fn list_credentials(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<Credential>, StoreError>;
    async fn set_credential_active(
        &self,
        access_key_id: &str,
        active: bool,
    ) -> Result<(), StoreError>;
    /// Whether the key was there.
    async fn delete_credential(&self, access_key_id: &str) -> Result<bool, StoreError>;

    /// Creates an account, with its root's first access key if given, in
    /// one transaction: `Conflict` (and nothing stored) if the account or
    /// the access key id exists.
    async fn insert_account(
        &self,
        account: &str,
        root_key: Option<&Credential>,
    ) -> Result<(), StoreError>;
    async fn account_exists(&self, account: &str) -> Result<bool, StoreError>;

    /// `Conflict` when the name is taken (for its kind, in its account) or
    /// the entity id exists.
    async fn insert_entity(&self, entity: &IamEntity) -> Result<(), StoreError>;
    async fn get_entity(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<Option<IamEntity>, StoreError>;
    /// An account's entities of one kind, by name.
    async fn list_entities(
        &self,
        account: &str,
        kind: EntityKind,
    ) -> Result<Vec<IamEntity>, StoreError>;
    /// Whether the entity was there. Its policies and memberships are the
    /// caller's to remove first.
    async fn delete_entity(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<bool, StoreError>;
    /// Creates or replaces an inline policy.
    async fn put_policy(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
        name: &str,
        document: &str,
    ) -> Result<(), StoreError>;
    /// Inline policies of an owner as (name, document), by name.
    async fn list_policies(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Whether the policy was there.
    async fn delete_policy(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
        name: &str,
    ) -> Result<bool, StoreError>;
    /// `Conflict` if the user is a member already.
    async fn add_group_member(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), StoreError>;
    /// Whether the user was a member.
    async fn remove_group_member(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<bool, StoreError>;
    /// A user's groups, by name.
    async fn groups_of_user(&self, account: &str, user: &str) -> Result<Vec<String>, StoreError>;
    /// A group's members, by name.
    async fn members_of_group(&self, account: &str, group: &str)
    -> Result<Vec<String>, StoreError>;
}

/// The audit trail as the store keeps it: blocks of encoded events (the
/// audit module encodes, decodes and matches them), signed digests, and
/// each key's last usage.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends a block of audit events (continuing the trail) and,
    /// optionally, a digest, and records the keys' last usage (and, if
    /// given, the seq it covers the events through), in one transaction.
    /// `Conflict` if the block's or the digest's seq is taken. `durable`:
    /// someone waits for it (a mutation's event), so it is on disk when
    /// this returns; otherwise it survives the process being killed but
    /// may wait for a later sync to survive power loss. A key's usage
    /// replaces the stored one only if it is not older: of several
    /// writers storing usage of one key, the latest use stays.
    async fn append_audit(
        &self,
        block: Option<AuditBlock>,
        digest: Option<&AuditDigest>,
        usage: &[KeyUsage],
        usage_through: Option<i64>,
        durable: bool,
    ) -> Result<(), StoreError>;
    /// The stored blocks whose `last_seq >= from_seq`, in seq order, at
    /// most `limit` (their `accounts` empty).
    async fn audit_blocks(
        &self,
        from_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditBlock>, StoreError>;
    /// The blocks with `first_seq < before_seq` whose time range overlaps
    /// `start_ms..=end_ms` and that may hold events filed into `account`
    /// (a block stored before the backend indexed accounts may), newest
    /// first, at most `limit`.
    async fn audit_blocks_of_account(
        &self,
        account: &str,
        before_seq: i64,
        start_ms: i64,
        end_ms: i64,
        limit: usize,
    ) -> Result<Vec<AuditBlock>, StoreError>;
    /// A key's last successful cryptographic operation, as stored.
    async fn key_last_usage(&self, key_id: Uuid) -> Result<Option<Usage>, StoreError>;
    /// Audit digests with `seq > after_seq`, in seq order.
    async fn audit_digests(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditDigest>, StoreError>;
    /// The last event and the last digest.
    async fn audit_tail(&self) -> Result<AuditTail, StoreError>;
}

/// What a change to the store touched, for the caches of the processes
/// that share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// A key's row, its material versions (a rotation), or its grants.
    Key(Uuid),
    /// One alias (`account`, `region`, `alias/name`).
    Alias {
        account: String,
        region: String,
        name: String,
    },
    /// An account's identities: accounts, access keys, IAM users, groups,
    /// roles, their policies and memberships.
    Identity { account: String },
}

/// A connection pool's state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Connections {
    /// Open connections, in use or idle.
    pub open: u32,
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Increasing in commit order: every change with a smaller id was
    /// committed before this one was made.
    pub id: i64,
    /// When it was committed (Unix ms, the database's clock).
    pub at_ms: i64,
    pub changed: Changed,
}

/// The feed of changes: every write that may leave another process's cache
/// stale appends an entry in the same transaction, made by the database
/// itself (triggers), so no writer, not even a hand-made one, can forget
/// it. A process follows the feed from the id it last saw.
///
/// What is fed: a key's update or deletion, a new material version (past
/// the first), a grant made or removed; an alias made, changed or removed;
/// any change to accounts, access keys, IAM entities, their policies and
/// group memberships. A new key is not fed (no cache holds it yet).
#[async_trait]
pub trait ChangeStore: Send + Sync + 'static {
    /// The id of the newest change (0: none).
    async fn last_change(&self) -> Result<i64, StoreError>;
    /// Changes with `id > after`, in id order, at most `limit`. Ids only
    /// grow in commit order, so a reader that has seen `after` misses
    /// nothing by asking for what follows it.
    async fn changes_after(&self, after: i64, limit: usize) -> Result<Vec<Change>, StoreError>;
    /// Forgets changes committed before `before_ms`; how many.
    async fn prune_changes(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Returns when a change may have been committed (PostgreSQL's
    /// LISTEN/NOTIFY), or after `timeout` at the latest (a backend without
    /// notifications just waits). Never a promise that something changed.
    async fn wait_for_change(&self, timeout: std::time::Duration) -> Result<(), StoreError> {
        tokio::time::sleep(timeout).await;
        Ok(())
    }
    /// This process's connections to the database several processes
    /// share, for `/metrics` (`None`: the backend keeps no pool of them).
    fn connections(&self) -> Option<Connections> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed data failed authentication under the root key")]
    Unauthentic,
    #[error("root key unavailable: {0}")]
    Unavailable(String),
}

/// The key that seals all key material and secrets at rest. `aad` binds the
/// sealed bytes to their owner (key id and version, access key id).
pub trait RootKey: Send + Sync + 'static {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError>;
    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError>;
}

/// Why a root key cannot be used with a store.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyCheck {
    #[error(
        "the root key does not open this store: it is not the key this store's material was sealed under"
    )]
    Mismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Name of the check value in the store's `meta` table.
pub(crate) const ROOT_KEY_CHECK: &str = "root-key-check";
pub(crate) const ROOT_KEY_CHECK_AAD: &[u8] = b"meta:root-key-check";

/// Whether `store` holds data sealed under some root key (its check value,
/// or the first secret every store has): a store that does is never given
/// a new root key.
pub async fn holds_sealed_data(store: &dyn Store) -> Result<bool, StoreError> {
    Ok(store.meta(ROOT_KEY_CHECK).await?.is_some()
        || store
            .meta(crate::rotation::MARKER_KEY_META)
            .await?
            .is_some())
}

/// Checks that `root` is the root key `store` was sealed under, by a check
/// value sealed under it (no real key is unsealed for it), stored at the
/// first start. A store from before the check value is checked with the
/// first secret every store has (the pagination-marker key) and given its
/// check value then.
pub async fn verify_root_key(store: &dyn Store, root: &dyn RootKey) -> Result<(), RootKeyCheck> {
    let opens = |aad: &[u8], sealed: &[u8]| match root.unseal(aad, sealed) {
        Ok(_) => Ok(()),
        Err(SealError::Unauthentic) => Err(RootKeyCheck::Mismatch),
        Err(e) => Err(RootKeyCheck::Seal(e)),
    };
    if let Some(sealed) = store.meta(ROOT_KEY_CHECK).await? {
        return opens(ROOT_KEY_CHECK_AAD, &sealed);
    }
    if let Some(sealed) = store.meta(crate::rotation::MARKER_KEY_META).await? {
        opens(crate::rotation::MARKER_KEY_AAD, &sealed)?;
    }
    let mut value = Zeroizing::new([0u8; 32]);
    trent_crypto::random_bytes(value.as_mut())
        .map_err(|_| RootKeyCheck::Seal(SealError::Unavailable("no randomness".into())))?;
    let candidate = root.seal(ROOT_KEY_CHECK_AAD, value.as_ref())?;
    let stored = store.meta_secret(ROOT_KEY_CHECK, &candidate).await?;
    opens(ROOT_KEY_CHECK_AAD, &stored)
}
