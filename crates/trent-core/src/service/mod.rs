//! [`Kms`]: the operations of AWS KMS on symmetric keys, over a [`Store`]
//! and a [`RootKey`], authorized as AWS does (`authz.rs`), with the cache
//! that keeps the hot path in memory.

mod aliases;
pub use aliases::ListedAlias;
pub use grants::ListedGrant;
mod asymmetric;
pub use asymmetric::{DataKeyPair, KeyAlgorithms, key_algorithms};
pub use kem::SharedSecret;
mod crypto;
pub mod feed;
mod grants;
mod import;
mod import_rules;
mod import_token;
mod kem;
pub use import::{ImportMaterial, ImportParameters};
pub use import_rules::{current_key_material_id, material_id};
mod keys;
mod lifecycle;
mod materials;
mod mrk_import;
mod multi_region;
pub use lifecycle::ListedMaterial;
pub use multi_region::ReplicateKey;
mod trail;

pub use trail::LookupEvents;

use crate::authz::{
    Action, AuthzContext, RequestFacts, deny_message, evaluate_identity, evaluate_resource,
    grant_allows,
};
use crate::clock::Clock;
use crate::error::KmsError;
use crate::ids::{KeyRef, alias_arn, key_arn};
use crate::markers::Markers;
use crate::model::{
    AliasRecord, Caller, GrantPrincipal, GrantRecord, KeyRecord, MultiRegion, Page,
    SealedMaterialRow, Tag,
};
use crate::policy;
use crate::quotas::{Profile, QuotaClass, QuotaLimits, RequestQuotas};
use crate::store::{GrantLimits, RootKey, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use trent_crypto::asymmetric::{HmacKey, MacAlgorithm, PairSpec, PairUsage, PrivateKey};
use trent_crypto::blob::{self, BlobHeader};
use trent_crypto::kem::{KemKey, MlKem};
use trent_crypto::{AesKey, SymmetricKey};
use trent_policy::{Outcome, Policy, PolicyKind, ResourceOutcome};
use trent_wire::{KeySpec, KeyState, KeyUsageType, OriginType};
use uuid::Uuid;
use zeroize::Zeroizing;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Stripes of the per-key mutation lock (only mutations and cache fills
/// take it; the cryptographic operations never do).
const LOCK_STRIPES: usize = 64;
/// Times a key change is decided again on the stored key, after other
/// nodes changed it in between, before it fails.
const MAX_UPDATE_CONFLICTS: u32 = 16;
/// Keys per store read when warming the cache.
const WARM_PAGE: usize = 1000;
/// Distinct key-policy texts kept compiled and shared.
const MAX_INTERNED_POLICIES: usize = 10_000;
/// Grant tokens this server issues: a prefix and the grant id.
const GRANT_TOKEN_PREFIX: &str = "trent-grant-token:";

/// Whether an operation accepts an alias where it takes a `KeyId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasMode {
    Accept,
    Refuse,
}

/// Resource quotas, per account and region unless said otherwise; the
/// defaults are AWS's.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    pub max_keys: usize,
    pub max_aliases_per_key: usize,
    pub max_grants_per_key: usize,
    pub max_grants_per_grantee: usize,
    pub max_tags_per_key: usize,
    /// Not adjustable in AWS.
    pub max_on_demand_rotations: usize,
}

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            max_keys: 100_000,
            max_aliases_per_key: 50,
            max_grants_per_key: 50_000,
            max_grants_per_grantee: 500,
            max_tags_per_key: 50,
            max_on_demand_rotations: 25,
        }
    }
}

/// A key ready for use: metadata, unsealed material, compiled policy, grants.
struct CachedKey {
    record: KeyRecord,
    materials: Arc<Materials>,
    policy: Arc<Policy>,
    grants: Arc<Vec<GrantRecord>>,
    /// The KeyMaterialId of each version, made on first use: a SHA-256
    /// and its hex per id, kept off the hot path. What it derives from
    /// (the record's id, origin, digest and versions) never changes within
    /// one `CachedKey`; a changed key is a new one.
    material_ids: std::sync::OnceLock<Box<[String]>>,
}

impl CachedKey {
    /// The `KeyMaterialId` of material `version` of this key.
    fn material_id(&self, version: u32) -> String {
        let ids = self.material_ids.get_or_init(|| {
            (1..=self.record.current_material)
                .map(|v| import_rules::material_id(&self.record, v))
                .collect()
        });
        (version as usize)
            .checked_sub(1)
            .and_then(|i| ids.get(i))
            .cloned()
            .unwrap_or_else(|| import_rules::material_id(&self.record, version))
    }

    /// The same key with a new record (recompiling the policy if it changed).
    fn with_record(&self, record: KeyRecord) -> Result<CachedKey, KmsError> {
        let policy = if record.policy == self.record.policy {
            self.policy.clone()
        } else {
            Arc::new(compile_policy(&record.policy)?)
        };
        Ok(CachedKey {
            record,
            materials: self.materials.clone(),
            policy,
            grants: self.grants.clone(),
            material_ids: Default::default(),
        })
    }
}

fn compile_policy(document: &str) -> Result<Policy, KmsError> {
    Policy::parse(document, PolicyKind::Key).map_err(|e| KmsError::MalformedPolicy(e.to_string()))
}

/// A key's unsealed material. Symmetric keys keep every version (index =
/// version - 1; `None`: an imported material deleted or expired);
/// asymmetric and HMAC keys have one version and never rotate.
enum Materials {
    Symmetric(Box<[Option<AesKey>]>),
    /// Boxed, like `Hmac`: both are far larger than the symmetric variant.
    Pair(Box<PrivateKey>),
    Hmac(Box<HmacKey>),
    Kem(Box<KemKey>),
}

