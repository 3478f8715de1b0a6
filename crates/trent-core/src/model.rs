use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use trent_policy::Policy;
use trent_wire::{
    ExpirationModelType, ImportState, KeyMaterialState, KeySpec, KeyState, KeyUsageType,
    OriginType, RotationType,
};
use uuid::Uuid;
use zeroize::Zeroizing;

/// What kind of principal an identity is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root identity: not subject to IAM policies.
    Root,
    User,
    /// A session of an assumed role; `role_arn` is the role's IAM ARN.
    AssumedRole {
        role_arn: String,
    },
}

/// An authenticated identity: an access key's owner, with the compiled IAM
/// policies that apply to it. Built once and cached until IAM changes.
pub struct Identity {
    pub account: String,
    pub principal_arn: String,
    /// `aws:userid`: the account id for root, the user id, or `ROLEID:session`.
    pub user_id: String,
    /// `aws:username`, for IAM users only.
    pub username: Option<String>,
    pub kind: PrincipalKind,
    pub access_key_id: String,
    pub secret: Zeroizing<Vec<u8>>,
    /// SHA-256 of the session token of temporary credentials.
    pub session_token_sha256: Option<[u8; 32]>,
    pub expires_ms: Option<i64>,
    /// Inline policies of the user and its groups, or of the assumed role.
    pub policies: Vec<Policy>,
}

impl Identity {
    /// The ARN policies name this principal by: the role ARN for a role
    /// session (`aws:PrincipalArn`), the principal's own ARN otherwise.
    pub fn policy_arn(&self) -> &str {
        match &self.kind {
            PrincipalKind::AssumedRole { role_arn } => role_arn,
            _ => &self.principal_arn,
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("principal_arn", &self.principal_arn)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Who is calling, as established by the server's authentication.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Arc<Identity>,
    /// The region of the request's credential scope.
    pub region: String,
    /// The peer address of the connection (`aws:SourceIp`).
    pub source_ip: Option<IpAddr>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

impl Caller {
    pub fn new(
        identity: Arc<Identity>,
        region: &str,
        source_ip: Option<IpAddr>,
        secure_transport: bool,
    ) -> Self {
        Self {
            identity,
            region: region.to_owned(),
            source_ip,
            secure_transport,
        }
    }

    pub fn account(&self) -> &str {
        &self.identity.account
    }

    pub fn principal_arn(&self) -> &str {
        &self.identity.principal_arn
    }

    pub fn is_root(&self) -> bool {
        self.identity.kind == PrincipalKind::Root
    }
}

/// A KMS key's metadata. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: Uuid,
    pub account: String,
    pub region: String,
    pub arn: String,
    pub created_ms: i64,
    pub description: String,
    pub key_usage: KeyUsageType,
    pub key_spec: KeySpec,
    pub origin: OriginType,
    pub state: KeyState,
    pub deletion_date_ms: Option<i64>,
    pub pending_window_days: Option<i32>,
    /// Shared between cached keys with the same policy text.
    pub policy: Arc<str>,
    pub rotation_enabled: bool,
    pub rotation_period_days: Option<i32>,
    pub next_rotation_ms: Option<i64>,
    /// The key-material version new ciphertexts are made with.
    pub current_material: u32,
    pub tags: Vec<Tag>,
    /// Imported key materials (Origin EXTERNAL), in version order: each
    /// with its id, description, expiry and states. Empty for keys whose
    /// material KMS made, and for an EXTERNAL key before its first import.
    pub imported: Vec<ImportedMaterial>,
    /// Set on the keys of a multi-Region family (primary and replicas).
    pub multi_region: Option<MultiRegion>,
}

/// One imported key material of a key (Origin EXTERNAL): a row of the
/// store's `imported_materials`. Its sealed bytes are the key's material
/// `version` while it is imported; they are destroyed when it is deleted or
/// expires, and what is here stays (a key material permanently associated
/// with the key waits to be imported again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedMaterial {
    /// The material version ciphertexts made under it name.
    pub version: u32,
    /// A keyed digest of the material (never the material): its
    /// KeyMaterialId in hex, and what tells the same material imported
    /// again from another.
    pub digest: Vec<u8>,
    /// KeyMaterialDescription, kept until another is given.
    pub description: Option<String>,
    /// Whether it expires (`None` while it is not imported).
    pub expiration_model: Option<ExpirationModelType>,
    /// When it expires (`KEY_MATERIAL_EXPIRES` only).
    pub valid_to_ms: Option<i64>,
    /// IMPORTED or PENDING_IMPORT (deleted or expired).
    pub import_state: ImportState,
    /// CURRENT, NON_CURRENT or PENDING_ROTATION.
    pub state: KeyMaterialState,
    /// When a rotation made it current, and how (`None`: the first
    /// material, or one pending rotation).
    pub rotation: Option<(i64, RotationType)>,
}

impl ImportedMaterial {
    /// Whether its bytes are held (not deleted or expired).
    pub fn is_imported(&self) -> bool {
        self.import_state == ImportState::Imported
    }

    /// Whether it belongs to the key for good (CURRENT or NON_CURRENT): its
    /// loss makes the key PendingImport. Material pending rotation does not.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.state,
            KeyMaterialState::Current | KeyMaterialState::NonCurrent
        )
    }
}

