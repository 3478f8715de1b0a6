//! One suite for every backend: every method of the four store traits,
//! and concurrent writers. The suite takes two handles on one database
//! (two pools, as two Trent processes would have): it writes through one
//! and reads through the other, and races them against each other.

use crate::SqliteStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use trent_core::audit::block::{AuditBlock, BlockEncoder};
use trent_core::audit::lookup::{AuditLookup, LookupAttribute};
use trent_core::audit::{Actor, AuditEvent, AuditRecord, EventSource, chain_hash, read};
use trent_core::trail::{AuditDigest, Id, KeyUsage, Usage};
use trent_core::{
    AliasRecord, Change, ChangeStore, Changed, Credential, DueWork, EntityKind, GrantLimits,
    GrantPrincipal, GrantRecord, IamEntity, IdentityStore, ImportedMaterial, ImportedWrite,
    KeyRecord, KeyStore, Limit, MultiRegion, RotationRecord, SealedMaterial, SessionRecord, Store,
    StoreError, Tag, now_millis,
};
use trent_wire::{
    ExpirationModelType, ImportState, KeyMaterialState, KeySpec, KeyState, KeyUsageType, OriginType,
};
use uuid::Uuid;

const ACCOUNT: &str = "111122223333";
/// A resource quota no test reaches (`resource_quotas` tests them).
pub(crate) const NO_LIMIT: u64 = u64::MAX;
const OTHER: &str = "444455556666";

pub(crate) fn key(account: &str) -> KeyRecord {
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
        imported: Vec::new(),
        multi_region: None,
    }
}

/// An imported material `version`, current, imported, expiring at
/// `valid_to_ms`.
fn imported(version: u32, valid_to_ms: Option<i64>) -> ImportedMaterial {
    ImportedMaterial {
        version,
        digest: vec![version as u8; 32],
        description: Some(format!("material {version}")),
        expiration_model: Some(if valid_to_ms.is_some() {
            ExpirationModelType::KeyMaterialExpires
        } else {
            ExpirationModelType::KeyMaterialDoesNotExpire
        }),
        valid_to_ms,
        import_state: ImportState::Imported,
        state: KeyMaterialState::Current,
        rotation: None,
    }
}

pub(crate) fn material(version: u32) -> SealedMaterial {
    SealedMaterial {
        version,
        sealed: vec![version as u8; 60],
    }
}

/// Material versions as comparable values.
fn versions(materials: &[SealedMaterial]) -> Vec<(u32, Vec<u8>)> {
    materials
        .iter()
        .map(|m| (m.version, m.sealed.clone()))
        .collect()
}

fn grant(key_id: Uuid, grant_id: &str, retiring: Option<&str>) -> GrantRecord {
    GrantRecord {
        key_id,
        grant_id: grant_id.into(),
        name: Some(format!("name-{grant_id}")),
        grantee: GrantPrincipal::Iam(format!("arn:aws:iam::{ACCOUNT}:user/u")),
        retiring: retiring.map(|p| GrantPrincipal::Iam(p.into())),
        operations: vec!["Encrypt".into(), "Decrypt".into()],
        context_equals: Some(BTreeMap::from([("a".into(), "1".into())])),
        context_subset: None,
        source_arn: None,
        issuing_account: ACCOUNT.into(),
        created_ms: 5,
    }
}

fn credential(id: &str, account: &str, user: Option<&str>) -> Credential {
    Credential {
        access_key_id: id.into(),
        account: account.into(),
        principal_arn: match user {
            Some(user) => format!("arn:aws:iam::{account}:user/{user}"),
            None => format!("arn:aws:iam::{account}:root"),
        },
        sealed_secret: vec![9; 40],
        user_name: user.map(Into::into),
        active: true,
        created_ms: 1,
        session: None,
    }
}

fn entity(kind: EntityKind, name: &str) -> IamEntity {
    IamEntity {
        account: ACCOUNT.into(),
        kind,
        name: name.into(),
        id: format!("AID{}", Uuid::new_v4().simple()),
        arn: format!("arn:aws:iam::{ACCOUNT}:{}/{name}", kind.as_str()),
        path: "/".into(),
        created_ms: 2,
        trust_policy: (kind == EntityKind::Role).then(|| "{\"Statement\":[]}".into()),
        description: (kind == EntityKind::Role).then(|| "a role".into()),
        max_session_duration: (kind == EntityKind::Role).then_some(3600),
    }
}

/// Every method, through two handles on one database.
pub(crate) async fn suite(a: &dyn Store, b: &dyn Store) {
    keys(a, b).await;
    aliases_and_grants(a, b).await;
    lifecycle(a, b).await;
    imported_material(a, b).await;
    multi_region(a, b).await;
    identities(a, b).await;
    audit(a, b, Vec::new(), vec![0; 32]).await;
    concurrent_writers(a, b).await;
    resource_quotas(a, b).await;
    changes(a, b).await;
}