impl Materials {
    fn get(&self, version: u32) -> Option<&AesKey> {
        let Materials::Symmetric(versions) = self else {
            return None;
        };
        (version as usize)
            .checked_sub(1)
            .and_then(|i| versions.get(i))
            .and_then(Option::as_ref)
    }

    /// These versions and one more (symmetric keys only).
    fn with(&self, next: AesKey) -> Materials {
        let mut all = match self {
            Materials::Symmetric(versions) => versions.to_vec(),
            Materials::Pair(_) | Materials::Hmac(_) | Materials::Kem(_) => Vec::new(),
        };
        all.push(Some(next));
        Materials::Symmetric(all.into())
    }

    /// These versions with `material` as `version` (a symmetric key's
    /// imported material); the material of another kind of key is
    /// `material` alone.
    fn set(&self, version: u32, material: Materials) -> Materials {
        match (self, material) {
            (Materials::Symmetric(versions), Materials::Symmetric(one)) => {
                let mut all = versions.to_vec();
                put_version(&mut all, version, one);
                Materials::Symmetric(all.into())
            }
            (_, other) => other,
        }
    }

    /// These versions without `gone` (their imported material deleted or
    /// expired); a key of another kind has none left.
    fn without(&self, gone: &[u32]) -> Materials {
        let Materials::Symmetric(versions) = self else {
            return Materials::Symmetric(Box::new([]));
        };
        let mut all = versions.to_vec();
        for version in gone {
            if let Some(slot) = (*version as usize)
                .checked_sub(1)
                .and_then(|i| all.get_mut(i))
            {
                *slot = None;
            }
        }
        Materials::Symmetric(all.into())
    }

    fn pair(&self) -> Option<&PrivateKey> {
        match self {
            Materials::Pair(key) => Some(key),
            _ => None,
        }
    }

    fn hmac(&self) -> Option<&HmacKey> {
        match self {
            Materials::Hmac(key) => Some(key),
            _ => None,
        }
    }

    fn kem(&self) -> Option<&KemKey> {
        match self {
            Materials::Kem(key) => Some(key),
            _ => None,
        }
    }
}

/// Puts a symmetric key's one material (`one`, as [`material_of`] makes
/// it) in `versions` as `version` (from 1).
fn put_version(versions: &mut Vec<Option<AesKey>>, version: u32, one: Box<[Option<AesKey>]>) {
    let index = (version as usize).saturating_sub(1);
    if versions.len() <= index {
        versions.resize(index + 1, None);
    }
    versions[index] = one.into_vec().into_iter().next().flatten();
}

/// What kind of material a key spec has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpecKind {
    Symmetric,
    Pair(PairSpec),
    Hmac(MacAlgorithm),
    Kem(MlKem),
}

/// The material kind of `spec`, or why this server can't create it.
fn spec_kind(spec: &KeySpec) -> Result<SpecKind, KmsError> {
    Ok(match spec {
        KeySpec::SymmetricDefault => SpecKind::Symmetric,
        KeySpec::Rsa2048 => SpecKind::Pair(PairSpec::Rsa2048),
        KeySpec::Rsa3072 => SpecKind::Pair(PairSpec::Rsa3072),
        KeySpec::Rsa4096 => SpecKind::Pair(PairSpec::Rsa4096),
        KeySpec::EccNistP256 => SpecKind::Pair(PairSpec::EccNistP256),
        KeySpec::EccNistP384 => SpecKind::Pair(PairSpec::EccNistP384),
        KeySpec::EccNistP521 => SpecKind::Pair(PairSpec::EccNistP521),
        KeySpec::EccSecgP256k1 => SpecKind::Pair(PairSpec::EccSecgP256k1),
        KeySpec::EccNistEdwards25519 => SpecKind::Pair(PairSpec::Ed25519),
        KeySpec::MlDsa44 => SpecKind::Pair(PairSpec::MlDsa44),
        KeySpec::MlDsa65 => SpecKind::Pair(PairSpec::MlDsa65),
        KeySpec::MlDsa87 => SpecKind::Pair(PairSpec::MlDsa87),
        KeySpec::MlKem512 => SpecKind::Kem(MlKem::MlKem512),
        KeySpec::MlKem768 => SpecKind::Kem(MlKem::MlKem768),
        KeySpec::MlKem1024 => SpecKind::Kem(MlKem::MlKem1024),
        KeySpec::Hmac224 => SpecKind::Hmac(MacAlgorithm::HmacSha224),
        KeySpec::Hmac256 => SpecKind::Hmac(MacAlgorithm::HmacSha256),
        KeySpec::Hmac384 => SpecKind::Hmac(MacAlgorithm::HmacSha384),
        KeySpec::Hmac512 => SpecKind::Hmac(MacAlgorithm::HmacSha512),
        KeySpec::Sm2 if PairSpec::Sm2.available() => SpecKind::Pair(PairSpec::Sm2),
        KeySpec::Sm2 => {
            return Err(KmsError::Unsupported(
                "KeySpec SM2 needs a server built with the sm2 feature (its crate is not audited)"
                    .into(),
            ));
        }
        other => {
            return Err(KmsError::Unsupported(format!(
                "KeySpec {other} is not supported by this server"
            )));
        }
    })
}

/// The usage of an asymmetric key, in `trent-crypto`'s terms.
fn pair_usage(usage: &KeyUsageType) -> Option<PairUsage> {
    match usage {
        KeyUsageType::SignVerify => Some(PairUsage::SignVerify),
        KeyUsageType::EncryptDecrypt => Some(PairUsage::EncryptDecrypt),
        KeyUsageType::KeyAgreement => Some(PairUsage::KeyAgreement),
        _ => None,
    }
}

