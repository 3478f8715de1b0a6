//! `trent store copy`: a single-node installation (SQLite) moved into
//! PostgreSQL with nothing lost: accounts, access keys and IAM entities,
//! keys with every material version, rotations, grants and aliases, deleted
//! keys' tombstones, the server's secrets, and the audit trail block by
//! block (so its chain and digests still verify), with key usage.
//!
//! Sealed values are copied as they are: the installation's root key opens
//! them in PostgreSQL as it did in SQLite. What the store traits enumerate
//! is read through them; the rest (accounts, every access key, tombstones,
//! named values, key usage) through [`SqliteStore::export`].

use crate::PgStore;
use crate::sqlite::SqliteStore;
use std::collections::{BTreeSet, HashMap};
use trent_core::audit::block::BlockDecoder;
use trent_core::{
    AuditStore, EntityKind, GrantLimits, IdentityStore, ImportedWrite, KeyRecord, KeyStore,
    SealedMaterial, StoreError,
};

/// What was copied.
#[derive(Debug, Default)]
pub struct Copied {
    pub accounts: usize,
    pub access_keys: usize,
    pub iam_entities: usize,
    pub keys: usize,
    pub material_versions: usize,
    pub grants: usize,
    pub aliases: usize,
    pub tombstones: usize,
    pub events: usize,
    pub digests: usize,
}

/// Keys read at a time.
const KEY_PAGE: usize = 200;
/// Audit blocks read at a time.
const BLOCK_PAGE: usize = 64;

/// Copies everything in `from` into `to`, which must hold nothing of
/// Trent's unless `into_non_empty` (then what is there stays, and a clash
/// fails the copy).
pub async fn sqlite_to_postgres(
    from: &SqliteStore,
    to: &PgStore,
    into_non_empty: bool,
) -> Result<Copied, StoreError> {
    if !into_non_empty && !to.is_empty().await? {
        return Err(StoreError::Conflict(
            "the database already holds Trent data: copy into an empty one (or pass --into-non-empty)"
                .into(),
        ));
    }
    let export = from.export().await?;
    let mut copied = Copied::default();
    // The server's secrets first: the root key's check value among them.
    for (name, value) in &export.meta {
        if &to.meta_secret(name, value).await? != value {
            return Err(StoreError::Conflict(format!(
                "the database holds another installation's {name:?}"
            )));
        }
    }
    for account in &export.accounts {
        to.insert_account(account, None).await?;
        copied.accounts += 1;
    }
    for credential in &export.credentials {
        to.insert_credential(credential).await?;
        copied.access_keys += 1;
    }
    for account in &export.accounts {
        copied.iam_entities += copy_iam(from, to, account).await?;
    }
    // No resource quota is checked on the copy: what the source holds was
    // within its server's quotas, and nothing of it may be left behind.
    copy_keys(from, to, &mut copied).await?;
    for alias in from.all_aliases().await? {
        to.insert_alias(&alias, u64::MAX).await?;
        copied.aliases += 1;
    }
    to.import_tombstones(&export.tombstones).await?;
    copied.tombstones = export.tombstones.len();
    copy_trail(from, to, &mut copied).await?;
    to.append_audit(None, None, &export.usage, Some(export.usage_through), true)
        .await?;
    Ok(copied)
}

/// An account's users, groups and roles with their inline policies and
/// group memberships; how many entities.
async fn copy_iam(from: &SqliteStore, to: &PgStore, account: &str) -> Result<usize, StoreError> {
    let mut count = 0;
    for kind in [EntityKind::User, EntityKind::Group, EntityKind::Role] {
        for entity in from.list_entities(account, kind).await? {
            to.insert_entity(&entity).await?;
            for (name, document) in from.list_policies(account, kind, &entity.name).await? {
                to.put_policy(account, kind, &entity.name, &name, &document)
                    .await?;
            }
            if kind == EntityKind::Group {
                for user in from.members_of_group(account, &entity.name).await? {
                    to.add_group_member(account, &entity.name, &user).await?;
                }
            }
            count += 1;
        }
    }
    Ok(count)
}