async fn keys(a: &dyn Store, b: &dyn Store) {
    // Keys round-trip, update whole, list in creation order with paging.
    let first = key(ACCOUNT);
    a.insert_key(&first, &material(1), NO_LIMIT).await.unwrap();
    let mut got = b.get_key(first.id).await.unwrap().unwrap();
    assert_eq!(got, first);
    got.state = KeyState::PendingDeletion;
    got.deletion_date_ms = Some(5);
    got.pending_window_days = Some(7);
    got.description = "changed".into();
    got.policy = "{\"Version\":\"2012-10-17\"}".into();
    got.rotation_enabled = true;
    got.rotation_period_days = Some(90);
    got.next_rotation_ms = Some(6);
    got.tags.push(Tag {
        key: "x".into(),
        value: "".into(),
    });
    a.update_key(&got, &first).await.unwrap();
    assert_eq!(b.get_key(first.id).await.unwrap().unwrap(), got);
    // A write over the key as it was before that one (a node that had not
    // seen it): refused, nothing written.
    let stale = KeyRecord {
        description: "stale".into(),
        ..first.clone()
    };
    assert!(matches!(
        b.update_key(&stale, &first).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(a.get_key(first.id).await.unwrap().unwrap(), got);
    // Nor over a key that is gone.
    let absent = key(ACCOUNT);
    assert!(matches!(
        a.update_key(&absent, &absent).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(b.get_key(Uuid::new_v4()).await.unwrap().is_none());

    let second = key(ACCOUNT);
    let third = key(ACCOUNT);
    let elsewhere = key(OTHER);
    for k in [&second, &third, &elsewhere] {
        a.insert_key(k, &material(1), NO_LIMIT).await.unwrap();
    }
    let ids = |page: Vec<(Uuid, String)>| page.into_iter().map(|p| p.0).collect::<Vec<_>>();
    let page = b.list_keys(ACCOUNT, "us-east-1", None, 2).await.unwrap();
    assert_eq!(page[0].1, first.arn);
    assert_eq!(ids(page), [first.id, second.id]);
    let page = b
        .list_keys(ACCOUNT, "us-east-1", Some(second.id), 2)
        .await
        .unwrap();
    assert_eq!(ids(page), [third.id]);
    assert!(
        b.list_keys(ACCOUNT, "eu-west-1", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(b.count_keys(ACCOUNT, "us-east-1").await.unwrap(), 3);
    assert_eq!(b.count_keys(OTHER, "us-east-1").await.unwrap(), 1);
    assert_eq!(b.count_keys(OTHER, "eu-west-1").await.unwrap(), 0);

    // A duplicate key id is refused and leaves the first intact.
    assert!(matches!(
        a.insert_key(&first, &material(2), NO_LIMIT).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        versions(&b.key_materials(first.id).await.unwrap()),
        versions(&[material(1)])
    );

    // The bulk read pages through every account's keys with their
    // material and grants.
    a.insert_grant(&grant(second.id, "g-load", None), GrantLimits::NONE)
        .await
        .unwrap();
    let loaded = b.load_keys(None, 3).await.unwrap();
    assert_eq!(
        loaded.iter().map(|k| k.0.id).collect::<Vec<_>>(),
        [first.id, second.id, third.id]
    );
    assert!(
        loaded
            .iter()
            .all(|k| versions(&k.1) == versions(&[material(1)]))
    );
    assert_eq!(loaded[1].2, [grant(second.id, "g-load", None)]);
    assert!(loaded[0].2.is_empty());
    let rest = b.load_keys(Some(third.id), 3).await.unwrap();
    assert_eq!(
        rest.iter().map(|k| k.0.id).collect::<Vec<_>>(),
        [elsewhere.id]
    );
    assert!(b.load_keys(Some(elsewhere.id), 3).await.unwrap().is_empty());
    assert!(a.delete_grant(second.id, "g-load").await.unwrap());

    // The server's named values: made once, whoever asks first.
    assert_eq!(b.meta("marker-key").await.unwrap(), None);
    assert_eq!(a.meta_secret("marker-key", b"one").await.unwrap(), b"one");
    assert_eq!(b.meta_secret("marker-key", b"two").await.unwrap(), b"one");
    assert_eq!(b.meta("marker-key").await.unwrap().unwrap(), b"one");
}

async fn aliases_and_grants(a: &dyn Store, b: &dyn Store) {
    let target = key(ACCOUNT);
    let next = key(ACCOUNT);
    a.insert_key(&target, &material(1), NO_LIMIT).await.unwrap();
    a.insert_key(&next, &material(1), NO_LIMIT).await.unwrap();

    // Aliases are unique per account and region.
    let alias = AliasRecord {
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        name: "alias/x".into(),
        target: target.id,
        created_ms: 1,
        updated_ms: 1,
    };
    a.insert_alias(&alias, NO_LIMIT).await.unwrap();
    assert!(matches!(
        b.insert_alias(&alias, NO_LIMIT).await,
        Err(StoreError::Conflict(_))
    ));
    let same_name_elsewhere = AliasRecord {
        region: "eu-west-1".into(),
        ..alias.clone()
    };
    a.insert_alias(&same_name_elsewhere, NO_LIMIT)
        .await
        .unwrap();
    let moved = AliasRecord {
        target: next.id,
        updated_ms: 2,
        ..alias.clone()
    };
    a.update_alias(&moved, NO_LIMIT).await.unwrap();
    let mut all = b.all_aliases().await.unwrap();
    all.sort_by(|x, y| x.region.cmp(&y.region));
    assert_eq!(all, [same_name_elsewhere.clone(), moved]);
    a.delete_alias(ACCOUNT, "us-east-1", "alias/x")
        .await
        .unwrap();
    // Deleting again is not an error.
    a.delete_alias(ACCOUNT, "us-east-1", "alias/x")
        .await
        .unwrap();
    assert_eq!(b.all_aliases().await.unwrap(), [same_name_elsewhere]);
    a.delete_alias(ACCOUNT, "eu-west-1", "alias/x")
        .await
        .unwrap();

    // Grants: by key in creation order, by id, by retiring principal.
    let retiring = format!("arn:aws:iam::{ACCOUNT}:role/retirer");
    let g1 = grant(target.id, "g1", Some(&retiring));
    let g2 = GrantRecord {
        context_equals: None,
        context_subset: Some(BTreeMap::from([("b".into(), "2".into())])),
        name: None,
        created_ms: 6,
        ..grant(target.id, "g2", None)
    };
    let g3 = grant(next.id, "g3", Some(&retiring));
    // A grant for a service principal, retired by one named like the IAM
    // retiring principal: not among that principal's retirable grants.
    let g4 = GrantRecord {
        grantee: GrantPrincipal::Service("backup.amazonaws.com".into()),
        retiring: Some(GrantPrincipal::Service(retiring.clone())),
        context_equals: None,
        source_arn: Some(format!("arn:aws:backup:us-east-1:{ACCOUNT}:vault/v")),
        created_ms: 7,
        ..grant(next.id, "g4", None)
    };
    for g in [&g1, &g2, &g3, &g4] {
        a.insert_grant(g, GrantLimits::NONE).await.unwrap();
    }
    assert!(matches!(
        b.insert_grant(&g1, GrantLimits::NONE).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        b.list_grants(target.id).await.unwrap(),
        [g1.clone(), g2.clone()]
    );
    assert_eq!(b.find_grant("g2").await.unwrap(), Some(g2.clone()));
    assert_eq!(b.find_grant("g4").await.unwrap(), Some(g4.clone()));
    assert_eq!(b.find_grant("nope").await.unwrap(), None);
    let mut retirable = b.list_retirable_grants(&retiring).await.unwrap();
    retirable.sort_by(|x, y| x.grant_id.cmp(&y.grant_id));
    assert_eq!(retirable, [g1.clone(), g3.clone()]);
    // A grant is deleted through its key only.
    assert!(!a.delete_grant(next.id, "g1").await.unwrap());
    assert!(a.delete_grant(target.id, "g1").await.unwrap());
    assert!(!b.delete_grant(target.id, "g1").await.unwrap());
    assert_eq!(b.list_grants(target.id).await.unwrap(), [g2]);
}

async fn lifecycle(a: &dyn Store, b: &dyn Store) {
    // Rotation: a new material version, its record and the key, at once.
    let mut rotating = key(OTHER);
    rotating.rotation_enabled = true;
    rotating.rotation_period_days = Some(90);
    rotating.next_rotation_ms = Some(1_000);
    a.insert_key(&rotating, &material(1), NO_LIMIT)
        .await
        .unwrap();
    let due = b.due_work(999).await.unwrap();
    assert!(!due.contains(&DueWork::Rotate(rotating.id)), "{due:?}");
    assert!(
        b.due_work(1_000)
            .await
            .unwrap()
            .contains(&DueWork::Rotate(rotating.id))
    );
    let rotation = RotationRecord {
        key_id: rotating.id,
        version: 2,
        rotated_ms: 1_000,
        on_demand: false,
    };
    let rotated = KeyRecord {
        current_material: 2,
        next_rotation_ms: Some(2_000),
        ..rotating.clone()
    };
    a.rotate_key(&rotated, &material(2), &rotation)
        .await
        .unwrap();
    assert_eq!(
        versions(&b.key_materials(rotating.id).await.unwrap()),
        versions(&[material(1), material(2)])
    );
    assert_eq!(b.get_key(rotating.id).await.unwrap().unwrap(), rotated);
    assert!(
        !b.due_work(1_500)
            .await
            .unwrap()
            .contains(&DueWork::Rotate(rotating.id))
    );
    let on_demand = RotationRecord {
        version: 3,
        on_demand: true,
        rotated_ms: 1_100,
        ..rotation.clone()
    };
    let again = KeyRecord {
        current_material: 3,
        ..rotated.clone()
    };
    a.rotate_key(&again, &material(3), &on_demand)
        .await
        .unwrap();
    assert_eq!(
        b.list_rotations(rotating.id).await.unwrap(),
        [rotation.clone(), on_demand]
    );
    // The same version twice (a rotation that lost a race): refused whole.
    let late = KeyRecord {
        description: "late".into(),
        ..again.clone()
    };
    assert!(matches!(
        a.rotate_key(
            &late,
            &material(3),
            &RotationRecord {
                rotated_ms: 9,
                ..rotation
            }
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(b.get_key(rotating.id).await.unwrap().unwrap(), again);
    assert_eq!(b.list_rotations(rotating.id).await.unwrap().len(), 2);

    // Deletion when its window ends: the material, aliases, grants and
    // rotations go, a tombstone stays.
    let mut doomed = key(OTHER);
    doomed.state = KeyState::PendingDeletion;
    doomed.deletion_date_ms = Some(3_000);
    a.insert_key(&doomed, &material(1), NO_LIMIT).await.unwrap();
    assert!(
        !b.due_work(2_999)
            .await
            .unwrap()
            .contains(&DueWork::Delete(doomed.id))
    );
    assert!(
        b.due_work(3_000)
            .await
            .unwrap()
            .contains(&DueWork::Delete(doomed.id))
    );
    for id in [doomed.id, rotating.id] {
        a.insert_alias(
            &AliasRecord {
                account: OTHER.into(),
                region: "us-east-1".into(),
                name: format!("alias/{id}"),
                target: id,
                created_ms: 1,
                updated_ms: 1,
            },
            NO_LIMIT,
        )
        .await
        .unwrap();
    }
    a.insert_grant(&grant(doomed.id, "g-doomed", None), GrantLimits::NONE)
        .await
        .unwrap();
    a.rotate_key(
        &KeyRecord {
            current_material: 2,
            ..doomed.clone()
        },
        &material(2),
        &RotationRecord {
            key_id: doomed.id,
            version: 2,
            rotated_ms: 1,
            on_demand: true,
        },
    )
    .await
    .unwrap();
    assert!(!b.key_was_deleted(doomed.id).await.unwrap());
    assert!(a.delete_key(doomed.id).await.unwrap());
    assert!(b.key_was_deleted(doomed.id).await.unwrap());
    assert!(b.get_key(doomed.id).await.unwrap().is_none());
    assert!(b.key_materials(doomed.id).await.unwrap().is_empty());
    assert!(b.list_rotations(doomed.id).await.unwrap().is_empty());
    assert!(b.list_grants(doomed.id).await.unwrap().is_empty());
    assert_eq!(b.find_grant("g-doomed").await.unwrap(), None);
    let aliases = b.all_aliases().await.unwrap();
    assert!(aliases.iter().all(|a| a.target != doomed.id));
    assert!(aliases.iter().any(|a| a.target == rotating.id));
    assert!(
        !b.due_work(i64::MAX)
            .await
            .unwrap()
            .contains(&DueWork::Delete(doomed.id))
    );
    // Deleting what is gone is not an error; a never-seen id was not deleted.
    assert!(!a.delete_key(doomed.id).await.unwrap());
    assert!(!b.key_was_deleted(Uuid::new_v4()).await.unwrap());
    // The other keys are untouched.
    assert_eq!(b.key_materials(rotating.id).await.unwrap().len(), 3);
}

/// Imported material: a key created without any, its material imported,
/// replaced, destroyed, and its expiry due; each write one transaction,
/// over the key as it was read.
/// A multi-Region family: a primary in one Region, a replica with every
/// material version in another; the family's keys listed per account.
async fn multi_region(a: &dyn Store, b: &dyn Store) {
    let family = Uuid::from_u128(0x0123_4567_89ab_8def_8123_4567_89ab_cdef);
    let related = |region: &str, id: Uuid| KeyRecord {
        id,
        region: region.into(),
        arn: format!("arn:aws:kms:{region}:{ACCOUNT}:key/mrk-{}", family.simple()),
        current_material: 2,
        multi_region: Some(MultiRegion {
            family,
            primary_region: "us-east-1".into(),
        }),
        ..key(ACCOUNT)
    };
    let primary = related("us-east-1", Uuid::new_v4());
    a.insert_key(&primary, &material(1), NO_LIMIT)
        .await
        .unwrap();
    assert_eq!(b.get_key(primary.id).await.unwrap().unwrap(), primary);
    let second = RotationRecord {
        key_id: primary.id,
        version: 2,
        rotated_ms: 1_700_000_000_000,
        on_demand: true,
    };
    a.rotate_key(&primary, &material(2), &second).await.unwrap();
    let replica = related("eu-west-1", Uuid::new_v4());
    // Copies of fewer versions than the primary has: refused.
    assert!(matches!(
        a.insert_replica(&replica, primary.id, &[material(1)], NO_LIMIT)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(b.get_key(replica.id).await.unwrap().is_none());
    let copies = [material(1), material(2)];
    // A replica naming another primary Region than the primary's row.
    let mut moved = related("ap-northeast-1", Uuid::new_v4());
    moved.multi_region.as_mut().unwrap().primary_region = "eu-west-1".into();
    assert!(matches!(
        a.insert_replica(&moved, primary.id, &copies, NO_LIMIT)
            .await,
        Err(StoreError::Conflict(_))
    ));
    a.insert_replica(&replica, primary.id, &copies, NO_LIMIT)
        .await
        .unwrap();
    assert_eq!(b.get_key(replica.id).await.unwrap().unwrap(), replica);
    assert_eq!(
        versions(&b.key_materials(replica.id).await.unwrap()),
        versions(&copies)
    );
    // One transaction: a replica over the Region's quota leaves nothing,
    // material included; the same id again is a conflict.
    let over = related("ap-south-1", Uuid::new_v4());
    let held = b.count_keys(ACCOUNT, "ap-south-1").await.unwrap();
    assert!(matches!(
        a.insert_replica(&over, primary.id, &copies, held).await,
        Err(StoreError::Full { .. })
    ));
    assert!(b.get_key(over.id).await.unwrap().is_none());
    assert!(b.key_materials(over.id).await.unwrap().is_empty());
    assert!(matches!(
        a.insert_replica(&replica, primary.id, &copies, NO_LIMIT)
            .await,
        Err(StoreError::Conflict(_))
    ));
    // The family's keys, by Region; none in another account.
    let listed = b.related_keys(ACCOUNT, family).await.unwrap();
    assert_eq!(listed, vec![replica.clone(), primary.clone()]);
    assert!(b.related_keys(OTHER, family).await.unwrap().is_empty());
    // A family's rotation: every key gets the version, or none does.
    let rotated = |k: &KeyRecord, version: u32| {
        let record = KeyRecord {
            current_material: version,
            ..k.clone()
        };
        let rotation = RotationRecord {
            key_id: k.id,
            version,
            rotated_ms: 1_800_000_000_000,
            on_demand: true,
        };
        (record, material(version), rotation)
    };
    a.rotate_family(&[rotated(&primary, 3), rotated(&replica, 3)])
        .await
        .unwrap();
    for k in [&primary, &replica] {
        assert_eq!(b.get_key(k.id).await.unwrap().unwrap().current_material, 3);
        let got = b.key_materials(k.id).await.unwrap();
        assert_eq!(got.last().map(|m| m.version), Some(3));
        let rotations = b.list_rotations(k.id).await.unwrap();
        assert_eq!(rotations.last().map(|r| r.version), Some(3));
    }
    // A rotation leaving out a key of the family: refused.
    assert!(matches!(
        a.rotate_family(&[rotated(&primary, 4)]).await,
        Err(StoreError::Conflict(_))
    ));
    // The replica has version 3: the primary's version 4 is not kept.
    assert!(matches!(
        a.rotate_family(&[rotated(&primary, 4), rotated(&replica, 3)])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        b.get_key(primary.id)
            .await
            .unwrap()
            .unwrap()
            .current_material,
        3
    );
    assert!(
        b.key_materials(primary.id)
            .await
            .unwrap()
            .iter()
            .all(|m| m.version != 4)
    );
    // The roles swapped in one transaction; a stale `previous` for any
    // key writes none of them.
    let (p3, r3) = (
        b.get_key(primary.id).await.unwrap().unwrap(),
        b.get_key(replica.id).await.unwrap().unwrap(),
    );
    let moved = |k: &KeyRecord| {
        let mut next = k.clone();
        next.multi_region.as_mut().unwrap().primary_region = "eu-west-1".into();
        next
    };
    assert!(matches!(
        a.update_keys(&[(moved(&p3), p3.clone()), (moved(&r3), primary.clone())])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(b.get_key(primary.id).await.unwrap().unwrap(), p3);
    a.update_keys(&[(moved(&p3), p3.clone()), (moved(&r3), r3.clone())])
        .await
        .unwrap();
    for k in b.related_keys(ACCOUNT, family).await.unwrap() {
        assert_eq!(k.multi_region.unwrap().primary_region, "eu-west-1");
    }
    // A primary waiting for its replicas is due once the last is deleted.
    let waiting_for = b.get_key(primary.id).await.unwrap().unwrap();
    let waiting = KeyRecord {
        state: KeyState::PendingReplicaDeletion,
        pending_window_days: Some(7),
        ..waiting_for.clone()
    };
    a.update_key(&waiting, &waiting_for).await.unwrap();
    let due = |work: Vec<DueWork>| work.contains(&DueWork::Delete(primary.id));
    assert!(!due(b.due_work(i64::MAX).await.unwrap()));
    assert!(a.delete_key(replica.id).await.unwrap());
    assert!(due(b.due_work(0).await.unwrap()));
    // A single-Region key has no family columns.
    let single = key(ACCOUNT);
    a.insert_key(&single, &material(1), NO_LIMIT).await.unwrap();
    assert_eq!(
        b.get_key(single.id).await.unwrap().unwrap().multi_region,
        None
    );
}

/// `write_imported` of one key.
async fn write_one(
    store: &dyn Store,
    key: &KeyRecord,
    previous: &KeyRecord,
    put: Option<&SealedMaterial>,
    destroy: &[u32],
) -> Result<(), StoreError> {
    let write = ImportedWrite {
        key,
        previous,
        put,
        destroy,
    };
    store.write_imported(&[write]).await
}

async fn imported_material(a: &dyn Store, b: &dyn Store) {
    let pending = KeyRecord {
        origin: OriginType::External,
        state: KeyState::PendingImport,
        ..key(ACCOUNT)
    };
    a.insert_key_without_material(&pending, NO_LIMIT)
        .await
        .unwrap();
    assert_eq!(b.get_key(pending.id).await.unwrap().unwrap(), pending);
    assert!(b.key_materials(pending.id).await.unwrap().is_empty());
    // Counted against the key quota like any key.
    let over = KeyRecord {
        origin: OriginType::External,
        ..key(ACCOUNT)
    };
    let held = b.count_keys(ACCOUNT, "us-east-1").await.unwrap();
    assert!(matches!(
        a.insert_key_without_material(&over, held).await,
        Err(StoreError::Full { .. })
    ));
    assert!(b.get_key(over.id).await.unwrap().is_none());

    // The first material: version 1, current.
    let first = KeyRecord {
        state: KeyState::Enabled,
        imported: vec![imported(1, Some(5_000))],
        ..pending.clone()
    };
    write_one(a, &first, &pending, Some(&material(1)), &[])
        .await
        .unwrap();
    assert_eq!(b.get_key(pending.id).await.unwrap().unwrap(), first);
    assert_eq!(
        versions(&b.key_materials(pending.id).await.unwrap()),
        versions(&[material(1)])
    );
    // Written over a key that changed meanwhile: refused, nothing written.
    assert!(matches!(
        write_one(a, &first, &pending, None, &[1]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(b.key_materials(pending.id).await.unwrap().len(), 1);
    // A second material, pending rotation, with its own expiry.
    let staged = KeyRecord {
        imported: vec![
            imported(1, Some(5_000)),
            ImportedMaterial {
                state: KeyMaterialState::PendingRotation,
                ..imported(2, Some(7_000))
            },
        ],
        ..first.clone()
    };
    write_one(a, &staged, &first, Some(&material(2)), &[])
        .await
        .unwrap();
    assert_eq!(b.get_key(pending.id).await.unwrap().unwrap(), staged);
    assert_eq!(b.key_materials(pending.id).await.unwrap().len(), 2);
    // The key's row as read, but its materials not: refused (another
    // node changed only a material meanwhile).
    let other_node = KeyRecord {
        imported: vec![imported(1, None)],
        ..first.clone()
    };
    assert!(matches!(
        write_one(a, &other_node, &first, None, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(b.get_key(pending.id).await.unwrap().unwrap(), staged);
    // update_key leaves the materials as they are.
    let described = KeyRecord {
        description: "imported".into(),
        ..staged.clone()
    };
    a.update_key(&described, &staged).await.unwrap();
    assert_eq!(b.get_key(pending.id).await.unwrap().unwrap(), described);

    // Expiry due at each material's ValidTo.
    let due = |now| async move {
        b.due_work(now)
            .await
            .unwrap()
            .contains(&DueWork::Expire(pending.id))
    };
    assert!(!due(4_999).await);
    assert!(due(5_000).await);
    // One destroyed: its row stays (pending import), the other's
    // material too; the next expiry is the other's.
    let mut gone = imported(1, None);
    gone.import_state = ImportState::PendingImport;
    gone.expiration_model = None;
    let expired = KeyRecord {
        state: KeyState::PendingImport,
        imported: vec![gone, described.imported[1].clone()],
        ..described.clone()
    };
    write_one(a, &expired, &described, None, &[1])
        .await
        .unwrap();
    assert_eq!(b.get_key(pending.id).await.unwrap().unwrap(), expired);
    assert_eq!(
        versions(&b.key_materials(pending.id).await.unwrap()),
        versions(&[material(2)])
    );
    assert!(!due(6_999).await);
    assert!(due(7_000).await);
    // Imported again under its version: replaced.
    write_one(a, &described, &expired, Some(&material(1)), &[])
        .await
        .unwrap();
    assert_eq!(b.key_materials(pending.id).await.unwrap().len(), 2);

    // A copied key (`trent store copy`) brings its materials.
    let copied = KeyRecord {
        id: Uuid::new_v4(),
        ..described.clone()
    };
    a.insert_key(&copied, &material(1), NO_LIMIT).await.unwrap();
    assert_eq!(b.get_key(copied.id).await.unwrap().unwrap(), copied);
    // Deleted with the key.
    assert!(a.delete_key(copied.id).await.unwrap());
    assert!(b.get_key(copied.id).await.unwrap().is_none());

    // Several keys at once (a multi-Region family's rotation): all, or
    // none when one of them changed meanwhile.
    let other = KeyRecord {
        id: Uuid::new_v4(),
        ..pending.clone()
    };
    a.insert_key_without_material(&other, NO_LIMIT)
        .await
        .unwrap();
    let other_first = KeyRecord {
        state: KeyState::Enabled,
        imported: vec![imported(1, None)],
        ..other.clone()
    };
    let rotated = |key: &KeyRecord| KeyRecord {
        description: "rotated".into(),
        ..key.clone()
    };
    let (both, stale) = (rotated(&described), rotated(&other_first));
    let conflicting = [
        ImportedWrite::rewrite(&both, &described),
        ImportedWrite {
            destroy: &[1],
            ..ImportedWrite::rewrite(&stale, &other_first)
        },
    ];
    assert!(matches!(
        a.write_imported(&conflicting).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(b.get_key(pending.id).await.unwrap().unwrap(), described);
    write_one(a, &other_first, &other, Some(&material(1)), &[])
        .await
        .unwrap();
    // The second key listed first: written in any order.
    let together = [
        ImportedWrite {
            destroy: &[1],
            ..ImportedWrite::rewrite(&stale, &other_first)
        },
        ImportedWrite::rewrite(&both, &described),
    ];
    a.write_imported(&together).await.unwrap();
    assert_eq!(b.get_key(pending.id).await.unwrap().unwrap(), both);
    assert_eq!(b.get_key(other.id).await.unwrap().unwrap(), stale);
    assert!(b.key_materials(other.id).await.unwrap().is_empty());
}

async fn identities(a: &dyn Store, b: &dyn Store) {
    // Accounts, each with its root's first key: together, once.
    let root = credential("AKIAROOT", ACCOUNT, None);
    assert!(!b.account_exists(ACCOUNT).await.unwrap());
    a.insert_account(ACCOUNT, Some(&root)).await.unwrap();
    assert!(b.account_exists(ACCOUNT).await.unwrap());
    a.insert_account(OTHER, None).await.unwrap();
    assert!(matches!(
        b.insert_account(ACCOUNT, Some(&credential("AKIALATE", ACCOUNT, None)))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // The refused account's key was not stored either.
    assert!(b.get_credential("AKIALATE").await.unwrap().is_none());
    // A new account whose root key's id is taken: neither is stored.
    assert!(matches!(
        b.insert_account(
            "777788889999",
            Some(&credential("AKIAROOT", "777788889999", None))
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(!b.account_exists("777788889999").await.unwrap());

    // Access keys: the root's, a user's, a session's.
    let users = credential("AKIAUSER", ACCOUNT, Some("alice"));
    a.insert_credential(&users).await.unwrap();
    assert!(matches!(
        b.insert_credential(&users).await,
        Err(StoreError::Conflict(_))
    ));
    let session = Credential {
        session: Some(SessionRecord {
            token_sha256: vec![7; 32],
            expires_ms: 99,
            role_name: "r".into(),
            role_id: "AROAR".into(),
            session_name: "s".into(),
        }),
        principal_arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/r/s"),
        ..credential("ASIASESSION", ACCOUNT, None)
    };
    a.insert_credential(&session).await.unwrap();
    let read = b.get_credential("ASIASESSION").await.unwrap().unwrap();
    let got = read.session.unwrap();
    assert_eq!(
        (
            got.token_sha256,
            got.expires_ms,
            got.role_name,
            got.role_id,
            got.session_name
        ),
        (vec![7; 32], 99, "r".into(), "AROAR".into(), "s".into())
    );
    let read = b.get_credential("AKIAUSER").await.unwrap().unwrap();
    assert_eq!(
        (
            read.account,
            read.principal_arn,
            read.sealed_secret,
            read.user_name,
            read.active
        ),
        (
            users.account.clone(),
            users.principal_arn.clone(),
            vec![9; 40],
            Some("alice".into()),
            true
        )
    );
    // Listings hold long-term keys only: the root's, or one user's.
    let ids = |list: Vec<Credential>| {
        list.into_iter()
            .map(|c| c.access_key_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(b.list_credentials(ACCOUNT, None).await.unwrap()),
        ["AKIAROOT"]
    );
    assert_eq!(
        ids(b.list_credentials(ACCOUNT, Some("alice")).await.unwrap()),
        ["AKIAUSER"]
    );
    a.set_credential_active("AKIAUSER", false).await.unwrap();
    assert!(!b.get_credential("AKIAUSER").await.unwrap().unwrap().active);
    a.set_credential_active("AKIAUSER", true).await.unwrap();
    assert!(b.get_credential("AKIAUSER").await.unwrap().unwrap().active);
    assert!(a.delete_credential("ASIASESSION").await.unwrap());
    assert!(!b.delete_credential("ASIASESSION").await.unwrap());
    assert!(b.get_credential("ASIASESSION").await.unwrap().is_none());

    // Users, groups and roles: unique by name per kind and account.
    let alice = entity(EntityKind::User, "alice");
    let admins = entity(EntityKind::Group, "admins");
    let role = entity(EntityKind::Role, "deployer");
    for e in [&alice, &admins, &role] {
        a.insert_entity(e).await.unwrap();
    }
    assert!(matches!(
        b.insert_entity(&entity(EntityKind::User, "alice")).await,
        Err(StoreError::Conflict(_))
    ));
    // Another kind may share the name.
    let alice_group = entity(EntityKind::Group, "alice");
    a.insert_entity(&alice_group).await.unwrap();
    let got = b
        .get_entity(ACCOUNT, EntityKind::Role, "deployer")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            got.id,
            got.arn,
            got.trust_policy,
            got.description,
            got.max_session_duration
        ),
        (
            role.id.clone(),
            role.arn.clone(),
            role.trust_policy.clone(),
            role.description.clone(),
            Some(3600)
        )
    );
    assert!(
        b.get_entity(OTHER, EntityKind::Role, "deployer")
            .await
            .unwrap()
            .is_none()
    );
    let names = |list: Vec<IamEntity>| list.into_iter().map(|e| e.name).collect::<Vec<_>>();
    assert_eq!(
        names(b.list_entities(ACCOUNT, EntityKind::Group).await.unwrap()),
        ["admins", "alice"]
    );

    // Inline policies: created, replaced, listed by name, deleted.
    a.put_policy(ACCOUNT, EntityKind::User, "alice", "p2", "{2}")
        .await
        .unwrap();
    a.put_policy(ACCOUNT, EntityKind::User, "alice", "p1", "{1}")
        .await
        .unwrap();
    a.put_policy(ACCOUNT, EntityKind::User, "alice", "p2", "{2b}")
        .await
        .unwrap();
    a.put_policy(ACCOUNT, EntityKind::Group, "alice", "p1", "{group}")
        .await
        .unwrap();
    assert_eq!(
        b.list_policies(ACCOUNT, EntityKind::User, "alice")
            .await
            .unwrap(),
        [("p1".into(), "{1}".into()), ("p2".into(), "{2b}".into())]
    );
    assert!(
        a.delete_policy(ACCOUNT, EntityKind::User, "alice", "p1")
            .await
            .unwrap()
    );
    assert!(
        !b.delete_policy(ACCOUNT, EntityKind::User, "alice", "p1")
            .await
            .unwrap()
    );
    assert_eq!(
        b.list_policies(ACCOUNT, EntityKind::Group, "alice")
            .await
            .unwrap(),
        [("p1".into(), "{group}".into())]
    );

    // Group membership, both ways; a member added again: Conflict.
    a.add_group_member(ACCOUNT, "admins", "alice")
        .await
        .unwrap();
    assert!(matches!(
        b.add_group_member(ACCOUNT, "admins", "alice").await,
        Err(StoreError::Conflict(_))
    ));
    a.add_group_member(ACCOUNT, "alice", "alice").await.unwrap();
    a.add_group_member(ACCOUNT, "admins", "bob").await.unwrap();
    assert_eq!(
        b.groups_of_user(ACCOUNT, "alice").await.unwrap(),
        ["admins", "alice"]
    );
    assert_eq!(
        b.members_of_group(ACCOUNT, "admins").await.unwrap(),
        ["alice", "bob"]
    );
    assert!(
        a.remove_group_member(ACCOUNT, "admins", "alice")
            .await
            .unwrap()
    );
    assert!(
        !b.remove_group_member(ACCOUNT, "admins", "alice")
            .await
            .unwrap()
    );
    assert_eq!(
        b.members_of_group(ACCOUNT, "admins").await.unwrap(),
        ["bob"]
    );

    assert!(
        a.delete_entity(ACCOUNT, EntityKind::User, "alice")
            .await
            .unwrap()
    );
    assert!(
        !b.delete_entity(ACCOUNT, EntityKind::User, "alice")
            .await
            .unwrap()
    );
    assert!(
        b.get_entity(ACCOUNT, EntityKind::User, "alice")
            .await
            .unwrap()
            .is_none()
    );
}

/// An event of the audit tests: `Encrypt` at odd seqs, `Decrypt` at even
/// ones, a second apart, filed into `ACCOUNT`.
fn event(seq: i64) -> AuditEvent {
    AuditEvent {
        time_ms: trent_core::audit::parse_rfc3339_ms("2026-11-23T10:00:00Z").unwrap() + seq * 1000,
        source: EventSource::Kms,
        name: if seq % 2 == 0 { "Decrypt" } else { "Encrypt" }.into(),
        region: "us-east-1".into(),
        source_ip: None,
        user_agent: Some("agent".into()),
        actor: Actor::Service {
            account: ACCOUNT.into(),
        },
        request_parameters: None,
        response_elements: None,
        error: None,
        request_id: Some(Id::parse(&format!("r{seq}"))),
        read_only: true,
        service_event: false,
        key_arns: Default::default(),
        recipient: None,
    }
}

/// The audit methods: blocks appended after `stored` (blocks already in
/// the store, ending in the hash `prev`) read back from any position,
/// looked up by account, attribute and time; digests; key usage. The
/// trail ends holding events 1..=11.
pub(crate) async fn audit(
    a: &dyn Store,
    b: &dyn Store,
    stored: Vec<AuditBlock>,
    mut prev: Vec<u8>,
) {
    let mut next = stored.last().map_or(1, |s| s.last_seq + 1);
    let mut blocks = stored;
    if blocks.is_empty() {
        assert!(b.audit_tail().await.unwrap().last_event.is_none());
    }
    // Blocks 1..=2 (unless given), 3..=5, 6, 7..=11.
    let batches: &[i64] = if blocks.is_empty() {
        &[2, 3, 1, 5]
    } else {
        &[3, 1, 5]
    };
    assert_eq!(next, 12 - batches.iter().sum::<i64>());
    for &batch in batches {
        let events: Vec<AuditEvent> = (next..next + batch).map(event).collect();
        let mut encoder = BlockEncoder::new([1; 8]);
        for (e, seq) in events.iter().zip(next..) {
            prev = encoder.push(e, seq, &prev).to_vec();
        }
        let block = encoder.into_block(next).unwrap();
        assert_eq!(block.last_seq, next + batch - 1);
        // Both kinds of commit: durable (a mutation waits) and not.
        let durable = batch == 1;
        a.append_audit(Some(block.clone()), None, &[], None, durable)
            .await
            .unwrap();
        blocks.push(block);
        next += batch;
    }
    // A block whose seqs are taken (another writer's): refused.
    let mut encoder = BlockEncoder::new([2; 8]);
    let taken = event(3);
    encoder.push(&taken, 3, &[0; 32]);
    assert!(matches!(
        b.append_audit(Some(encoder.into_block(3).unwrap()), None, &[], None, true)
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Raw blocks, from any seq on.
    let raw = b.audit_blocks(0, 100).await.unwrap();
    assert_eq!(raw.len(), blocks.len());
    for (got, made) in raw.iter().zip(&blocks) {
        assert_eq!(
            (got.first_seq, got.last_seq, &got.events, &got.hashes),
            (made.first_seq, made.last_seq, &made.events, &made.hashes)
        );
    }
    let from_4 = b.audit_blocks(4, 1).await.unwrap();
    assert_eq!((from_4[0].first_seq, from_4[0].last_seq), (3, 5));

    // Decoded events, from any position, in pages of any size.
    let all = read::events(b, 0, 100).await.unwrap();
    assert_eq!(all.len(), 11);
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=11).collect::<Vec<_>>()
    );
    for after in 0..=all.len() {
        for limit in [1, 2, 4, 100] {
            let page = read::events(b, after as i64, limit).await.unwrap();
            let expected: Vec<AuditRecord> = all.iter().skip(after).take(limit).cloned().collect();
            assert_eq!(page, expected, "after {after}, limit {limit}");
        }
    }
    let tail = b.audit_tail().await.unwrap();
    assert_eq!(tail.last_event.unwrap(), (11, prev.clone()));

    // Lookups: every page, following NextToken: after a full page's last
    // event, or where a page the budget cut short stopped.
    async fn all_pages(store: &dyn Store, mut query: AuditLookup) -> Vec<i64> {
        let mut seen = Vec::new();
        loop {
            let page = read::lookup(store, &query).await.unwrap();
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
        account: ACCOUNT.into(),
        attribute: Some((LookupAttribute::EventName, "Encrypt".into())),
        start_ms: None,
        end_ms: None,
        before_seq: None,
        limit: 2,
        budget: 20_000,
    };
    let seen = all_pages(b, query.clone()).await;
    assert_eq!(seen, [11, 9, 7, 5, 3, 1]);
    // A budget of one event decodes a block per call: the same events.
    let frugal = all_pages(
        b,
        AuditLookup {
            budget: 1,
            ..query.clone()
        },
    )
    .await;
    assert_eq!(frugal, seen);
    // Another account's lookup finds none of them, and the store hands
    // over none of the blocks after the first two (indexed by account).
    let other = read::lookup(
        b,
        &AuditLookup {
            account: "999999999999".into(),
            ..query.clone()
        },
    )
    .await
    .unwrap();
    assert!(other.records.is_empty());
    let candidates = b
        .audit_blocks_of_account("999999999999", i64::MAX, i64::MIN, i64::MAX, 100)
        .await
        .unwrap();
    assert!(candidates.iter().all(|c| c.last_seq <= 2), "{candidates:?}");
    // Newest first, within a time range.
    let (mut mine, mut before) = (Vec::new(), 7);
    loop {
        let got = b
            .audit_blocks_of_account(ACCOUNT, before, i64::MIN, i64::MAX, 100)
            .await
            .unwrap();
        let Some(last) = got.last() else { break };
        before = last.first_seq;
        mine.extend(got.iter().map(|m| m.first_seq));
    }
    assert_eq!(mine, [6, 3, 1]);
    query.before_seq = None;
    query.attribute = None;
    query.start_ms = trent_core::audit::parse_rfc3339_ms("2026-11-23T10:00:04Z");
    query.end_ms = trent_core::audit::parse_rfc3339_ms("2026-11-23T10:00:05Z");
    query.limit = 50;
    let page = read::lookup(b, &query).await.unwrap();
    assert_eq!(
        page.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [5, 4]
    );

    // Digests: appended with a block or alone, read in order, the last in
    // the tail; a digest seq taken is refused.
    let digest = |seq: i64, through: i64| AuditDigest {
        seq,
        first_event_seq: 1,
        last_event_seq: through,
        last_hash: vec![seq as u8; 32],
        created_ms: 10 + seq,
        signature: vec![1; 64],
    };
    a.append_audit(None, Some(&digest(1, 6)), &[], None, true)
        .await
        .unwrap();
    a.append_audit(None, Some(&digest(2, 11)), &[], None, true)
        .await
        .unwrap();
    assert!(matches!(
        b.append_audit(None, Some(&digest(2, 11)), &[], None, true)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        b.audit_digests(0, 10).await.unwrap(),
        [digest(1, 6), digest(2, 11)]
    );
    assert_eq!(b.audit_digests(1, 10).await.unwrap(), [digest(2, 11)]);
    assert_eq!(b.audit_digests(0, 1).await.unwrap(), [digest(1, 6)]);
    assert_eq!(
        b.audit_tail().await.unwrap().last_digest,
        Some(digest(2, 11))
    );

    // Key usage: many keys in one write, then some of them again; ids that
    // are UUIDs (stored as 16 bytes) and ids that are not (as text).
    let usage = |n: u128, operation: &str| {
        let event_id = match n % 3 {
            0 => Id::Text(format!("e{n}").into()),
            _ => Id::Uuid(Uuid::from_u128(n << 64)),
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
        key_id: Uuid::from_u128(n),
        last: usage(n, operation),
    };
    assert_eq!(b.audit_tail().await.unwrap().usage_through, 0);
    let first: Vec<KeyUsage> = (1..=1200).map(|n| row(n, "Encrypt")).collect();
    a.append_audit(None, None, &first, None, false)
        .await
        .unwrap();
    let again: Vec<KeyUsage> = (1000..=1002).map(|n| row(n, "Decrypt")).collect();
    a.append_audit(None, None, &again, Some(11), true)
        .await
        .unwrap();
    assert_eq!(b.audit_tail().await.unwrap().usage_through, 11);
    for (n, operation) in [
        (1, "Encrypt"),
        (999, "Encrypt"),
        (1001, "Decrypt"),
        (1002, "Decrypt"),
        (1200, "Encrypt"),
    ] {
        let got = b.key_last_usage(Uuid::from_u128(n)).await.unwrap().unwrap();
        assert_eq!(got, usage(n, operation));
    }
    assert_eq!(b.key_last_usage(Uuid::from_u128(5000)).await.unwrap(), None);
    // Another writer storing an older use of a key later (a node whose
    // batch was slower) leaves the latest use; a newer one replaces it.
    let older = KeyUsage {
        key_id: Uuid::from_u128(1200),
        last: Usage::new("Sign", 1199, Id::Text("older".into()), None).unwrap(),
    };
    b.append_audit(None, None, &[older], None, true)
        .await
        .unwrap();
    assert_eq!(
        a.key_last_usage(Uuid::from_u128(1200)).await.unwrap(),
        Some(usage(1200, "Encrypt"))
    );
    let newer = Usage::new("Sign", 1201, Id::Text("newer".into()), None).unwrap();
    let row_newer = KeyUsage {
        key_id: Uuid::from_u128(1200),
        last: newer.clone(),
    };
    b.append_audit(None, None, &[row_newer], None, true)
        .await
        .unwrap();
    assert_eq!(
        a.key_last_usage(Uuid::from_u128(1200)).await.unwrap(),
        Some(newer)
    );
    // A deleted key's usage goes with it.
    assert!(!a.delete_key(Uuid::from_u128(999)).await.unwrap());
    assert_eq!(b.key_last_usage(Uuid::from_u128(999)).await.unwrap(), None);
}

/// Writers racing through both handles: each uniqueness rule lets exactly
/// one through, and nothing of a refused write is left.
async fn concurrent_writers(a: &dyn Store, b: &dyn Store) {
    const RACERS: usize = 8;
    let handles = [a, b];
    let racing = |i: usize| handles[i % 2];

    // The same alias, created at once: one wins.
    let target = key(ACCOUNT);
    a.insert_key(&target, &material(1), NO_LIMIT).await.unwrap();
    let alias = |i: usize| AliasRecord {
        account: ACCOUNT.into(),
        region: "ap-south-1".into(),
        name: "alias/raced".into(),
        target: target.id,
        created_ms: i as i64,
        updated_ms: i as i64,
    };
    let results = futures_join(
        (0..RACERS).map(|i| async move { racing(i).insert_alias(&alias(i), NO_LIMIT).await }),
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))),
        "{results:?}"
    );
    let stored: Vec<_> = b
        .all_aliases()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.name == "alias/raced")
        .collect();
    assert_eq!(stored.len(), 1);

    // The same account, created at once: one wins, with its own root key.
    let results = futures_join((0..RACERS).map(|i| async move {
        racing(i)
            .insert_account(
                "555566667777",
                Some(&credential(&format!("AKIARACE{i}"), "555566667777", None)),
            )
            .await
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        b.list_credentials("555566667777", None)
            .await
            .unwrap()
            .len(),
        1
    );

    // The same server secret, asked for at once: one value for everyone.
    let results = futures_join((0..RACERS).map(|i| async move {
        racing(i)
            .meta_secret("raced", format!("candidate {i}").as_bytes())
            .await
    }))
    .await;
    let first = results[0].as_ref().unwrap();
    assert!(
        results.iter().all(|r| r.as_ref().unwrap() == first),
        "{results:?}"
    );

    // The same rotation, at once: one version 2, one record.
    let results = futures_join((0..RACERS).map(|i| {
        let rotated = KeyRecord {
            current_material: 2,
            next_rotation_ms: Some(i as i64),
            ..target.clone()
        };
        async move {
            racing(i)
                .rotate_key(
                    &rotated,
                    &material(2),
                    &RotationRecord {
                        key_id: rotated.id,
                        version: 2,
                        rotated_ms: i as i64,
                        on_demand: true,
                    },
                )
                .await
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let rotations = b.list_rotations(target.id).await.unwrap();
    assert_eq!(rotations.len(), 1);
    let winner = rotations[0].rotated_ms;
    // The key rewritten by the rotation that won, and by no other.
    assert_eq!(
        b.get_key(target.id)
            .await
            .unwrap()
            .unwrap()
            .next_rotation_ms,
        Some(winner)
    );

    // The same key changed at once from the same reading: one change
    // wins, the others are refused (and would read again and decide again).
    let stored = b.get_key(target.id).await.unwrap().unwrap();
    let results = futures_join((0..RACERS).map(|i| {
        let read = stored.clone();
        async move {
            let changed = KeyRecord {
                description: format!("changed by {i}"),
                ..read.clone()
            };
            racing(i).update_key(&changed, &read).await
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))),
        "{results:?}"
    );

    // The same grant, retired at once: one sees it go.
    a.insert_grant(&grant(target.id, "g-raced", None), GrantLimits::NONE)
        .await
        .unwrap();
    let results = futures_join(
        (0..RACERS).map(|i| async move { racing(i).delete_grant(target.id, "g-raced").await }),
    )
    .await;
    assert_eq!(
        results.iter().filter(|r| matches!(r, Ok(true))).count(),
        1,
        "{results:?}"
    );

    // The same key deleted at once (a deletion falling due on every
    // node): exactly one is told it deleted it.
    let doomed = key(ACCOUNT);
    a.insert_key(&doomed, &material(1), NO_LIMIT).await.unwrap();
    let results =
        futures_join((0..RACERS).map(|i| async move { racing(i).delete_key(doomed.id).await }))
            .await;
    assert_eq!(
        results.iter().filter(|r| matches!(r, Ok(true))).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // Many keys created at once through both handles: all there, counted.
    let keys: Vec<KeyRecord> = (0..4 * RACERS).map(|_| key(OTHER)).collect();
    let results = futures_join(
        keys.iter()
            .enumerate()
            .map(|(i, k)| async move { racing(i).insert_key(k, &material(1), NO_LIMIT).await }),
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for k in &keys {
        assert!(a.get_key(k.id).await.unwrap().is_some());
    }
    let listed = b.list_keys(OTHER, "us-east-1", None, 1000).await.unwrap();
    assert_eq!(
        listed.len() as u64,
        b.count_keys(OTHER, "us-east-1").await.unwrap()
    );
    assert!(
        keys.iter()
            .all(|k| listed.iter().any(|(id, _)| *id == k.id))
    );
}

/// The change feed: which writes feed which entries, in which order, read
/// through the other handle; paging; pruning. Also `get_alias`.
///
/// The triggers append one entry per row written (no deduplication), in
/// the order of the statements that wrote the rows, so the expected feed
/// below is exact: a method that writes two fed rows (a rotation: its
/// material version and its key) appends two entries, and one that writes
/// none (a new key, a delete of what is gone, an upsert of nothing)
/// appends none.
async fn changes(a: &dyn Store, b: &dyn Store) {
    const FEED: &str = "888877776666";
    let key_changed = |k: &KeyRecord| Changed::Key(k.id);
    let alias_changed = |name: &str| Changed::Alias {
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        name: name.into(),
    };
    let identity = || Changed::Identity {
        account: FEED.into(),
    };
    let started_ms = now_millis();
    let before = b.last_change().await.unwrap();
    // The rest of the suite wrote fed rows.
    assert!(before > 0);

    // A new key is in no cache: nothing fed.
    let fed = key(ACCOUNT);
    a.insert_key(&fed, &material(1), NO_LIMIT).await.unwrap();
    let other = key(ACCOUNT);
    a.insert_key(&other, &material(1), NO_LIMIT).await.unwrap();
    assert_eq!(b.last_change().await.unwrap(), before);
    assert!(b.changes_after(before, 1000).await.unwrap().is_empty());
    // Nor is anything that is not cached elsewhere: server values, audit.
    a.meta_secret("changes-test", b"v").await.unwrap();
    a.append_audit(None, None, &[], Some(11), true)
        .await
        .unwrap();
    assert_eq!(b.last_change().await.unwrap(), before);

    let mut expected = Vec::new();
    // The key's row rewritten: one entry (also when nothing differs).
    a.update_key(&fed, &fed).await.unwrap();
    expected.push(key_changed(&fed));
    // A rotation: the material version past the first, then the key's row.
    let rotated = KeyRecord {
        current_material: 2,
        ..fed.clone()
    };
    a.rotate_key(
        &rotated,
        &material(2),
        &RotationRecord {
            key_id: fed.id,
            version: 2,
            rotated_ms: 1,
            on_demand: true,
        },
    )
    .await
    .unwrap();
    expected.extend([key_changed(&fed), key_changed(&fed)]);
    // A grant made, removed; removing it again removes no row.
    a.insert_grant(&grant(fed.id, "g-fed", None), GrantLimits::NONE)
        .await
        .unwrap();
    assert!(a.delete_grant(fed.id, "g-fed").await.unwrap());
    assert!(!a.delete_grant(fed.id, "g-fed").await.unwrap());
    expected.extend([key_changed(&fed), key_changed(&fed)]);

    // Aliases, one whose name holds `/` beyond its prefix (the subject is
    // split at its first two `/` only).
    let name = "alias/fed/with/slashes";
    assert_eq!(b.get_alias(ACCOUNT, "us-east-1", name).await.unwrap(), None);
    let alias = AliasRecord {
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        name: name.into(),
        target: fed.id,
        created_ms: 1,
        updated_ms: 1,
    };
    a.insert_alias(&alias, NO_LIMIT).await.unwrap();
    assert_eq!(
        b.get_alias(ACCOUNT, "us-east-1", name).await.unwrap(),
        Some(alias.clone())
    );
    // Found by account, region and name together.
    assert_eq!(b.get_alias(ACCOUNT, "eu-west-1", name).await.unwrap(), None);
    assert_eq!(b.get_alias(OTHER, "us-east-1", name).await.unwrap(), None);
    assert_eq!(
        b.get_alias(ACCOUNT, "us-east-1", "alias/fed")
            .await
            .unwrap(),
        None
    );
    let moved = AliasRecord {
        target: other.id,
        updated_ms: 2,
        ..alias.clone()
    };
    a.update_alias(&moved, NO_LIMIT).await.unwrap();
    assert_eq!(
        b.get_alias(ACCOUNT, "us-east-1", name).await.unwrap(),
        Some(moved)
    );
    a.delete_alias(ACCOUNT, "us-east-1", name).await.unwrap();
    a.delete_alias(ACCOUNT, "us-east-1", name).await.unwrap();
    assert_eq!(b.get_alias(ACCOUNT, "us-east-1", name).await.unwrap(), None);
    expected.extend([
        alias_changed(name),
        alias_changed(name),
        alias_changed(name),
    ]);

    // A key's deletion: its aliases, its grants, its row, in that order
    // (the order of delete_key's statements); its material (past the
    // first version's insertion) is not fed on its own.
    a.insert_alias(
        &AliasRecord {
            name: "alias/doomed".into(),
            ..alias.clone()
        },
        NO_LIMIT,
    )
    .await
    .unwrap();
    a.insert_grant(&grant(fed.id, "g-doomed", None), GrantLimits::NONE)
        .await
        .unwrap();
    expected.extend([alias_changed("alias/doomed"), key_changed(&fed)]);
    assert!(a.delete_key(fed.id).await.unwrap());
    expected.extend([
        alias_changed("alias/doomed"),
        key_changed(&fed),
        key_changed(&fed),
    ]);
    // Deleting it again deletes no row.
    assert!(!a.delete_key(fed.id).await.unwrap());

    // Identities: an account with its root key (two rows), access keys,
    // entities, policies (made, replaced: one row each), memberships.
    a.insert_account(FEED, Some(&credential("AKIAFEEDROOT", FEED, None)))
        .await
        .unwrap();
    expected.extend([identity(), identity()]);
    a.insert_credential(&credential("AKIAFEEDUSER", FEED, Some("carol")))
        .await
        .unwrap();
    a.set_credential_active("AKIAFEEDUSER", false)
        .await
        .unwrap();
    assert!(a.delete_credential("AKIAFEEDUSER").await.unwrap());
    expected.extend([identity(), identity(), identity()]);
    let carol = IamEntity {
        account: FEED.into(),
        ..entity(EntityKind::User, "carol")
    };
    let team = IamEntity {
        account: FEED.into(),
        ..entity(EntityKind::Group, "team")
    };
    a.insert_entity(&carol).await.unwrap();
    a.insert_entity(&team).await.unwrap();
    a.put_policy(FEED, EntityKind::User, "carol", "p", "{1}")
        .await
        .unwrap();
    a.put_policy(FEED, EntityKind::User, "carol", "p", "{2}")
        .await
        .unwrap();
    a.add_group_member(FEED, "team", "carol").await.unwrap();
    assert!(a.remove_group_member(FEED, "team", "carol").await.unwrap());
    assert!(
        a.delete_policy(FEED, EntityKind::User, "carol", "p")
            .await
            .unwrap()
    );
    assert!(
        a.delete_entity(FEED, EntityKind::User, "carol")
            .await
            .unwrap()
    );
    expected.extend(std::iter::repeat_n(identity(), 8));
    // Writes that change no row feed nothing.
    assert!(!a.delete_credential("AKIAFEEDUSER").await.unwrap());
    assert!(!a.remove_group_member(FEED, "team", "carol").await.unwrap());

    // Exactly those, in that order, ids increasing, at the database's time.
    let fed_changes = b.changes_after(before, 1000).await.unwrap();
    assert_eq!(
        fed_changes.iter().map(|c| &c.changed).collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    assert!(fed_changes[0].id > before);
    assert!(fed_changes.windows(2).all(|w| w[0].id < w[1].id));
    let last = fed_changes.last().unwrap().clone();
    assert_eq!(b.last_change().await.unwrap(), last.id);
    assert_eq!(a.last_change().await.unwrap(), last.id);
    assert!(b.changes_after(last.id, 1000).await.unwrap().is_empty());
    // The database's clock and this one's: the same machine's, give or take.
    let ended_ms = now_millis();
    for change in &fed_changes {
        assert!(
            (started_ms - 5_000..=ended_ms + 5_000).contains(&change.at_ms),
            "{change:?} not within {started_ms}..={ended_ms}"
        );
    }

    // Pages of any size give the same changes.
    for limit in [1, 2, 5] {
        let mut paged: Vec<Change> = Vec::new();
        let mut after = before;
        loop {
            let page = b.changes_after(after, limit).await.unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = last.id;
            paged.extend(page);
        }
        assert_eq!(paged, fed_changes, "limit {limit}");
    }
    assert!(b.changes_after(before, 0).await.unwrap().is_empty());

    // Waiting: without a change, at most the timeout (SQLite sleeps it
    // out; PostgreSQL may be woken by another test's commit).
    let waited = std::time::Instant::now();
    b.wait_for_change(std::time::Duration::from_millis(50))
        .await
        .unwrap();
    assert!(waited.elapsed() < std::time::Duration::from_secs(5));

    // Pruning: nothing is older than the epoch; everything up to the last
    // change's millisecond goes, counted; the ids go on from where they
    // were (none drawn twice, also with the newest pruned).
    assert_eq!(a.prune_changes(0).await.unwrap(), 0);
    let everything = b.changes_after(0, 100_000).await.unwrap();
    let cut = last.at_ms + 1;
    let older = everything.iter().filter(|c| c.at_ms < cut).count() as u64;
    assert!(older >= fed_changes.len() as u64);
    assert_eq!(a.prune_changes(cut).await.unwrap(), older);
    assert!(
        b.changes_after(0, 100_000)
            .await
            .unwrap()
            .iter()
            .all(|c| c.at_ms >= cut)
    );
    assert_eq!(a.prune_changes(cut).await.unwrap(), 0);
    if older == everything.len() as u64 {
        // The feed is empty: its newest id is 0 again...
        assert_eq!(b.last_change().await.unwrap(), 0);
    }
    // ...but the next change's id follows the pruned ones.
    a.set_credential_active("AKIAFEEDROOT", true).await.unwrap();
    let after_prune = b.changes_after(last.id, 10).await.unwrap();
    assert_eq!(
        after_prune.iter().map(|c| &c.changed).collect::<Vec<_>>(),
        [&identity()]
    );
    assert!(after_prune[0].id > last.id);
    assert_eq!(b.last_change().await.unwrap(), after_prune[0].id);
}

/// A `changes` row decodes to its `Changed`, or to `Corrupt`: a kind this
/// version does not know, a subject not of its kind's form.
#[test]
fn change_rows_decode_or_are_corrupt() {
    let key = Uuid::new_v4();
    let decoded = |kind: &str, subject: &str| crate::decode_change(7, kind, subject, 9);
    assert_eq!(
        decoded("key", &key.to_string()).unwrap(),
        Change {
            id: 7,
            at_ms: 9,
            changed: Changed::Key(key)
        }
    );
    assert_eq!(
        decoded("alias", "111122223333/us-east-1/alias/a/b")
            .unwrap()
            .changed,
        Changed::Alias {
            account: "111122223333".into(),
            region: "us-east-1".into(),
            name: "alias/a/b".into()
        }
    );
    assert_eq!(
        decoded("identity", "111122223333").unwrap().changed,
        Changed::Identity {
            account: "111122223333".into()
        }
    );
    for (kind, subject) in [
        ("key", "not-a-uuid"),
        ("alias", "111122223333/us-east-1"),
        ("alias", "111122223333/us-east-1/"),
        ("alias", "/us-east-1/alias/a"),
        ("alias", "111122223333"),
        ("identity", ""),
        ("grant", "g1"),
        ("", ""),
    ] {
        assert!(
            matches!(decoded(kind, subject), Err(StoreError::Corrupt(_))),
            "{kind} {subject:?}"
        );
    }
}

/// A row of the feed that this version cannot read (a hand-made one, a
/// later version's kind) fails the read that reaches it, as corrupt.
#[tokio::test]
async fn sqlite_changes_after_a_corrupt_row_fail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trent.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.insert_account(ACCOUNT, None).await.unwrap();
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("INSERT INTO changes (kind, subject, at_ms) VALUES ('grant', 'g1', 1)")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    let first = store.changes_after(0, 1).await.unwrap();
    assert_eq!(
        first[0].changed,
        Changed::Identity {
            account: ACCOUNT.into()
        }
    );
    assert!(matches!(
        store.changes_after(first[0].id, 10).await,
        Err(StoreError::Corrupt(_))
    ));
}

/// The resource quotas the store keeps hold under inserts racing through
/// both handles (as from two nodes): exactly as many are admitted as there
/// was room for, the rest are told `Full` with what the scope holds, and a
/// deletion gives its place back.
async fn resource_quotas(a: &dyn Store, b: &dyn Store) {
    const RACERS: usize = 12;
    let handles = [a, b];
    let racing = |i: usize| handles[i % 2];
    let outcome = |results: &[Result<(), StoreError>], limit: Limit, held: u64| {
        let admitted = results.iter().filter(|r| r.is_ok()).count();
        assert!(
            results.iter().all(|r| match r {
                Ok(()) => true,
                Err(StoreError::Full { limit: l, held: h }) => *l == limit && *h == held,
                Err(_) => false,
            }),
            "{results:?}"
        );
        admitted
    };

    // Keys of one account in one Region (another Region is another scope).
    let in_region = |region: &str| {
        let mut k = key(OTHER);
        k.region = region.into();
        k.arn = format!("arn:aws:kms:{region}:{OTHER}:key/{}", k.id);
        k
    };
    a.insert_key(&in_region("eu-north-1"), &material(1), 1)
        .await
        .unwrap();
    let keys: Vec<KeyRecord> = (0..RACERS).map(|_| in_region("sa-east-1")).collect();
    let results = futures_join(
        keys.iter()
            .enumerate()
            .map(|(i, k)| async move { racing(i).insert_key(k, &material(1), 5).await }),
    )
    .await;
    assert_eq!(outcome(&results, Limit::Keys, 5), 5);
    assert_eq!(b.count_keys(OTHER, "sa-east-1").await.unwrap(), 5);
    let refused = keys
        .iter()
        .zip(&results)
        .find(|(_, r)| r.is_err())
        .map(|(k, _)| k)
        .unwrap();
    assert_eq!(b.get_key(refused.id).await.unwrap(), None, "rolled back");
    assert!(b.key_materials(refused.id).await.unwrap().is_empty());
    let admitted = keys
        .iter()
        .zip(&results)
        .find(|(_, r)| r.is_ok())
        .map(|(k, _)| k)
        .unwrap();
    assert!(a.delete_key(admitted.id).await.unwrap());
    assert_eq!(a.count_keys(OTHER, "sa-east-1").await.unwrap(), 4);
    b.insert_key(&in_region("sa-east-1"), &material(1), 5)
        .await
        .unwrap();
    assert!(matches!(
        a.insert_key(&in_region("sa-east-1"), &material(1), 5).await,
        Err(StoreError::Full {
            limit: Limit::Keys,
            held: 5
        })
    ));

    // Aliases of one key: made new, or moved onto it.
    let target = key(OTHER);
    let elsewhere = key(OTHER);
    a.insert_key(&target, &material(1), NO_LIMIT).await.unwrap();
    a.insert_key(&elsewhere, &material(1), NO_LIMIT)
        .await
        .unwrap();
    let alias = |name: String, target: Uuid| AliasRecord {
        account: OTHER.into(),
        region: "us-east-1".into(),
        name,
        target,
        created_ms: 1,
        updated_ms: 1,
    };
    let results = futures_join((0..RACERS).map(|i| async move {
        racing(i)
            .insert_alias(&alias(format!("alias/quota-{i}"), target.id), 3)
            .await
    }))
    .await;
    assert_eq!(outcome(&results, Limit::AliasesOfKey, 3), 3);
    let on_target = |all: Vec<AliasRecord>| all.iter().filter(|a| a.target == target.id).count();
    assert_eq!(on_target(b.all_aliases().await.unwrap()), 3);
    let mut moved = alias("alias/quota-moved".into(), elsewhere.id);
    a.insert_alias(&moved, 3).await.unwrap();
    moved.target = target.id;
    assert!(matches!(
        b.update_alias(&moved, 3).await,
        Err(StoreError::Full {
            limit: Limit::AliasesOfKey,
            held: 3
        })
    ));
    let unmoved = b
        .get_alias(OTHER, "us-east-1", "alias/quota-moved")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unmoved.target, elsewhere.id, "rolled back");
    // Pointing an alias of the key at the key again takes no new place.
    let (admitted, _) = results.iter().enumerate().find(|(_, r)| r.is_ok()).unwrap();
    b.update_alias(&alias(format!("alias/quota-{admitted}"), target.id), 3)
        .await
        .unwrap();

    // Grants on one key: to one grantee, then in all.
    let granted = key(OTHER);
    a.insert_key(&granted, &material(1), NO_LIMIT)
        .await
        .unwrap();
    let limits = GrantLimits {
        per_key: 4,
        per_grantee: 2,
    };
    let to = |i: usize, grantee: String| {
        let mut g = grant(granted.id, &format!("quota-{grantee}-{i}"), None);
        g.grantee = GrantPrincipal::Iam(grantee);
        g
    };
    let results = futures_join((0..RACERS).map(|i| async move {
        racing(i)
            .insert_grant(&to(i, "arn:aws:iam::1:user/one".into()), limits)
            .await
    }))
    .await;
    assert_eq!(outcome(&results, Limit::GrantsOfGrantee, 2), 2);
    let results = futures_join((0..RACERS).map(|i| async move {
        racing(i)
            .insert_grant(&to(i, format!("arn:aws:iam::1:user/u{i}")), limits)
            .await
    }))
    .await;
    assert_eq!(outcome(&results, Limit::GrantsOfKey, 4), 2);
    assert_eq!(b.list_grants(granted.id).await.unwrap().len(), 4);
}

/// Runs the futures at once on this task (the store calls interleave at
/// their await points, each on a connection of its own).
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures_util::future::join_all(futures).await
}

/// Two handles on one SQLite file, as two processes would have.
async fn sqlite_pair(path: &std::path::Path) -> (SqliteStore, SqliteStore) {
    let a = SqliteStore::open(path).await.unwrap();
    let b = SqliteStore::open(path).await.unwrap();
    (a, b)
}

#[tokio::test]
async fn sqlite_passes_the_store_suite_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trent.db");
    let (a, b) = sqlite_pair(&path).await;
    suite(&a, &b).await;
    let before = a.list_keys(ACCOUNT, "us-east-1", None, 100).await.unwrap();
    drop((a, b));
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        reopened
            .list_keys(ACCOUNT, "us-east-1", None, 100)
            .await
            .unwrap(),
        before
    );
    assert_eq!(read::events(&reopened, 0, 100).await.unwrap().len(), 11);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// A store upgraded from the first audit encoding holds JSON-lines blocks
/// from before migration 0009's account index: they are read back, and
/// lookups scan them (the suite's audit part, on top of them).
#[tokio::test]
async fn sqlite_reads_blocks_from_before_its_account_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trent.db");
    let (a, b) = sqlite_pair(&path).await;
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
    // account index.
    sqlx::query("UPDATE meta SET value = 3 WHERE name = 'audit-accounts-indexed-from'")
        .execute(&old)
        .await
        .unwrap();
    old.close().await;
    let legacy = AuditBlock {
        first_seq: 1,
        last_seq: 2,
        first_time_ms: 0,
        last_time_ms: 9_999_999_999_999,
        encoding: 1,
        events: text.into_bytes(),
        hashes,
        accounts: Vec::new(),
    };
    let decoded = read::events(&b, 0, 10).await.unwrap();
    assert_eq!(decoded[1].event_id, "e2");
    audit(&a, &b, vec![legacy], prev).await;
}

/// The suite calls every method of the store traits (their names from the
/// generated wrapper's list, which the compiler keeps whole).
#[test]
fn the_suite_calls_every_store_method() {
    let source = include_str!("tests.rs");
    let missing: Vec<&str> = trent_core::STORE_METHODS
        .iter()
        .copied()
        .filter(|m| !source.contains(&format!(".{m}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "the store suite never calls {missing:?}"
    );
}

/// Two audit writers (two Trent processes) appending to one trail at once,
/// each event waited for: both chain onto whatever the other stored, and
/// the trail holds every event once, in one chain that verifies with its
/// digests.
pub(crate) async fn two_writers_share_one_trail(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    use trent_core::audit::{AuditConfig, AuditLog, Verifier};
    const EACH: usize = 60;
    let pkcs8 = trent_crypto::SigningKey::generate_pkcs8().unwrap();
    let signer = || trent_crypto::SigningKey::from_pkcs8(&pkcs8).unwrap();
    let config = || AuditConfig {
        digest_every_events: 25,
        ..AuditConfig::default()
    };
    let logs = [
        AuditLog::start(a.clone(), signer(), config())
            .await
            .unwrap(),
        AuditLog::start(b.clone(), signer(), config())
            .await
            .unwrap(),
    ];
    let calls = (0..2 * EACH).map(|i| {
        let log = &logs[i % 2];
        async move {
            let mut e = event(1);
            e.request_id = Some(Id::parse(&format!("request-{i}")));
            log.record_durable(e).await
        }
    });
    let results = futures_join(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for log in &logs {
        log.close().await;
    }
    let events = read::events(b.as_ref(), 0, 10 * EACH).await.unwrap();
    let mut ids: Vec<String> = events
        .iter()
        .filter_map(|e| {
            let json: serde_json::Value = serde_json::from_str(&e.event_json).ok()?;
            Some(json["requestID"].as_str()?.to_owned())
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..2 * EACH).map(|i| format!("request-{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected);
    let digests = a.audit_digests(0, 1000).await.unwrap();
    assert!(!digests.is_empty());
    let mut verifier = Verifier::new(&signer().public_key(), digests);
    for e in &events {
        verifier.event(e).unwrap();
    }
    let report = verifier.finish().unwrap();
    assert_eq!(report.events as usize, 2 * EACH);
    assert_eq!(
        report.unsigned, 0,
        "the last close signed everything: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_writers_share_one_trail() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = sqlite_pair(&dir.path().join("trent.db")).await;
    two_writers_share_one_trail(Arc::new(a), Arc::new(b)).await;
}

/// A store from before migration 0014 (one imported material per key, in
/// the key's columns): each imported key's material becomes its version
/// 1, current, imported or (deleted, expired) pending import; the key's
/// columns are emptied; a key whose material KMS made has none.
#[tokio::test]
async fn sqlite_migrates_each_keys_one_imported_material() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trent.db");
    let before = dir.path().join("migrations");
    std::fs::create_dir(&before).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&all).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.as_str() < "0014" {
            std::fs::copy(entry.path(), before.join(&name)).unwrap();
        }
    }
    let old = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(before.as_path())
        .await
        .unwrap()
        .run(&old)
        .await
        .unwrap();
    let (imported_id, deleted_id, generated_id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for (id, origin, model, valid_to, digest, description) in [
        (
            imported_id,
            "EXTERNAL",
            Some("KEY_MATERIAL_EXPIRES"),
            Some(5_000_i64),
            Some(vec![7u8; 32]),
            Some("from the HSM"),
        ),
        (
            deleted_id,
            "EXTERNAL",
            None,
            None,
            Some(vec![8u8; 32]),
            None,
        ),
        (generated_id, "AWS_KMS", None, None, None, None),
    ] {
        sqlx::query(
            "INSERT INTO keys (id, account, region, arn, created_ms, description, key_usage, key_spec, \
             origin, state, policy, rotation_enabled, current_material, tags, expiration_model, \
             valid_to_ms, material_digest, material_description) \
             VALUES (?, ?, 'us-east-1', ?, 1, '', 'ENCRYPT_DECRYPT', 'SYMMETRIC_DEFAULT', ?, ?, '{}', 0, 1, '[]', ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(ACCOUNT)
        .bind(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}"))
        .bind(origin)
        .bind(if model.is_some() || origin == "AWS_KMS" { "Enabled" } else { "PendingImport" })
        .bind(model)
        .bind(valid_to)
        .bind(digest)
        .bind(description)
        .execute(&old)
        .await
        .unwrap();
    }
    old.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    let key = store.get_key(imported_id).await.unwrap().unwrap();
    assert_eq!(
        key.imported,
        [ImportedMaterial {
            description: Some("from the HSM".into()),
            digest: vec![7; 32],
            ..imported(1, Some(5_000))
        }]
    );
    let deleted = store.get_key(deleted_id).await.unwrap().unwrap();
    assert_eq!(
        deleted.imported,
        [ImportedMaterial {
            description: None,
            digest: vec![8; 32],
            expiration_model: None,
            import_state: ImportState::PendingImport,
            ..imported(1, None)
        }]
    );
    assert!(
        store
            .get_key(generated_id)
            .await
            .unwrap()
            .unwrap()
            .imported
            .is_empty()
    );
    // Expiry is due from the material's row now.
    assert!(
        store
            .due_work(5_000)
            .await
            .unwrap()
            .contains(&DueWork::Expire(imported_id))
    );
    let check = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let emptied: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM keys WHERE material_digest IS NOT NULL OR expiration_model IS NOT NULL \
         OR valid_to_ms IS NOT NULL OR material_description IS NOT NULL",
    )
    .fetch_one(&check)
    .await
    .unwrap();
    assert_eq!(emptied, 0);
}