/// Builds the in-memory material of a key from its unsealed bytes.
fn material_of(record: &KeyRecord, bytes: &[u8]) -> Result<Materials, KmsError> {
    let corrupt = || {
        KmsError::internal(StoreError::Corrupt(format!(
            "key {} has material that does not fit its spec",
            record.id
        )))
    };
    match spec_kind(&record.key_spec).map_err(|_| corrupt())? {
        SpecKind::Symmetric => Ok(Materials::Symmetric(Box::new([Some(AesKey::from_bytes(
            bytes,
        )?)]))),
        SpecKind::Pair(spec) => {
            let usage = pair_usage(&record.key_usage).ok_or_else(corrupt)?;
            Ok(Materials::Pair(Box::new(
                PrivateKey::from_pkcs8(spec, usage, bytes).map_err(|_| corrupt())?,
            )))
        }
        SpecKind::Hmac(alg) => Ok(Materials::Hmac(Box::new(
            HmacKey::from_bytes(alg, bytes).map_err(|_| corrupt())?,
        ))),
        SpecKind::Kem(kem) if record.key_usage == KeyUsageType::EncapsulateDecapsulate => {
            Ok(Materials::Kem(Box::new(
                KemKey::from_bytes(kem, bytes).map_err(|_| corrupt())?,
            )))
        }
        SpecKind::Kem(_) => Err(corrupt()),
    }
}

/// A data key: the plaintext (zeroized on drop) and its encrypted copy.
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
    /// The key material that encrypted it (`KeyMaterialId`).
    pub key_material_id: String,
}

/// What Decrypt recovers, and with which key and material.
pub struct Decrypted {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub key_arn: String,
    /// `KeyMaterialId`: symmetric keys only.
    pub key_material_id: Option<String>,
}

pub struct ReEncrypted {
    pub ciphertext: Vec<u8>,
    pub source_key_arn: String,
    pub destination_key_arn: String,
    /// `SourceKeyMaterialId`, `DestinationKeyMaterialId`: for the sides
    /// that are symmetric keys.
    pub source_key_material_id: Option<String>,
    pub destination_key_material_id: Option<String>,
}

/// Parameters of CreateKey, already validated against the model.
#[derive(Debug, Default)]
pub struct CreateKey {
    pub description: String,
    pub key_usage: Option<KeyUsageType>,
    pub key_spec: Option<KeySpec>,
    pub customer_master_key_spec: Option<KeySpec>,
    pub origin: Option<OriginType>,
    pub policy: Option<String>,
    pub bypass_policy_lockout_safety_check: bool,
    pub tags: Vec<Tag>,
    pub multi_region: bool,
    pub custom_key_store: bool,
}

/// Parameters of CreateGrant, already validated against the model.
#[derive(Debug)]
pub struct CreateGrant {
    pub key_id: String,
    pub grantee: GrantPrincipal,
    pub retiring: Option<GrantPrincipal>,
    pub operations: Vec<String>,
    pub context_equals: Option<BTreeMap<String, String>>,
    pub context_subset: Option<BTreeMap<String, String>>,
    pub source_arn: Option<String>,
    pub name: Option<String>,
}

/// How RetireGrant names its grant.
pub enum GrantSelector<'a> {
    Token(&'a str),
    Id { key_id: &'a str, grant_id: &'a str },
}

type AliasKey = (String, String, String);

/// What allowed a request on a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AllowedBy {
    /// The key policy (with the caller's IAM policies where it delegates
    /// to them).
    Policy,
    /// Only grants of the caller's.
    Grants,
}

/// A KeyId resolved to a key id, remembering how it was named.
struct Resolved {
    id: Uuid,
    /// The alias name, when the request named the key by alias.
    alias: Option<String>,
    /// The account the request named (in a key or alias ARN), which is
    /// required to use a key of another account, and is where the key is
    /// looked for; `None`: the caller's own (a bare key id, an alias name).
    account: Option<String>,
    /// The multi-Region family the request named (`mrk-…`): `id` is its
    /// key in the caller's Region.
    family: Option<Uuid>,
}

impl Resolved {
    /// A key named by id (bare or in an ARN): a family id names the
    /// family's key in `region`.
    fn named(id: Uuid, account: Option<String>, region: &str) -> Self {
        if crate::ids::is_family(&id) {
            return Self {
                id: crate::ids::related_key_id(&id, region),
                alias: None,
                account,
                family: Some(id),
            };
        }
        Self {
            id,
            alias: None,
            account,
            family: None,
        }
    }

    /// `NotFoundException` for the key as the request named it.
    fn not_found(&self, caller: &Caller) -> KmsError {
        let account = self.account.as_deref().unwrap_or(caller.account());
        match &self.family {
            Some(family) => KmsError::NotFound(format!(
                "Key '{}' does not exist",
                crate::ids::mrk_key_arn(&caller.region, account, family)
            )),
            None => not_found_in(&caller.region, account, &self.id),
        }
    }
}

/// Every grantable operation, as CreateGrant accepts them.
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];