/// Every key with its material versions (each after the first with its
/// rotation, as a rotation stores them), its rotations and grants.
async fn copy_keys(
    from: &SqliteStore,
    to: &PgStore,
    copied: &mut Copied,
) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let page = from.load_keys(after, KEY_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.0.id);
        for (key, mut materials, grants) in page {
            materials.sort_by_key(|m| m.version);
            if key.imported.is_empty() {
                copy_versions(from, to, &key, &materials).await?;
            } else {
                // Imported materials (their rows come with the key): each
                // under its version, none from a rotation of KMS's.
                to.insert_key_without_material(&key, u64::MAX).await?;
                for material in &materials {
                    to.write_imported(&[ImportedWrite {
                        put: Some(material),
                        ..ImportedWrite::rewrite(&key, &key)
                    }])
                    .await?;
                }
            }
            copied.material_versions += materials.len();
            check_copied(to, &key).await?;
            for grant in &grants {
                to.insert_grant(grant, GrantLimits::NONE).await?;
            }
            copied.grants += grants.len();
            copied.keys += 1;
        }
    }
}

/// A key whose material KMS made: its first version with it, each later
/// one with its rotation, as a rotation stores them.
async fn copy_versions(
    from: &SqliteStore,
    to: &PgStore,
    key: &KeyRecord,
    materials: &[SealedMaterial],
) -> Result<(), StoreError> {
    let mut versions = materials.iter();
    match versions.next() {
        Some(first) => to.insert_key(key, first, u64::MAX).await?,
        // An imported key's, pending import.
        None => to.insert_key_without_material(key, u64::MAX).await?,
    }
    let rotations: HashMap<u32, _> = from
        .list_rotations(key.id)
        .await?
        .into_iter()
        .map(|r| (r.version, r))
        .collect();
    for material in versions {
        let rotation = rotations.get(&material.version).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "key {}: material version {} without its rotation",
                key.id, material.version
            ))
        })?;
        to.rotate_key(key, material, rotation).await?;
    }
    Ok(())
}

/// The key as stored on the other side is the key as read.
async fn check_copied(to: &PgStore, key: &KeyRecord) -> Result<(), StoreError> {
    match to.get_key(key.id).await? {
        Some(stored) if &stored == key => Ok(()),
        _ => Err(StoreError::Corrupt(format!(
            "key {} did not read back as it was copied",
            key.id
        ))),
    }
}

/// The trail's blocks as they are (the chain's bytes unchanged), each with
/// the accounts its events are filed into (the index PostgreSQL keeps for
/// LookupEvents), then the digests.
async fn copy_trail(
    from: &SqliteStore,
    to: &PgStore,
    copied: &mut Copied,
) -> Result<(), StoreError> {
    let mut from_seq = 0;
    loop {
        let blocks = from.audit_blocks(from_seq, BLOCK_PAGE).await?;
        let Some(last) = blocks.last() else { break };
        from_seq = last.last_seq + 1;
        for mut block in blocks {
            let records = BlockDecoder::default().block(&block, &[]);
            let accounts: BTreeSet<String> = records
                .iter()
                .filter_map(|r| {
                    let event: serde_json::Value = serde_json::from_str(&r.event_json).ok()?;
                    Some(event.get("recipientAccountId")?.as_str()?.to_owned())
                })
                .collect();
            copied.events += records.len();
            block.accounts = accounts.into_iter().collect();
            to.append_audit(Some(block), None, &[], None, false).await?;
        }
    }
    let mut after = 0;
    loop {
        let digests = from.audit_digests(after, BLOCK_PAGE).await?;
        let Some(last) = digests.last() else { break };
        after = last.seq;
        for digest in &digests {
            to.append_audit(None, Some(digest), &[], None, false)
                .await?;
        }
        copied.digests += digests.len();
    }
    Ok(())
}