/// What makes a key one of a multi-Region family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiRegion {
    /// The family id F (a version-8 UUID): the key id `mrk-F` every related
    /// key shows, and the key id ciphertexts of the family carry.
    pub family: Uuid,
    /// The Region of the family's primary key.
    pub primary_region: String,
}

impl KeyRecord {
    /// The KeyId this key shows: `mrk-…` for a multi-Region key, its UUID
    /// otherwise.
    pub fn key_id(&self) -> String {
        match &self.multi_region {
            Some(mr) => crate::ids::mrk_key_id(&mr.family),
            None => self.id.to_string(),
        }
    }

    /// Whether this key is the primary of a multi-Region family.
    pub fn is_primary(&self) -> bool {
        self.multi_region
            .as_ref()
            .is_some_and(|mr| mr.primary_region == self.region)
    }

    /// The imported material new ciphertexts are made with (CURRENT).
    pub fn current_import(&self) -> Option<&ImportedMaterial> {
        self.imported
            .iter()
            .find(|m| m.state == KeyMaterialState::Current)
    }

    /// The imported material `version`, if the key has it.
    pub fn import_of(&self, version: u32) -> Option<&ImportedMaterial> {
        self.imported.iter().find(|m| m.version == version)
    }

    /// The id ciphertexts and KeyMaterialIds of this key are made with: the
    /// family's for a multi-Region key, its own otherwise.
    pub fn blob_id(&self) -> Uuid {
        self.multi_region.as_ref().map_or(self.id, |mr| mr.family)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Key material as stored: sealed under the root key.
#[derive(Clone)]
pub struct SealedMaterialRow {
    pub version: u32,
    pub sealed: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    pub account: String,
    pub region: String,
    /// With its `alias/` prefix.
    pub name: String,
    pub target: Uuid,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// An access key of an identity. The secret is sealed under the root key.
#[derive(Clone)]
pub struct Credential {
    pub access_key_id: String,
    pub account: String,
    pub principal_arn: String,
    pub sealed_secret: Vec<u8>,
    /// The IAM user owning the key; `None` for root keys and sessions.
    pub user_name: Option<String>,
    pub active: bool,
    pub created_ms: i64,
    pub session: Option<SessionRecord>,
}

/// What makes a credential temporary (issued by AssumeRole).
#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub token_sha256: Vec<u8>,
    pub expires_ms: i64,
    pub role_name: String,
    pub role_id: String,
    pub session_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(EntityKind::User),
            "group" => Some(EntityKind::Group),
            "role" => Some(EntityKind::Role),
            _ => None,
        }
    }
}

/// An IAM user, group or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamEntity {
    pub account: String,
    pub kind: EntityKind,
    pub name: String,
    /// `AIDA…`, `AGPA…` or `AROA…`.
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created_ms: i64,
    /// Roles only: the trust policy document.
    pub trust_policy: Option<String>,
    pub description: Option<String>,
    pub max_session_duration: Option<i32>,
}

/// A grant on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub key_id: Uuid,
    pub grant_id: String,
    pub name: Option<String>,
    pub grantee: GrantPrincipal,
    pub retiring: Option<GrantPrincipal>,
    pub operations: Vec<String>,
    pub context_equals: Option<BTreeMap<String, String>>,
    pub context_subset: Option<BTreeMap<String, String>>,
    /// The SourceArn constraint: the grant applies only to requests made
    /// on behalf of this resource (`aws:SourceArn`).
    pub source_arn: Option<String>,
    pub issuing_account: String,
    pub created_ms: i64,
}

/// Whom a grant names as its grantee or retiring principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantPrincipal {
    /// An IAM principal: an account id, or an IAM or STS ARN.
    Iam(String),
    /// An AWS service principal (`dynamodb.amazonaws.com`), which acts on
    /// behalf of a resource. No caller of Trent is one: such a grant is
    /// kept, listed and revoked, and allows no request that Trent serves.
    Service(String),
}

impl GrantPrincipal {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Iam(p) | Self::Service(p) => p,
        }
    }

    pub fn is_service(&self) -> bool {
        matches!(self, Self::Service(_))
    }

    /// The IAM principal, `None` for a service principal.
    pub fn iam(&self) -> Option<&str> {
        match self {
            Self::Iam(p) => Some(p),
            Self::Service(_) => None,
        }
    }

    /// Whether this names the caller: its principal ARN, or the ARN its
    /// policies name it by (an assumed role's role).
    pub fn names(&self, identity: &Identity) -> bool {
        self.iam()
            .is_some_and(|p| p == identity.principal_arn || p == identity.policy_arn())
    }
}

/// One page of a listing, with the marker to continue after it.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item made into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_marker: self.next_marker,
        }
    }
}

/// What `GetKeyLastUsage` reports of a key.
#[derive(Debug)]
pub struct KeyLastUsage {
    pub key: KeyRecord,
    /// `None`: no successful cryptographic operation since tracking began.
    pub last: Option<crate::audit::usage::Usage>,
    /// When Trent began tracking usage (Unix milliseconds).
    pub tracking_start_ms: i64,
}

pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One rotation of a key's material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRecord {
    pub key_id: Uuid,
    /// The material version the rotation created.
    pub version: u32,
    pub rotated_ms: i64,
    pub on_demand: bool,
}

/// Lifecycle work the scheduler finds due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueWork {
    Rotate(Uuid),
    Delete(Uuid),
    /// Imported material whose ValidTo has passed.
    Expire(Uuid),
}