/// The KMS service.
pub struct Kms {
    store: Arc<dyn Store>,
    root: Arc<dyn RootKey>,
    identities: Arc<crate::Identities>,
    keys: papaya::HashMap<Uuid, Arc<CachedKey>>,
    /// Every alias, loaded at startup and kept in step by alias mutations.
    aliases: papaya::HashMap<AliasKey, AliasRecord>,
    key_locks: Vec<tokio::sync::Mutex<()>>,
    alias_lock: tokio::sync::Mutex<()>,
    config: KmsConfig,
    clock: Arc<dyn Clock>,
    markers: Markers,
    /// Compiled key policies by text, shared by the keys that use them.
    policies: papaya::HashMap<Arc<str>, (Arc<str>, Arc<Policy>)>,
    /// Keys per (account, region), counted for the quota without a store
    /// scan per CreateKey; loaded from the store on first use.
    /// Key lookups answered by the cache, and those that went to the store.
    cache_hits: crate::stats::Counter,
    cache_misses: crate::stats::Counter,
    /// [`Kms::warm_cache`] has loaded every stored key.
    warm: std::sync::atomic::AtomicBool,
    /// Key usage the audit writer has not stored yet ([`Kms::track_usage`]).
    usage: std::sync::OnceLock<Arc<crate::audit::usage::Tracker>>,
    /// Request quotas of the cryptographic operations, which count by the
    /// key's type (the others are counted by the server, per operation).
    quotas: RequestQuotas,
    /// Whether the caches may be answered from (several nodes: only while
    /// the change feed confirms them current).
    freshness: Arc<feed::Freshness>,
}

