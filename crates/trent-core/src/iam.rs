//! Identities: accounts, IAM users, groups and roles with inline policies,
//! access keys, and STS sessions — the subset of IAM and STS that decides
//! who may call Trent.
//!
//! Authentication looks identities up by access key id through an in-memory
//! cache of [`Identity`] values (with their compiled policies). Every IAM
//! mutation commits to the store, then drops the cache, so the next request
//! sees the change.

use crate::Caller;
use crate::authz::{AuthzContext, deny_message};
use crate::model::{
    Credential, EntityKind, IamEntity, Identity, PrincipalKind, SessionRecord, now_millis,
};
use crate::store::{RootKey, SealError, Store, StoreError};
use std::sync::Arc;
use trent_policy::{Outcome, Policy, PolicyKind, ResourceOutcome};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The store cannot be reached now: the request may be retried.
    #[error("unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for IamError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Backend(_) => IamError::Unavailable(Box::new(e)),
            e => IamError::Internal(Box::new(e)),
        }
    }
}

impl From<SealError> for IamError {
    fn from(e: SealError) -> Self {
        IamError::Internal(Box::new(e))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

impl AccessKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Active" => Some(AccessKeyStatus::Active),
            "Inactive" => Some(AccessKeyStatus::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserInfo {
    pub account: String,
    pub name: String,
    pub user_id: String,
    pub arn: String,
    pub path: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone)]
pub struct RoleInfo {
    pub account: String,
    pub name: String,
    pub role_id: String,
    pub arn: String,
    pub path: String,
    pub created_ms: i64,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: i32,
}

#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub account: String,
    pub name: String,
    pub group_id: String,
    pub arn: String,
    pub path: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone)]
pub struct AccessKeyInfo {
    /// `None` for the root's keys.
    pub user_name: Option<String>,
    pub access_key_id: String,
    pub status: AccessKeyStatus,
    pub created_ms: i64,
}

/// A new access key; the secret is shown once.
pub struct NewAccessKey {
    pub info: AccessKeyInfo,
    pub secret: Zeroizing<String>,
}

#[derive(Debug, Clone, Copy)]
pub enum PolicyOwner<'a> {
    User(&'a str),
    Group(&'a str),
    Role(&'a str),
}

impl PolicyOwner<'_> {
    fn kind(&self) -> EntityKind {
        match self {
            PolicyOwner::User(_) => EntityKind::User,
            PolicyOwner::Group(_) => EntityKind::Group,
            PolicyOwner::Role(_) => EntityKind::Role,
        }
    }

    fn name(&self) -> &str {
        match self {
            PolicyOwner::User(n) | PolicyOwner::Group(n) | PolicyOwner::Role(n) => n,
        }
    }
}

/// Temporary credentials from AssumeRole.
pub struct TempCredentials {
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
    pub session_token: String,
    pub expires_ms: i64,
    pub assumed_role_arn: String,
    pub assumed_role_id: String,
}

pub struct Identities {
    store: Arc<dyn Store>,
    root: Arc<dyn RootKey>,
    by_access_key: papaya::HashMap<String, CachedIdentity>,
    /// Moves on at every IAM change (after it commits). A cached identity
    /// built from a store read that began before a change is stale: a
    /// lookup in flight while a key is deactivated or a policy deleted
    /// cannot put the old identity back for later requests.
    generation: std::sync::atomic::AtomicU64,
    write_lock: tokio::sync::Mutex<()>,
    /// Set with several nodes: the cache is used only while the change
    /// feed confirms it current.
    freshness: std::sync::OnceLock<Arc<crate::service::feed::Freshness>>,
}

/// An identity, and the [`Identities::generation`] its store read began in.
#[derive(Clone)]
struct CachedIdentity {
    generation: u64,
    identity: Arc<Identity>,
}

const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DEFAULT_SESSION_SECONDS: i32 = 3600;

/// An id in AWS's shape: a 4-letter prefix and `len` base-32 characters.
fn random_id(prefix: &str, len: usize) -> Result<String, IamError> {
    let mut bytes = vec![0u8; len];
    trent_crypto::random_bytes(&mut bytes).map_err(|e| IamError::Internal(Box::new(e)))?;
    Ok(prefix
        .chars()
        .chain(bytes.iter().map(|b| BASE32[(b & 31) as usize] as char))
        .collect())
}

fn random_secret(len: usize) -> Result<Zeroizing<String>, IamError> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    trent_crypto::random_bytes(&mut bytes).map_err(|e| IamError::Internal(Box::new(e)))?;
    Ok(Zeroizing::new(
        bytes
            .iter()
            .map(|b| SECRET_ALPHABET[(b & 63) as usize] as char)
            .collect(),
    ))
}

pub(crate) fn credential_aad(access_key_id: &str) -> Vec<u8> {
    [b"credential:".as_slice(), access_key_id.as_bytes()].concat()
}

