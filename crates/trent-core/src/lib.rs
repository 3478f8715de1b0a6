//! The domain of Trent: KMS keys, their material, aliases and tags, and the
//! rules AWS KMS applies to them (key states, key usage, identifiers,
//! limits).
//!
//! [`Kms`] is the service: every operation takes a typed [`Caller`] and typed
//! arguments and answers with domain records or a [`KmsError`]. It keeps an
//! in-memory cache of unsealed keys so that the cryptographic operations
//! touch neither the disk nor a global lock.
//!
//! [`Identities`] holds accounts, IAM users, groups, roles and sessions;
//! `authz.rs` decides every request from key policies, IAM policies and
//! grants.
//!
//! Backends plug in through [`Store`] (persistence: [`KeyStore`],
//! [`IdentityStore`] and [`AuditStore`]) and [`RootKey`] (sealing of key
//! material).
//!
//! **Architecture invariant:** this crate never sees HTTP or JSON wire
//! framing; it uses `trent-wire` only for the model's enums.

pub mod audit;
mod authz;
pub mod clock;
mod error;
pub mod files;
mod iam;
mod ids;
mod markers;
mod model;
pub mod policy;
pub mod quotas;
pub mod rotation;
mod service;
pub mod stats;
mod store;

pub use error::KmsError;
pub use iam::{
    AccessKeyInfo, AccessKeyStatus, GroupInfo, IamError, Identities, NewAccessKey, PolicyOwner,
    RoleInfo, TempCredentials, UserInfo,
};
pub use ids::{KeyRef, alias_arn, is_family, key_arn, key_material_id, mrk_key_arn};
pub use model::{
    AliasRecord, Caller, Credential, DueWork, EntityKind, GrantPrincipal, GrantRecord, IamEntity,
    Identity, ImportedMaterial, KeyLastUsage, KeyRecord, MultiRegion, Page, PrincipalKind,
    RotationRecord, SessionRecord, Tag, now_millis,
};
pub use service::feed::{ChangeFeed, FeedStats, Freshness};
pub use service::{
    AliasMode, CreateGrant, CreateKey, DataKey, DataKeyPair, Decrypted, GRANT_OPERATIONS,
    GrantSelector, ImportMaterial, ImportParameters, KeyAlgorithms, Kms, KmsConfig, ListedAlias,
    ListedGrant, ListedMaterial, LookupEvents, ReEncrypted, ReplicateKey, SharedSecret,
    current_key_material_id, key_algorithms, material_id,
};
pub use store::timed::{STORE_METHODS, StoreWrapper, TimedStore};
pub use store::trail;
pub use store::{
    AuditStore, Change, ChangeStore, Changed, Connections, GrantLimits, IdentityStore,
    ImportedWrite, KeyStore, Limit, RootKey, RootKeyCheck, SealError, SealedMaterial, Store,
    StoreError, holds_sealed_data, verify_root_key,
};