pub(crate) fn material_aad(id: &Uuid, version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(24);
    aad.extend_from_slice(b"key:");
    aad.extend_from_slice(id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

impl Kms {
    pub async fn open(
        store: Arc<dyn Store>,
        root: Arc<dyn RootKey>,
        identities: Arc<crate::Identities>,
        config: KmsConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KmsError> {
        let markers = Markers::new(marker_key(store.as_ref(), root.as_ref()).await?);
        let kms = Kms {
            store,
            root,
            identities,
            keys: papaya::HashMap::new(),
            aliases: papaya::HashMap::new(),
            key_locks: (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            alias_lock: tokio::sync::Mutex::new(()),
            config,
            clock,
            markers,
            policies: papaya::HashMap::new(),
            cache_hits: Default::default(),
            cache_misses: Default::default(),
            warm: Default::default(),
            usage: Default::default(),
            quotas: RequestQuotas::new(QuotaLimits::new(Profile::Off)),
            freshness: feed::Freshness::not_enforced(),
        };
        kms.reload_aliases().await?;
        Ok(kms)
    }

    /// Makes the alias map the store's aliases, in place: an alias that
    /// stays is there throughout.
    async fn reload_aliases(&self) -> Result<(), KmsError> {
        let _guard = self.alias_lock.lock().await;
        let stored: std::collections::HashMap<AliasKey, AliasRecord> = self
            .store
            .all_aliases()
            .await?
            .into_iter()
            .map(|a| ((a.account.clone(), a.region.clone(), a.name.clone()), a))
            .collect();
        let pinned = self.aliases.pin();
        pinned.retain(|key, _| stored.contains_key(key));
        for (key, alias) in stored {
            pinned.insert(key, alias);
        }
        Ok(())
    }

    /// Counts requests against these quotas (none until set): the
    /// cryptographic operations here, where the key's type is known, and
    /// (through [`Self::request_quotas`]) the server's per-operation ones.
    pub fn set_request_quotas(&mut self, quotas: RequestQuotas) {
        self.quotas = quotas;
    }

    /// The request quotas this service counts against.
    pub fn request_quotas(&self) -> &RequestQuotas {
        &self.quotas
    }

    /// Counts a request against its account's quota `class`.
    fn admit(&self, caller: &Caller, class: QuotaClass) -> Result<(), KmsError> {
        self.quotas
            .admit(caller.account(), &caller.region, class)
            .map_err(|throttled| KmsError::Throttled(throttled.0.name()))
    }

    /// One page of an in-memory list named `list`; the marker holds the
    /// index to resume at, under an integrity tag.
    fn paginate<T: Clone>(
        &self,
        list: &str,
        items: &[T],
        limit: usize,
        marker: Option<&str>,
    ) -> Result<Page<T>, KmsError> {
        let start = match marker {
            None => 0,
            Some(m) => self
                .markers
                .open(list, m)?
                .parse::<usize>()
                .ok()
                .filter(|&i| i <= items.len())
                .ok_or_else(|| KmsError::InvalidMarker("Invalid marker".into()))?,
        };
        let end = (start + limit).min(items.len());
        let next_marker = (end < items.len()).then(|| self.markers.issue(list, &end.to_string()));
        Ok(Page {
            items: items[start..end].to_vec(),
            next_marker,
        })
    }

    /// Key-cache (hits, misses) since start, for `/metrics`.
    /// Keys in the cache, and whether warming it has finished.
    pub fn key_cache_fill(&self) -> (usize, bool) {
        (
            self.keys.len(),
            self.warm.load(std::sync::atomic::Ordering::Acquire),
        )
    }

    pub fn key_cache_stats(&self) -> (u64, u64) {
        (self.cache_hits.get(), self.cache_misses.get())
    }

    /// Now, by the lifecycle clock.
    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    // ----- key lookup ----------------------------------------------------

    fn key_lock(&self, id: &Uuid) -> &tokio::sync::Mutex<()> {
        &self.key_locks[(id.as_u128() % LOCK_STRIPES as u128) as usize]
    }

    /// Finds the key a `KeyId` names. Bare ids and alias names are looked
    /// up in the caller's account; ARNs may name another account's key.
    fn resolve(&self, caller: &Caller, raw: &str, mode: AliasMode) -> Result<Resolved, KmsError> {
        self.freshness.check()?;
        let key_ref = KeyRef::parse(raw)?;
        if mode == AliasMode::Refuse && key_ref.is_alias() {
            return Err(KmsError::NotFound(format!("Invalid keyId '{raw}'")));
        }
        let (account, region, name) = match key_ref {
            KeyRef::Id(id) => {
                return Ok(Resolved::named(id, None, &caller.region));
            }
            KeyRef::KeyArn {
                region,
                account,
                id,
            } => {
                check_region(caller, &region, raw)?;
                return Ok(Resolved::named(id, Some(account), &region));
            }
            KeyRef::AliasName(name) => (caller.account().to_owned(), caller.region.clone(), name),
            KeyRef::AliasArn {
                region,
                account,
                name,
            } => {
                check_region(caller, &region, raw)?;
                (account, region, name)
            }
        };
        let key = (account, region, name);
        match self.aliases.pin().get(&key) {
            Some(alias) => Ok(Resolved {
                id: alias.target,
                alias: Some(key.2.clone()),
                account: Some(key.0.clone()),
                family: None,
            }),
            None => Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                alias_arn(&key.1, &key.0, &key.2)
            ))),
        }
    }

    /// The cached key, loading and unsealing it on first use.
    async fn key(&self, id: Uuid) -> Result<Arc<CachedKey>, KmsError> {
        self.freshness.check()?;
        if let Some(key) = self.keys.pin().get(&id) {
            self.cache_hits.add(1);
            return Ok(key.clone());
        }
        self.cache_misses.add(1);
        // Boxed: the store's futures stay out of every caller's future
        // (each await moves a future whole, at its largest size).
        Box::pin(async {
            let _guard = self.key_lock(&id).lock().await;
            self.key_locked(id).await
        })
        .await
    }

    /// [`Self::key`] for a caller's request. A key not in the cache is read
    /// from the store only within the caller's symmetric request quota:
    /// requests naming keys that do not exist (each one a store read, on a
    /// database several nodes share) are bounded like any other request.
    /// Requests missing the same key at once wait for the one that loads
    /// it, and only that one is counted.
    async fn key_for(&self, caller: &Caller, id: Uuid) -> Result<Arc<CachedKey>, KmsError> {
        self.freshness.check()?;
        if let Some(key) = self.keys.pin().get(&id) {
            self.cache_hits.add(1);
            return Ok(key.clone());
        }
        self.cache_misses.add(1);
        // Boxed, as in `key`: the hot path's futures stay small.
        Box::pin(async {
            let _guard = self.key_lock(&id).lock().await;
            if let Some(key) = self.keys.pin().get(&id) {
                return Ok(key.clone());
            }
            self.admit(caller, QuotaClass::Symmetric)?;
            self.key_locked(id).await
        })
        .await
    }

    /// [`Self::key`] for a caller that holds the key's stripe lock.
    async fn key_locked(&self, id: Uuid) -> Result<Arc<CachedKey>, KmsError> {
        if let Some(key) = self.keys.pin().get(&id) {
            return Ok(key.clone());
        }
        let Some(record) = self.store.get_key(id).await? else {
            return Err(KmsError::NotFound(format!("Key '{id}' does not exist")));
        };
        let rows = self.store.key_materials(id).await?;
        let grants = self.store.list_grants(id).await?;
        let key = Arc::new(self.build_cached(record, rows, grants)?);
        self.keys.pin().insert(id, key.clone());
        Ok(key)
    }

    /// Unseals a key's material and compiles its policy (shared between keys
    /// with the same policy text, as most have the default one).
    fn build_cached(
        &self,
        record: KeyRecord,
        mut rows: Vec<SealedMaterialRow>,
        grants: Vec<GrantRecord>,
    ) -> Result<CachedKey, KmsError> {
        let id = record.id;
        rows.sort_by_key(|row| row.version);
        let mut versions: Vec<Option<AesKey>> = Vec::with_capacity(rows.len());
        let mut single = None;
        // Imported material may lack the versions deleted or expired; KMS's
        // own has every version from 1.
        let gaps = record.origin == OriginType::External;
        for (i, row) in rows.iter().enumerate() {
            if row.version == 0 || (!gaps && row.version as usize != i + 1) {
                return Err(KmsError::internal(StoreError::Corrupt(format!(
                    "key {id} lacks material version {}",
                    i + 1
                ))));
            }
            let bytes = self
                .root
                .unseal(&material_aad(&id, row.version), &row.sealed)?;
            match material_of(&record, &bytes)? {
                Materials::Symmetric(one) => put_version(&mut versions, row.version, one),
                other if rows.len() == 1 => single = Some(other),
                _ => {
                    return Err(KmsError::internal(StoreError::Corrupt(format!(
                        "key {id} has more than one version of non-rotating material"
                    ))));
                }
            }
        }
        let materials = single.unwrap_or(Materials::Symmetric(versions.into()));
        let mut record = record;
        let (text, policy) = self.compiled_policy(&record.policy)?;
        record.policy = text;
        Ok(CachedKey {
            record,
            materials: Arc::new(materials),
            policy,
            grants: Arc::new(grants),
            material_ids: Default::default(),
        })
    }

    /// A key policy's shared text and compiled form, from the intern table
    /// when its text was seen before.
    fn compiled_policy(&self, text: &Arc<str>) -> Result<(Arc<str>, Arc<Policy>), KmsError> {
        let pinned = self.policies.pin();
        if let Some(found) = pinned.get(&**text) {
            return Ok(found.clone());
        }
        let policy = Arc::new(
            compile_policy(text)
                .map_err(|e| KmsError::internal(StoreError::Corrupt(e.to_string())))?,
        );
        if pinned.len() < MAX_INTERNED_POLICIES {
            pinned.insert(text.clone(), (text.clone(), policy.clone()));
        }
        Ok((text.clone(), policy))
    }

    /// Answers GetKeyLastUsage from `tracker` (the audit writer's usage not
    /// yet stored) before the store. Set once, at startup.
    pub fn track_usage(&self, tracker: Arc<crate::audit::usage::Tracker>) {
        let _ = self.usage.set(tracker);
    }

    /// Loads every key into the cache, a page at a time, so that the first
    /// use of a key costs no store read. Runs in the background after the
    /// server is ready; keys already cached (or being changed) are left alone.
    pub async fn warm_cache(&self) -> Result<usize, KmsError> {
        let mut after = None;
        let mut loaded = 0;
        loop {
            let page = self.store.load_keys(after, WARM_PAGE).await?;
            let Some(last) = page.last() else {
                self.warm.store(true, std::sync::atomic::Ordering::Release);
                return Ok(loaded);
            };
            after = Some(last.0.id);
            let full = page.len() == WARM_PAGE;
            for (record, rows, grants) in page {
                let id = record.id;
                let _guard = self.key_lock(&id).lock().await;
                if self.keys.pin().contains_key(&id) {
                    continue;
                }
                let key = self.build_cached(record, rows, grants)?;
                self.keys.pin().insert(id, Arc::new(key));
                loaded += 1;
            }
            if !full {
                self.warm.store(true, std::sync::atomic::Ordering::Release);
                return Ok(loaded);
            }
        }
    }

    /// The key a KeyId names, if the caller can see it: in the caller's
    /// region, and in the caller's account unless named by ARN.
    async fn target(
        &self,
        caller: &Caller,
        raw: &str,
        mode: AliasMode,
    ) -> Result<(Arc<CachedKey>, Resolved), KmsError> {
        let resolved = self.resolve(caller, raw, mode)?;
        let key = match self.key_for(caller, resolved.id).await {
            Err(KmsError::NotFound(_)) => return Err(resolved.not_found(caller)),
            other => other?,
        };
        visible(caller, &key.record, &resolved)?;
        Ok((key, resolved))
    }

    /// The aliases pointing at a key, for `kms:ResourceAliases`.
    fn aliases_of(&self, key: &KeyRecord) -> Vec<String> {
        self.aliases
            .pin()
            .values()
            .filter(|a| a.target == key.id && a.account == key.account && a.region == key.region)
            .map(|a| a.name.clone())
            .collect()
    }

    /// Decides a request on a key: the key policy, the caller's IAM policies
    /// where the key policy delegates to them, then grants for `grant_op`.
    fn authorize(
        &self,
        caller: &Caller,
        action: Action,
        key: &CachedKey,
        facts: &RequestFacts<'_>,
        grant_op: Option<&str>,
    ) -> Result<(), KmsError> {
        self.authorize_via(caller, action, key, facts, grant_op)
            .map(|_| ())
    }

    /// [`Self::authorize`], saying what allowed the request.
    fn authorize_via(
        &self,
        caller: &Caller,
        action: Action,
        key: &CachedKey,
        facts: &RequestFacts<'_>,
        grant_op: Option<&str>,
    ) -> Result<AllowedBy, KmsError> {
        let record = &key.record;
        if let Some(class) = crypto_quota(action, &record.key_spec, facts) {
            self.admit(caller, class)?;
        }
        let same_account = caller.account() == record.account;
        // What only the key's own account may do, no key policy can give
        // to another ("Cross-account use: No").
        if !same_account && !action.cross_account() {
            return Err(KmsError::AccessDenied(format!(
                "User: {} is not authorized to perform: {} on resource: {} because {} cannot be used on a KMS key in another AWS account",
                caller.principal_arn(),
                action.name(),
                record.arn,
                action.name(),
            )));
        }
        let aliases_of = || self.aliases_of(record);
        let facts = RequestFacts {
            resource_aliases: Some(&aliases_of),
            ..facts.clone()
        };
        let context = AuthzContext::for_key(caller, record, &facts);
        let from_key = evaluate_resource(caller, &key.policy, action.name(), &record.arn, &context);
        if from_key == ResourceOutcome::ExplicitDeny {
            return Err(KmsError::AccessDenied(deny_message(
                caller,
                action.name(),
                &record.arn,
                true,
                "resource",
            )));
        }
        let from_iam = if caller.is_root() {
            Outcome::Allow
        } else {
            evaluate_identity(caller, action.name(), &record.arn, &context)
        };
        if from_iam == Outcome::ExplicitDeny {
            return Err(KmsError::AccessDenied(deny_message(
                caller,
                action.name(),
                &record.arn,
                true,
                "identity",
            )));
        }
        let allowed = match from_key {
            ResourceOutcome::AllowPrincipal => same_account || from_iam == Outcome::Allow,
            ResourceOutcome::AllowAccount => from_iam == Outcome::Allow,
            ResourceOutcome::ExplicitDeny | ResourceOutcome::NotApplicable => false,
        };
        if allowed {
            return Ok(AllowedBy::Policy);
        }
        if let Some(op) = grant_op
            && key
                .grants
                .iter()
                .any(|g| grant_allows(g, caller, op, facts.encryption_context))
        {
            return Ok(AllowedBy::Grants);
        }
        let kind = if matches!(from_key, ResourceOutcome::AllowAccount) {
            "identity"
        } else {
            "resource"
        };
        Err(KmsError::AccessDenied(deny_message(
            caller,
            action.name(),
            &record.arn,
            false,
            kind,
        )))
    }

    /// Actions on no key (CreateKey, ListKeys, ListAliases, GenerateRandom)
    /// are decided by the caller's IAM policies alone.
    fn authorize_account(
        &self,
        caller: &Caller,
        action: Action,
        facts: &RequestFacts<'_>,
    ) -> Result<(), KmsError> {
        if action == Action::GenerateRandom {
            self.admit(caller, QuotaClass::Symmetric)?;
        }
        if caller.is_root() {
            return Ok(());
        }
        let context = AuthzContext::for_request(caller, facts);
        match evaluate_identity(caller, action.name(), "*", &context) {
            Outcome::Allow => Ok(()),
            Outcome::ExplicitDeny => Err(KmsError::AccessDenied(deny_message(
                caller,
                action.name(),
                "*",
                true,
                "identity",
            ))),
            Outcome::NotApplicable => Err(KmsError::AccessDenied(deny_message(
                caller,
                action.name(),
                "*",
                false,
                "identity",
            ))),
        }
    }

    /// AWS's lockout safety check: the new policy must let the caller
    /// PutKeyPolicy later.
    fn check_lockout(
        &self,
        caller: &Caller,
        policy: &Policy,
        key_arn: &str,
    ) -> Result<(), KmsError> {
        let facts = RequestFacts::default();
        let context = AuthzContext::for_request(caller, &facts);
        let from_key = evaluate_resource(
            caller,
            policy,
            Action::PutKeyPolicy.name(),
            key_arn,
            &context,
        );
        let from_iam = || {
            caller.is_root()
                || evaluate_identity(caller, Action::PutKeyPolicy.name(), key_arn, &context)
                    == Outcome::Allow
        };
        let keeps_access = match from_key {
            ResourceOutcome::AllowPrincipal => true,
            ResourceOutcome::AllowAccount => from_iam(),
            ResourceOutcome::ExplicitDeny | ResourceOutcome::NotApplicable => false,
        };
        if !keeps_access {
            return Err(KmsError::MalformedPolicy(
                "The new key policy will not allow you to update the key policy in the future."
                    .into(),
            ));
        }
        Ok(())
    }

    /// Applies `change` to a key under its lock after authorizing `action`,
    /// persists it in one transaction, then publishes it to the cache. If
    /// another node changed the key meanwhile, the key is read again and
    /// `change` decided again on it: `change` may run more than once.
    async fn mutate(
        &self,
        caller: &Caller,
        raw: &str,
        action: Action,
        change: impl Fn(&mut KeyRecord) -> Result<(), KmsError>,
    ) -> Result<KeyRecord, KmsError> {
        self.mutate_with(caller, raw, action, &RequestFacts::default(), change)
            .await
    }

    async fn mutate_with(
        &self,
        caller: &Caller,
        raw: &str,
        action: Action,
        facts: &RequestFacts<'_>,
        change: impl Fn(&mut KeyRecord) -> Result<(), KmsError>,
    ) -> Result<KeyRecord, KmsError> {
        let resolved = self.resolve(caller, raw, AliasMode::Refuse)?;
        let id = resolved.id;
        let _guard = self.key_lock(&id).lock().await;
        let mut conflicts = 0;
        loop {
            let current = match self.key_locked(id).await {
                Err(KmsError::NotFound(_)) => return Err(resolved.not_found(caller)),
                other => other?,
            };
            visible(caller, &current.record, &resolved)?;
            self.authorize(caller, action, &current, facts, None)?;
            let mut record = current.record.clone();
            change(&mut record)?;
            let updated = Arc::new(current.with_record(record.clone())?);
            match self.store.update_key(&record, &current.record).await {
                Ok(()) => {
                    self.keys.pin().insert(id, updated);
                    return Ok(record);
                }
                // Another node changed the key since this one cached it:
                // read it again, and decide and change again on what is
                // stored now.
                Err(StoreError::Conflict(_)) if conflicts < MAX_UPDATE_CONFLICTS => {
                    conflicts += 1;
                    self.keys.pin().remove(&id);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The shared quota a cryptographic action on a key counts against: by the
/// key's type, or (GenerateDataKeyPair) by the key-pair spec asked for.
/// ReEncrypt counts once, for its source key.
fn crypto_quota(action: Action, spec: &KeySpec, facts: &RequestFacts<'_>) -> Option<QuotaClass> {
    match action {
        Action::GenerateDataKeyPair | Action::GenerateDataKeyPairWithoutPlaintext => {
            facts.data_key_pair_spec.and_then(QuotaClass::data_key_pair)
        }
        Action::Encrypt
        | Action::Decrypt
        | Action::ReEncryptFrom
        | Action::GenerateDataKey
        | Action::GenerateDataKeyWithoutPlaintext
        | Action::GenerateMac
        | Action::VerifyMac
        | Action::Sign
        | Action::Verify
        | Action::DeriveSharedSecret
        | Action::Encapsulate
        | Action::Decapsulate => Some(match spec_kind(spec) {
            Ok(SpecKind::Symmetric | SpecKind::Hmac(_)) | Err(_) => QuotaClass::Symmetric,
            Ok(SpecKind::Kem(_)) => QuotaClass::MlKem,
            Ok(SpecKind::Pair(pair)) => match pair {
                PairSpec::Rsa2048 | PairSpec::Rsa3072 | PairSpec::Rsa4096 => QuotaClass::Rsa,
                PairSpec::MlDsa44 | PairSpec::MlDsa65 | PairSpec::MlDsa87 => QuotaClass::MlDsa,
                _ => QuotaClass::Ecc,
            },
        }),
        _ => None,
    }
}

fn check_region(caller: &Caller, region: &str, raw: &str) -> Result<(), KmsError> {
    if region != caller.region {
        return Err(KmsError::NotFound(format!(
            "Invalid arn {raw}: the request is for region {}",
            caller.region
        )));
    }
    Ok(())
}

/// A key is visible in its own region, to its own account, or to another
/// account when named by ARN (whether that account may use it is for the key
/// policy to say).
/// Whether the key is where the request looked for it: in the caller's
/// Region, and in the account the request named (by ARN), or else the
/// caller's. A key id in an ARN naming another account than the key's is
/// not found, as in AWS (the account part is never ignored).
fn visible(caller: &Caller, key: &KeyRecord, resolved: &Resolved) -> Result<(), KmsError> {
    let named = resolved.account.as_deref().unwrap_or(caller.account());
    if key.region != caller.region || key.account != named {
        return Err(resolved.not_found(caller));
    }
    Ok(())
}

fn not_found(caller: &Caller, id: &Uuid) -> KmsError {
    not_found_in(&caller.region, caller.account(), id)
}

fn not_found_in(region: &str, account: &str, id: &Uuid) -> KmsError {
    KmsError::NotFound(format!(
        "Key '{}' does not exist",
        key_arn(region, account, id)
    ))
}

fn invalid_ciphertext() -> KmsError {
    KmsError::InvalidCiphertext(String::new())
}

fn alias_exists(caller: &Caller, name: &str) -> KmsError {
    KmsError::AlreadyExists(format!(
        "An alias with the name {} already exists",
        alias_arn(&caller.region, caller.account(), name)
    ))
}

fn alias_not_found(caller: &Caller, name: &str) -> KmsError {
    KmsError::NotFound(format!(
        "Alias {} is not found.",
        alias_arn(&caller.region, caller.account(), name)
    ))
}

fn check_alias_name(name: &str) -> Result<(), KmsError> {
    // The model's pattern for AliasNameType, in the words of AWS's request
    // validation.
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
    {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )));
    }
    if !name.starts_with("alias/") || name.len() == "alias/".len() {
        return Err(KmsError::Validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
        ));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::InvalidAliasName(
            "Alias names that begin with alias/aws/ are reserved for AWS managed keys".into(),
        ));
    }
    Ok(())
}

fn check_policy_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        None | Some("default") => Ok(()),
        Some(other) => Err(KmsError::NotFound(format!(
            "No such policy exists: {other}"
        ))),
    }
}