/// Checks an IAM name (users, groups, roles, policies): 1–128 (64 for
/// roles) of `\w+=,.@-`.
fn check_name(what: &str, name: &str, max: usize) -> Result<(), IamError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !ok {
        return Err(IamError::Validation(format!(
            "The specified value for {what} is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_- and be at most {max} characters long."
        )));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), IamError> {
    if !(path.starts_with('/') && path.ends_with('/')) || path.len() > 512 {
        return Err(IamError::Validation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.".into()));
    }
    Ok(())
}

fn parse_policy(document: &str, kind: PolicyKind) -> Result<Policy, IamError> {
    Policy::parse(document, kind).map_err(|e| IamError::MalformedPolicy(e.to_string()))
}

fn user_info(e: IamEntity) -> UserInfo {
    UserInfo {
        account: e.account,
        name: e.name,
        user_id: e.id,
        arn: e.arn,
        path: e.path,
        created_ms: e.created_ms,
    }
}

fn group_info(e: IamEntity) -> GroupInfo {
    GroupInfo {
        account: e.account,
        name: e.name,
        group_id: e.id,
        arn: e.arn,
        path: e.path,
        created_ms: e.created_ms,
    }
}

fn role_info(e: IamEntity) -> RoleInfo {
    RoleInfo {
        account: e.account,
        name: e.name,
        role_id: e.id,
        arn: e.arn,
        path: e.path,
        created_ms: e.created_ms,
        trust_policy: e.trust_policy.unwrap_or_default(),
        description: e.description,
        max_session_duration: e.max_session_duration.unwrap_or(DEFAULT_SESSION_SECONDS),
    }
}

fn entity_arn(account: &str, kind: EntityKind, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{}{path}{name}", kind.as_str())
}

fn no_such(kind: EntityKind, name: &str) -> IamError {
    let what = match kind {
        EntityKind::User => "user",
        EntityKind::Group => "group",
        EntityKind::Role => "role",
    };
    IamError::NoSuchEntity(format!("The {what} with name {name} cannot be found."))
}

impl Identities {
    pub fn new(store: Arc<dyn Store>, root: Arc<dyn RootKey>) -> Self {
        Self {
            store,
            root,
            by_access_key: papaya::HashMap::new(),
            generation: std::sync::atomic::AtomicU64::new(0),
            write_lock: tokio::sync::Mutex::new(()),
            freshness: std::sync::OnceLock::new(),
        }
    }

    /// Uses the cache only while `freshness` says it is current (several
    /// nodes); otherwise every lookup reads the store. Set once.
    pub fn set_freshness(&self, freshness: Arc<crate::service::feed::Freshness>) {
        let _ = self.freshness.set(freshness);
    }

    /// Forgets every cached identity (another node changed some).
    pub fn forget_cached(&self) {
        self.invalidate();
    }

    /// Forgets every cached identity: called after each IAM change, once
    /// it is committed.
    fn invalidate(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.by_access_key.pin().clear();
    }

    // ----- authentication ---------------------------------------------------

    /// The identity behind an access key: `None` when the key is unknown or
    /// inactive (both are "invalid security token" to the caller).
    pub async fn lookup(&self, access_key_id: &str) -> Result<Option<Arc<Identity>>, IamError> {
        use std::sync::atomic::Ordering;
        // Read before the store: a change committed after this load moves
        // the generation on, and what this lookup caches is then stale.
        let generation = self.generation.load(Ordering::Acquire);
        // Several nodes, and the cache not confirmed current: no answer
        // from it, and none from a store that did not answer the feed.
        if self.freshness.get().is_some_and(|f| !f.is_fresh()) {
            return Err(IamError::Unavailable(
                "this node cannot confirm its caches are current".into(),
            ));
        }
        if let Some(found) = self.by_access_key.pin().get(access_key_id)
            && found.generation == generation
        {
            if found.identity.expires_ms.is_some_and(|e| e <= now_millis()) {
                return Err(IamError::ExpiredToken);
            }
            return Ok(Some(found.identity.clone()));
        }
        // Boxed: the store's futures stay out of every request's future.
        Box::pin(self.load(access_key_id, generation)).await
    }

    /// [`Self::lookup`]'s cache miss: the identity read from the store,
    /// cached under the `generation` read before it.
    async fn load(
        &self,
        access_key_id: &str,
        generation: u64,
    ) -> Result<Option<Arc<Identity>>, IamError> {
        let Some(credential) = self.store.get_credential(access_key_id).await? else {
            return Ok(None);
        };
        if !credential.active {
            return Ok(None);
        }
        if let Some(session) = &credential.session
            && session.expires_ms <= now_millis()
        {
            return Err(IamError::ExpiredToken);
        }
        let identity = Arc::new(self.build_identity(credential).await?);
        self.by_access_key.pin().insert(
            access_key_id.to_owned(),
            CachedIdentity {
                generation,
                identity: identity.clone(),
            },
        );
        Ok(Some(identity))
    }

    async fn build_identity(&self, credential: Credential) -> Result<Identity, IamError> {
        let secret = self.root.unseal(
            &credential_aad(&credential.access_key_id),
            &credential.sealed_secret,
        )?;
        let account = credential.account.clone();
        let mut documents = Vec::new();
        let (kind, user_id, username) = match (&credential.session, &credential.user_name) {
            (Some(session), _) => {
                documents.extend(
                    self.store
                        .list_policies(&account, EntityKind::Role, &session.role_name)
                        .await?,
                );
                // The session's own role: one deleted and made again
                // under the same name (a new role id) does not revive it.
                let role_arn = match self
                    .store
                    .get_entity(&account, EntityKind::Role, &session.role_name)
                    .await?
                {
                    Some(role) if role.id == session.role_id => role.arn,
                    _ => return Err(IamError::ExpiredToken),
                };
                (
                    PrincipalKind::AssumedRole { role_arn },
                    format!("{}:{}", session.role_id, session.session_name),
                    None,
                )
            }
            (None, Some(user)) => {
                let Some(entity) = self
                    .store
                    .get_entity(&account, EntityKind::User, user)
                    .await?
                else {
                    return Err(IamError::NoSuchEntity(format!(
                        "The user with name {user} cannot be found."
                    )));
                };
                documents.extend(
                    self.store
                        .list_policies(&account, EntityKind::User, user)
                        .await?,
                );
                for group in self.store.groups_of_user(&account, user).await? {
                    documents.extend(
                        self.store
                            .list_policies(&account, EntityKind::Group, &group)
                            .await?,
                    );
                }
                (PrincipalKind::User, entity.id, Some(user.clone()))
            }
            (None, None) => (PrincipalKind::Root, account.clone(), None),
        };
        let mut policies = Vec::with_capacity(documents.len());
        for (name, document) in documents {
            match Policy::parse(&document, PolicyKind::Identity) {
                Ok(policy) => policies.push(policy),
                Err(e) => {
                    tracing::warn!(policy = %name, error = %e, "stored IAM policy no longer parses; ignored")
                }
            }
        }
        let session_token_sha256 = credential
            .session
            .as_ref()
            .and_then(|s| s.token_sha256.as_slice().try_into().ok());
        Ok(Identity {
            account,
            principal_arn: credential.principal_arn,
            user_id,
            username,
            kind,
            access_key_id: credential.access_key_id,
            secret,
            session_token_sha256,
            expires_ms: credential.session.as_ref().map(|s| s.expires_ms),
            policies,
        })
    }

    // ----- accounts ---------------------------------------------------------

    /// Creates `account` with `(id, secret)` as its root's first access key,
    /// both in one transaction — if the account does not exist yet.
    /// `Ok(false)`: it exists, and nothing was done. Bootstrap credentials
    /// apply at the first start only: a root key the operator deleted since
    /// is never made again.
    pub async fn bootstrap_account(
        &self,
        account: &str,
        (id, secret): (&str, &str),
    ) -> Result<bool, IamError> {
        let _guard = self.write_lock.lock().await;
        if self.store.account_exists(account).await? {
            return Ok(false);
        }
        let credential = self.root_credential(account, id, secret)?;
        match self.store.insert_account(account, Some(&credential)).await {
            Ok(()) => {
                self.invalidate();
                Ok(true)
            }
            // Made meanwhile (by another process), or the access key id is
            // another account's: never a silent success with a key that
            // does not work.
            Err(StoreError::Conflict(_)) if self.store.account_exists(account).await? => Ok(false),
            Err(StoreError::Conflict(_)) => Err(IamError::EntityAlreadyExists(format!(
                "The access key id {id} is already in use by another account"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// A fresh root access key (id, secret), not yet stored: a caller that
    /// must hand the secret over (a file) does so first, then stores it
    /// with [`Self::bootstrap_account`], so that no stored key's secret can
    /// be lost.
    pub fn generate_access_key() -> Result<(String, Zeroizing<String>), IamError> {
        Ok((random_id("AKIA", 16)?, random_secret(40)?))
    }

    /// Creates a new account with root credentials (admin command).
    pub async fn create_account(&self, account: &str) -> Result<NewAccessKey, IamError> {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IamError::Validation(format!(
                "Account id {account} must be 12 digits"
            )));
        }
        let (id, secret) = Self::generate_access_key()?;
        let credential = self.root_credential(account, &id, &secret)?;
        let _guard = self.write_lock.lock().await;
        match self.store.insert_account(account, Some(&credential)).await {
            Err(StoreError::Conflict(_)) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Account {account} already exists"
                )));
            }
            other => other?,
        }
        self.invalidate();
        Ok(NewAccessKey {
            info: AccessKeyInfo {
                user_name: None,
                access_key_id: id,
                status: AccessKeyStatus::Active,
                created_ms: credential.created_ms,
            },
            secret,
        })
    }

    pub async fn account_exists(&self, account: &str) -> Result<bool, IamError> {
        Ok(self.store.account_exists(account).await?)
    }

    /// The stored form of a root access key (its secret sealed).
    fn root_credential(
        &self,
        account: &str,
        access_key_id: &str,
        secret: &str,
    ) -> Result<Credential, IamError> {
        Ok(Credential {
            access_key_id: access_key_id.to_owned(),
            account: account.to_owned(),
            principal_arn: format!("arn:aws:iam::{account}:root"),
            sealed_secret: self
                .root
                .seal(&credential_aad(access_key_id), secret.as_bytes())?,
            user_name: None,
            active: true,
            created_ms: now_millis(),
            session: None,
        })
    }

    async fn insert_key(
        &self,
        account: &str,
        principal_arn: String,
        user_name: Option<String>,
        access_key_id: &str,
        secret: &str,
    ) -> Result<AccessKeyInfo, IamError> {
        let created_ms = now_millis();
        let credential = Credential {
            access_key_id: access_key_id.to_owned(),
            account: account.to_owned(),
            principal_arn,
            sealed_secret: self
                .root
                .seal(&credential_aad(access_key_id), secret.as_bytes())?,
            user_name: user_name.clone(),
            active: true,
            created_ms,
            session: None,
        };
        match self.store.insert_credential(&credential).await {
            Err(StoreError::Conflict(_)) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Access key {access_key_id} already exists"
                )));
            }
            other => other?,
        }
        self.invalidate();
        Ok(AccessKeyInfo {
            user_name,
            access_key_id: access_key_id.to_owned(),
            status: AccessKeyStatus::Active,
            created_ms,
        })
    }

    async fn new_key(
        &self,
        account: &str,
        principal_arn: String,
        user_name: Option<String>,
    ) -> Result<NewAccessKey, IamError> {
        let id = random_id("AKIA", 16)?;
        let secret = random_secret(40)?;
        let info = self
            .insert_key(account, principal_arn, user_name, &id, &secret)
            .await?;
        Ok(NewAccessKey { info, secret })
    }

    // ----- authorization of IAM calls -------------------------------------------

    /// IAM and STS actions are authorized by the caller's identity policies;
    /// the root identity may do everything in its own account.
    fn authorize(&self, caller: &Caller, action: &str, resource: &str) -> Result<(), IamError> {
        if caller.is_root() {
            return Ok(());
        }
        let context = AuthzContext::new(caller);
        match crate::authz::evaluate_identity(caller, action, resource, &context) {
            Outcome::Allow => Ok(()),
            Outcome::ExplicitDeny => Err(IamError::AccessDenied(deny_message(
                caller, action, resource, true, "identity",
            ))),
            Outcome::NotApplicable => Err(IamError::AccessDenied(deny_message(
                caller, action, resource, false, "identity",
            ))),
        }
    }

    async fn entity(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<IamEntity, IamError> {
        self.store
            .get_entity(account, kind, name)
            .await?
            .ok_or_else(|| no_such(kind, name))
    }

    async fn create_entity(
        &self,
        caller: &Caller,
        kind: EntityKind,
        name: &str,
        path: Option<&str>,
        prefix: &str,
        role: Option<(&str, Option<&str>, i32)>,
    ) -> Result<IamEntity, IamError> {
        let account = caller.account();
        let path = path.unwrap_or("/");
        check_path(path)?;
        check_name(
            &format!("{}Name", capitalized(kind)),
            name,
            if kind == EntityKind::Role { 64 } else { 128 },
        )?;
        let arn = entity_arn(account, kind, path, name);
        self.authorize(caller, &format!("iam:Create{}", capitalized(kind)), &arn)?;
        let entity = IamEntity {
            account: account.to_owned(),
            kind,
            name: name.to_owned(),
            id: random_id(prefix, 17)?,
            arn,
            path: path.to_owned(),
            created_ms: now_millis(),
            trust_policy: role.map(|r| r.0.to_owned()),
            description: role.and_then(|r| r.1.map(str::to_owned)),
            max_session_duration: role.map(|r| r.2),
        };
        let _guard = self.write_lock.lock().await;
        match self.store.insert_entity(&entity).await {
            Err(StoreError::Conflict(_)) => Err(IamError::EntityAlreadyExists(format!(
                "{} with name {name} already exists.",
                capitalized(kind)
            ))),
            other => {
                other?;
                self.invalidate();
                Ok(entity)
            }
        }
    }

    /// AWS refuses to delete a user, group or role that still has inline
    /// policies.
    async fn refuse_if_policies(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<(), IamError> {
        if !self
            .store
            .list_policies(account, kind, name)
            .await?
            .is_empty()
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        Ok(())
    }

    // ----- users ---------------------------------------------------------------

    pub async fn create_user(
        &self,
        caller: &Caller,
        name: &str,
        path: Option<&str>,
    ) -> Result<UserInfo, IamError> {
        self.create_entity(caller, EntityKind::User, name, path, "AIDA", None)
            .await
            .map(user_info)
    }

    pub async fn get_user(
        &self,
        caller: &Caller,
        name: Option<&str>,
    ) -> Result<UserInfo, IamError> {
        let name = match (name, &caller.identity.username) {
            (Some(n), _) => n,
            (None, Some(own)) => own.as_str(),
            (None, None) if caller.is_root() => {
                return Ok(UserInfo {
                    account: caller.account().to_owned(),
                    name: String::new(),
                    user_id: caller.account().to_owned(),
                    arn: caller.principal_arn().to_owned(),
                    path: "/".into(),
                    created_ms: 0,
                });
            }
            (None, None) => {
                return Err(IamError::Validation(
                    "Must specify userName when calling with non-User credentials".into(),
                ));
            }
        };
        let user = self
            .entity(caller.account(), EntityKind::User, name)
            .await?;
        self.authorize(caller, "iam:GetUser", &user.arn)?;
        Ok(user_info(user))
    }

    pub async fn list_users(&self, caller: &Caller) -> Result<Vec<UserInfo>, IamError> {
        self.list_entities(caller, "iam:ListUsers", EntityKind::User, "user", user_info)
            .await
    }

    pub async fn list_roles(&self, caller: &Caller) -> Result<Vec<RoleInfo>, IamError> {
        self.list_entities(caller, "iam:ListRoles", EntityKind::Role, "role", role_info)
            .await
    }

    pub async fn list_groups(&self, caller: &Caller) -> Result<Vec<GroupInfo>, IamError> {
        self.list_entities(
            caller,
            "iam:ListGroups",
            EntityKind::Group,
            "group",
            group_info,
        )
        .await
    }

    /// The groups `user` belongs to (ListGroupsForUser).
    pub async fn list_groups_for_user(
        &self,
        caller: &Caller,
        user: &str,
    ) -> Result<Vec<GroupInfo>, IamError> {
        let account = caller.account();
        let entity = self.entity(account, EntityKind::User, user).await?;
        self.authorize(caller, "iam:ListGroupsForUser", &entity.arn)?;
        let mut groups = Vec::new();
        for name in self.store.groups_of_user(account, user).await? {
            if let Some(group) = self
                .store
                .get_entity(account, EntityKind::Group, &name)
                .await?
            {
                groups.push(group_info(group));
            }
        }
        Ok(groups)
    }

    /// The account's users, roles or groups, if `caller` may `action` on
    /// `arn:aws:iam::ACCOUNT:KIND/`, each as `info` makes it.
    async fn list_entities<T>(
        &self,
        caller: &Caller,
        action: &str,
        kind: EntityKind,
        resource: &str,
        info: fn(IamEntity) -> T,
    ) -> Result<Vec<T>, IamError> {
        let account = caller.account();
        self.authorize(
            caller,
            action,
            &format!("arn:aws:iam::{account}:{resource}/"),
        )?;
        Ok(self
            .store
            .list_entities(account, kind)
            .await?
            .into_iter()
            .map(info)
            .collect())
    }

    pub async fn delete_user(&self, caller: &Caller, name: &str) -> Result<(), IamError> {
        let account = caller.account();
        let user = self.entity(account, EntityKind::User, name).await?;
        self.authorize(caller, "iam:DeleteUser", &user.arn)?;
        let _guard = self.write_lock.lock().await;
        if !self
            .store
            .list_credentials(account, Some(name))
            .await?
            .is_empty()
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete access keys first.".into(),
            ));
        }
        self.refuse_if_policies(account, EntityKind::User, name)
            .await?;
        if !self.store.groups_of_user(account, name).await?.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        self.store
            .delete_entity(account, EntityKind::User, name)
            .await?;
        self.invalidate();
        Ok(())
    }

    // ----- access keys -----------------------------------------------------------

    /// The user an access-key call is about: the named one, or the caller's
    /// own user (`None` for the root).
    async fn key_owner(
        &self,
        caller: &Caller,
        user: Option<&str>,
    ) -> Result<(Option<String>, String), IamError> {
        match user.or(caller.identity.username.as_deref()) {
            Some(name) => {
                let entity = self
                    .entity(caller.account(), EntityKind::User, name)
                    .await?;
                Ok((Some(name.to_owned()), entity.arn))
            }
            None if caller.is_root() => Ok((None, caller.principal_arn().to_owned())),
            None => Err(IamError::Validation(
                "Must specify userName when calling with non-User credentials".into(),
            )),
        }
    }

    pub async fn create_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
    ) -> Result<NewAccessKey, IamError> {
        let (user, arn) = self.key_owner(caller, user).await?;
        self.authorize(caller, "iam:CreateAccessKey", &arn)?;
        let _guard = self.write_lock.lock().await;
        if self
            .store
            .list_credentials(caller.account(), user.as_deref())
            .await?
            .len()
            >= 2
        {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for AccessKeysPerUser: 2".into(),
            ));
        }
        self.new_key(caller.account(), arn, user).await
    }

    pub async fn list_access_keys(
        &self,
        caller: &Caller,
        user: Option<&str>,
    ) -> Result<Vec<AccessKeyInfo>, IamError> {
        let (user, arn) = self.key_owner(caller, user).await?;
        self.authorize(caller, "iam:ListAccessKeys", &arn)?;
        let keys = self
            .store
            .list_credentials(caller.account(), user.as_deref())
            .await?;
        Ok(keys
            .into_iter()
            .map(|c| AccessKeyInfo {
                user_name: c.user_name,
                access_key_id: c.access_key_id,
                status: if c.active {
                    AccessKeyStatus::Active
                } else {
                    AccessKeyStatus::Inactive
                },
                created_ms: c.created_ms,
            })
            .collect())
    }

    async fn owned_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
        access_key_id: &str,
        action: &str,
    ) -> Result<(), IamError> {
        let (user, arn) = self.key_owner(caller, user).await?;
        self.authorize(caller, action, &arn)?;
        let found = self.store.get_credential(access_key_id).await?;
        match found {
            Some(c)
                if c.account == caller.account() && c.user_name == user && c.session.is_none() =>
            {
                Ok(())
            }
            _ => Err(IamError::NoSuchEntity(format!(
                "The Access Key with id {access_key_id} cannot be found."
            ))),
        }
    }

    pub async fn update_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<(), IamError> {
        self.owned_key(caller, user, access_key_id, "iam:UpdateAccessKey")
            .await?;
        let _guard = self.write_lock.lock().await;
        self.store
            .set_credential_active(access_key_id, status == AccessKeyStatus::Active)
            .await?;
        self.invalidate();
        Ok(())
    }

    pub async fn delete_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
        access_key_id: &str,
    ) -> Result<(), IamError> {
        self.owned_key(caller, user, access_key_id, "iam:DeleteAccessKey")
            .await?;
        let _guard = self.write_lock.lock().await;
        self.store.delete_credential(access_key_id).await?;
        self.invalidate();
        Ok(())
    }

    // ----- inline policies ---------------------------------------------------------

    async fn policy_owner(
        &self,
        caller: &Caller,
        owner: PolicyOwner<'_>,
        verb: &str,
    ) -> Result<IamEntity, IamError> {
        let entity = self
            .entity(caller.account(), owner.kind(), owner.name())
            .await?;
        self.authorize(
            caller,
            &format!("iam:{verb}{}Policy", capitalized(owner.kind())),
            &entity.arn,
        )?;
        Ok(entity)
    }

    pub async fn put_policy(
        &self,
        caller: &Caller,
        owner: PolicyOwner<'_>,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        check_name("policyName", policy_name, 128)?;
        parse_policy(document, PolicyKind::Identity)?;
        self.policy_owner(caller, owner, "Put").await?;
        let _guard = self.write_lock.lock().await;
        self.store
            .put_policy(
                caller.account(),
                owner.kind(),
                owner.name(),
                policy_name,
                document,
            )
            .await?;
        self.invalidate();
        Ok(())
    }

    pub async fn get_policy(
        &self,
        caller: &Caller,
        owner: PolicyOwner<'_>,
        policy_name: &str,
    ) -> Result<String, IamError> {
        self.policy_owner(caller, owner, "Get").await?;
        self.store
            .list_policies(caller.account(), owner.kind(), owner.name())
            .await?
            .into_iter()
            .find(|(name, _)| name == policy_name)
            .map(|(_, document)| document)
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    owner.kind().as_str()
                ))
            })
    }

    pub async fn delete_policy(
        &self,
        caller: &Caller,
        owner: PolicyOwner<'_>,
        policy_name: &str,
    ) -> Result<(), IamError> {
        self.policy_owner(caller, owner, "Delete").await?;
        let _guard = self.write_lock.lock().await;
        if !self
            .store
            .delete_policy(caller.account(), owner.kind(), owner.name(), policy_name)
            .await?
        {
            return Err(IamError::NoSuchEntity(format!(
                "The {} policy with name {policy_name} cannot be found.",
                owner.kind().as_str()
            )));
        }
        self.invalidate();
        Ok(())
    }

    pub async fn list_policies(
        &self,
        caller: &Caller,
        owner: PolicyOwner<'_>,
    ) -> Result<Vec<String>, IamError> {
        self.policy_owner(caller, owner, "List").await?;
        let policies = self
            .store
            .list_policies(caller.account(), owner.kind(), owner.name())
            .await?;
        Ok(policies.into_iter().map(|(name, _)| name).collect())
    }

    // ----- roles and STS ---------------------------------------------------------------

    pub async fn create_role(
        &self,
        caller: &Caller,
        name: &str,
        path: Option<&str>,
        trust_policy: &str,
        description: Option<&str>,
        max_session_duration: Option<i32>,
    ) -> Result<RoleInfo, IamError> {
        parse_policy(trust_policy, PolicyKind::Trust)?;
        let max = max_session_duration.unwrap_or(DEFAULT_SESSION_SECONDS);
        if !(3600..=43200).contains(&max) {
            return Err(IamError::Validation(
                "MaxSessionDuration must be between 3600 and 43200 seconds".into(),
            ));
        }
        self.create_entity(
            caller,
            EntityKind::Role,
            name,
            path,
            "AROA",
            Some((trust_policy, description, max)),
        )
        .await
        .map(role_info)
    }

    pub async fn get_role(&self, caller: &Caller, name: &str) -> Result<RoleInfo, IamError> {
        let role = self
            .entity(caller.account(), EntityKind::Role, name)
            .await?;
        self.authorize(caller, "iam:GetRole", &role.arn)?;
        Ok(role_info(role))
    }

    pub async fn delete_role(&self, caller: &Caller, name: &str) -> Result<(), IamError> {
        let role = self
            .entity(caller.account(), EntityKind::Role, name)
            .await?;
        self.authorize(caller, "iam:DeleteRole", &role.arn)?;
        let _guard = self.write_lock.lock().await;
        self.refuse_if_policies(caller.account(), EntityKind::Role, name)
            .await?;
        self.store
            .delete_entity(caller.account(), EntityKind::Role, name)
            .await?;
        self.invalidate();
        Ok(())
    }

    /// AssumeRole: the role's trust policy must allow the caller (directly,
    /// or through its account, in which case the caller's own IAM policies
    /// must allow `sts:AssumeRole` too, as in AWS).
    pub async fn assume_role(
        &self,
        caller: &Caller,
        role_arn: &str,
        session_name: &str,
        duration_secs: Option<i32>,
    ) -> Result<TempCredentials, IamError> {
        let invalid = || IamError::Validation(format!("{role_arn} is invalid"));
        let rest = role_arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
        let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
        let role_path_name = resource.strip_prefix("role").ok_or_else(invalid)?;
        let role_name = role_path_name
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(invalid)?;
        if session_name.len() < 2
            || session_name.len() > 64
            || !session_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )));
        }
        let denied = || {
            IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.principal_arn()
            ))
        };
        if caller.is_root() {
            return Err(IamError::AccessDenied(
                "Roles may not be assumed by root accounts.".into(),
            ));
        }
        let Some(role) = self
            .store
            .get_entity(account, EntityKind::Role, role_name)
            .await?
        else {
            return Err(denied());
        };
        if role.arn != role_arn {
            return Err(denied());
        }
        let trust = parse_policy(
            role.trust_policy.as_deref().unwrap_or_default(),
            PolicyKind::Trust,
        )?;
        let context = AuthzContext::new(caller);
        let trusted =
            crate::authz::evaluate_resource(caller, &trust, "sts:AssumeRole", &role.arn, &context);
        // An explicit Deny in the caller's own policies wins even when the
        // trust policy names the caller: naming it only spares it the need
        // for an Allow of its own (in its own account).
        let from_identity = if caller.is_root() {
            Outcome::Allow
        } else {
            crate::authz::evaluate_identity(caller, "sts:AssumeRole", &role.arn, &context)
        };
        let same_account = caller.account() == account;
        let allowed = match (trusted, from_identity) {
            (_, Outcome::ExplicitDeny) => false,
            (ResourceOutcome::ExplicitDeny | ResourceOutcome::NotApplicable, _) => false,
            (ResourceOutcome::AllowPrincipal, from_identity) => {
                same_account || from_identity == Outcome::Allow
            }
            (ResourceOutcome::AllowAccount, from_identity) => from_identity == Outcome::Allow,
        };
        if !allowed {
            return Err(denied());
        }
        let max = role.max_session_duration.unwrap_or(DEFAULT_SESSION_SECONDS);
        let duration = duration_secs.unwrap_or(DEFAULT_SESSION_SECONDS);
        if duration < 900 || duration > max {
            return Err(IamError::Validation(format!(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role, or is below 900: {duration}"
            )));
        }
        let access_key_id = random_id("ASIA", 16)?;
        let secret = random_secret(40)?;
        let session_token = random_secret(96)?;
        let expires_ms = now_millis() + i64::from(duration) * 1000;
        let assumed_role_arn =
            format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}");
        let credential = Credential {
            access_key_id: access_key_id.clone(),
            account: account.to_owned(),
            principal_arn: assumed_role_arn.clone(),
            sealed_secret: self
                .root
                .seal(&credential_aad(&access_key_id), secret.as_bytes())?,
            user_name: None,
            active: true,
            created_ms: now_millis(),
            session: Some(SessionRecord {
                token_sha256: trent_crypto::sha256(session_token.as_bytes()).to_vec(),
                expires_ms,
                role_name: role_name.to_owned(),
                role_id: role.id.clone(),
                session_name: session_name.to_owned(),
            }),
        };
        self.store.insert_credential(&credential).await?;
        Ok(TempCredentials {
            access_key_id,
            secret,
            session_token: session_token.to_string(),
            expires_ms,
            assumed_role_arn,
            assumed_role_id: format!("{}:{session_name}", role.id),
        })
    }

    // ----- groups -------------------------------------------------------------------

    pub async fn create_group(
        &self,
        caller: &Caller,
        name: &str,
        path: Option<&str>,
    ) -> Result<GroupInfo, IamError> {
        self.create_entity(caller, EntityKind::Group, name, path, "AGPA", None)
            .await
            .map(group_info)
    }

    pub async fn get_group(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(GroupInfo, Vec<UserInfo>), IamError> {
        let group = self
            .entity(caller.account(), EntityKind::Group, name)
            .await?;
        self.authorize(caller, "iam:GetGroup", &group.arn)?;
        let mut users = Vec::new();
        for member in self.store.members_of_group(caller.account(), name).await? {
            if let Some(user) = self
                .store
                .get_entity(caller.account(), EntityKind::User, &member)
                .await?
            {
                users.push(user_info(user));
            }
        }
        Ok((group_info(group), users))
    }

    pub async fn add_user_to_group(
        &self,
        caller: &Caller,
        group: &str,
        user: &str,
    ) -> Result<(), IamError> {
        let entity = self
            .entity(caller.account(), EntityKind::Group, group)
            .await?;
        self.entity(caller.account(), EntityKind::User, user)
            .await?;
        self.authorize(caller, "iam:AddUserToGroup", &entity.arn)?;
        let _guard = self.write_lock.lock().await;
        match self
            .store
            .add_group_member(caller.account(), group, user)
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.invalidate();
        Ok(())
    }

    pub async fn remove_user_from_group(
        &self,
        caller: &Caller,
        group: &str,
        user: &str,
    ) -> Result<(), IamError> {
        let entity = self
            .entity(caller.account(), EntityKind::Group, group)
            .await?;
        self.authorize(caller, "iam:RemoveUserFromGroup", &entity.arn)?;
        let _guard = self.write_lock.lock().await;
        if !self
            .store
            .remove_group_member(caller.account(), group, user)
            .await?
        {
            return Err(no_such(EntityKind::User, user));
        }
        self.invalidate();
        Ok(())
    }

    pub async fn delete_group(&self, caller: &Caller, name: &str) -> Result<(), IamError> {
        let group = self
            .entity(caller.account(), EntityKind::Group, name)
            .await?;
        self.authorize(caller, "iam:DeleteGroup", &group.arn)?;
        let _guard = self.write_lock.lock().await;
        if !self
            .store
            .members_of_group(caller.account(), name)
            .await?
            .is_empty()
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        self.refuse_if_policies(caller.account(), EntityKind::Group, name)
            .await?;
        self.store
            .delete_entity(caller.account(), EntityKind::Group, name)
            .await?;
        self.invalidate();
        Ok(())
    }

    /// Whether `principal` names an identity that exists: an account (id or
    /// root ARN), an IAM user or role, or an assumed-role session's role.
    pub async fn principal_exists(&self, principal: &str) -> Result<bool, IamError> {
        if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
            return self.account_exists(principal).await;
        }
        let Some(rest) = principal
            .strip_prefix("arn:aws:iam::")
            .or_else(|| principal.strip_prefix("arn:aws:sts::"))
        else {
            return Ok(false);
        };
        let Some((account, resource)) = rest.split_once(':') else {
            return Ok(false);
        };
        if resource == "root" {
            return self.account_exists(account).await;
        }
        let (kind, name) = if let Some(r) = resource.strip_prefix("user/") {
            (EntityKind::User, r.rsplit('/').next().unwrap_or(r))
        } else if let Some(r) = resource.strip_prefix("role/") {
            (EntityKind::Role, r.rsplit('/').next().unwrap_or(r))
        } else if let Some(r) = resource.strip_prefix("assumed-role/") {
            (EntityKind::Role, r.split('/').next().unwrap_or(r))
        } else {
            return Ok(false);
        };
        Ok(self.store.get_entity(account, kind, name).await?.is_some())
    }
}

fn capitalized(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "User",
        EntityKind::Group => "Group",
        EntityKind::Role => "Role",
    }
}