fn refuse_pending_deletion(key: &KeyRecord) -> Result<(), KmsError> {
    if matches!(
        key.state,
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
    ) {
        return Err(KmsError::InvalidState(format!(
            "{} is pending deletion.",
            key.arn
        )));
    }
    Ok(())
}

fn refuse_pending_import(key: &KeyRecord) -> Result<(), KmsError> {
    if key.state == KeyState::PendingImport {
        return Err(KmsError::InvalidState(format!(
            "{} is pending import.",
            key.arn
        )));
    }
    Ok(())
}

fn require_enabled(key: &KeyRecord) -> Result<(), KmsError> {
    match key.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", key.arn))),
        KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
            "{} is pending deletion.",
            key.arn
        ))),
        KeyState::PendingImport => Err(KmsError::InvalidState(format!(
            "{} is pending import.",
            key.arn
        ))),
        ref other => Err(KmsError::InvalidState(format!(
            "{} is in state {other}.",
            key.arn
        ))),
    }
}

/// States and usage required by Encrypt, Decrypt, ReEncrypt, GenerateDataKey
/// (and GenerateDataKeyPair) with SYMMETRIC_DEFAULT.
/// `operation` names the operation in AWS's message ("… key usage is
/// SIGN_VERIFY which is not valid for Encrypt.").
fn require_usable(key: &KeyRecord, operation: &str) -> Result<(), KmsError> {
    require_enabled(key)?;
    if key.key_usage != KeyUsageType::EncryptDecrypt {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {operation}.",
            key.arn, key.key_usage
        )));
    }
    if !matches!(key.key_spec, KeySpec::SymmetricDefault) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} is an asymmetric KMS key ({}); it encrypts only with RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 and generates no data keys",
            key.arn, key.key_spec
        )));
    }
    Ok(())
}

/// States and usage required by an operation on an asymmetric or HMAC key.
fn require_usage(key: &KeyRecord, usage: KeyUsageType, operation: &str) -> Result<(), KmsError> {
    require_enabled(key)?;
    if key.key_usage != usage {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {operation}.",
            key.arn, key.key_usage
        )));
    }
    Ok(())
}

/// Adds or replaces tags, enforcing AWS's reserved prefix (in any case:
/// `AWS:` too), one value a key in a request, and the count limit.
fn merge_tags(mut current: Vec<Tag>, new: Vec<Tag>, max: usize) -> Result<Vec<Tag>, KmsError> {
    for (i, tag) in new.iter().enumerate() {
        if new[..i].iter().any(|t| t.key == tag.key) {
            return Err(KmsError::Tag("Duplicate tag keys".into()));
        }
    }
    for tag in new {
        if tag
            .key
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
        {
            return Err(KmsError::Tag(
                "Tags beginning with aws: are reserved".into(),
            ));
        }
        match current.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => current.push(tag),
        }
    }
    if current.len() > max {
        return Err(KmsError::LimitExceeded(format!(
            "A KMS key can have at most {max} tags"
        )));
    }
    Ok(current)
}

/// The server's pagination-marker key: random, sealed under the root key,
/// kept in the store so markers survive restarts.
async fn marker_key(
    store: &dyn Store,
    root: &dyn RootKey,
) -> Result<trent_crypto::MacKey, KmsError> {
    use crate::rotation::{MARKER_KEY_AAD, MARKER_KEY_META};
    let fresh = SymmetricKey::generate_bytes()?;
    let candidate = root.seal(MARKER_KEY_AAD, fresh.as_ref())?;
    let stored = store.meta_secret(MARKER_KEY_META, &candidate).await?;
    let bytes = root.unseal(MARKER_KEY_AAD, &stored)?;
    Ok(trent_crypto::MacKey::from_bytes(&bytes))
}
