//! [`KeyStore`] on SQLite: keys with their material, aliases, grants, the
//! server's named values; the resource quotas counted as rows go in.

use super::*;

/// Whether `target`'s aliases, with the one just written (this transaction
/// holds the write lock), are within `max`.
async fn aliases_within(
    tx: &mut sqlx::SqliteConnection,
    target: Uuid,
    max: u64,
) -> Result<(), StoreError> {
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM aliases WHERE target = ?")
        .bind(target.to_string())
        .fetch_one(tx)
        .await
        .map_err(backend)?;
    within(Limit::AliasesOfKey, held, max)
}

/// A new key, with its first material version if it has one, within
/// `max_keys` (see [`KeyStore::insert_key`]).
async fn insert_key_row(
    store: &SqliteStore,
    key: &KeyRecord,
    materials: &[SealedMaterial],
    replica_of: Option<Uuid>,
    max_keys: u64,
) -> Result<(), StoreError> {
    let mut tx = store.pool.begin().await.map_err(backend)?;
    sqlx::query(&format!(
        "INSERT INTO keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(key.id.to_string())
    .bind(&key.account)
    .bind(&key.region)
    .bind(&key.arn)
    .bind(key.created_ms)
    .bind(&key.description)
    .bind(key.key_usage.as_str())
    .bind(key.key_spec.as_str())
    .bind(key.origin.as_str())
    .bind(key.state.as_str())
    .bind(key.deletion_date_ms)
    .bind(key.pending_window_days)
    .bind(&*key.policy)
    .bind(key.rotation_enabled)
    .bind(key.rotation_period_days)
    .bind(key.next_rotation_ms)
    .bind(i64::from(key.current_material))
    .bind(encode_tags(&key.tags))
    .bind(key.multi_region.as_ref().map(|mr| mr.family.to_string()))
    .bind(key.multi_region.as_ref().map(|mr| mr.primary_region.clone()))
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    for material in materials {
        put_material(&mut tx, key.id, material).await?;
    }
    // A copied key (`trent store copy`) brings its imported materials.
    put_imported(&mut tx, key).await?;
    // A replica: the primary's versions are those copied (the write lock
    // held since the insert orders this after any rotation committed).
    if let Some(primary) = replica_of {
        primary_has(&mut tx, key, primary, materials).await?;
    }
    // The insert holds SQLite's write lock to the commit: the count
    // (kept by a trigger) is exact. Over the limit: rolled back.
    let held: i64 = sqlx::query_scalar("SELECT n FROM key_counts WHERE account = ? AND region = ?")
        .bind(&key.account)
        .bind(&key.region)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    within(Limit::Keys, held, max_keys)?;
    tx.commit().await.map_err(backend)
}

/// `Conflict` unless the primary `primary` is still its family's primary
/// and has exactly the material versions `copied` (see [`check_copied`]).
async fn primary_has(
    tx: &mut sqlx::SqliteConnection,
    key: &KeyRecord,
    primary: Uuid,
    copied: &[SealedMaterial],
) -> Result<(), StoreError> {
    let (newest, primary_region): (Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT (SELECT MAX(version) FROM key_materials WHERE key_id = ?1), \
         (SELECT primary_region FROM keys WHERE id = ?1)",
    )
    .bind(primary.to_string())
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    check_copied(key, primary, newest, primary_region, copied)
}

/// `Conflict` unless `key`'s family has `count` keys.
async fn family_is(
    tx: &mut sqlx::SqliteConnection,
    key: &KeyRecord,
    count: usize,
) -> Result<(), StoreError> {
    let Some(mr) = &key.multi_region else {
        return Ok(());
    };
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM keys WHERE account = ? AND mrk_family = ?")
            .bind(&key.account)
            .bind(mr.family.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
    check_family(key, held, count)
}

/// One key's part of `write_imported`, in its transaction.
async fn write_imported_key(
    tx: &mut sqlx::SqliteConnection,
    write: &ImportedWrite<'_>,
) -> Result<(), StoreError> {
    let key = write.key;
    let id = key.id.to_string();
    // The key's row first: the write lock is held from here, so the
    // materials read next are what every other writer left.
    update_key_row(&mut *tx, key, write.previous).await?;
    let stored: Option<String> =
        sqlx::query_scalar(&format!("SELECT {IMPORTED_COLUMN} FROM keys WHERE id = ?"))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
    check_imported(key, stored.as_deref(), write.previous)?;
    sqlx::query("DELETE FROM imported_materials WHERE key_id = ?")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    put_imported(&mut *tx, key).await?;
    // Overwritten before removed, as a deleted key's (delete_key).
    destroy_materials(&mut *tx, key.id, write.destroy).await?;
    if let Some(material) = write.put {
        put_material(&mut *tx, key.id, material).await?;
    }
    Ok(())
}

/// Rewrites the key if it is still `previous` (see [`KeyStore::update_key`]).
async fn update_key_row(
    conn: &mut sqlx::SqliteConnection,
    key: &KeyRecord,
    previous: &KeyRecord,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE keys SET description = ?, state = ?, deletion_date_ms = ?, pending_window_days = ?, policy = ?, \
         rotation_enabled = ?, rotation_period_days = ?, next_rotation_ms = ?, current_material = ?, tags = ?, \
         primary_region = ? \
         WHERE id = ? AND description = ? AND state = ? AND deletion_date_ms IS ? \
         AND pending_window_days IS ? AND policy = ? AND rotation_enabled = ? \
         AND rotation_period_days IS ? AND next_rotation_ms IS ? AND current_material = ? AND tags = ? \
         AND primary_region IS ?",
    )
    .bind(&key.description)
    .bind(key.state.as_str())
    .bind(key.deletion_date_ms)
    .bind(key.pending_window_days)
    .bind(&*key.policy)
    .bind(key.rotation_enabled)
    .bind(key.rotation_period_days)
    .bind(key.next_rotation_ms)
    .bind(i64::from(key.current_material))
    .bind(encode_tags(&key.tags))
    .bind(key.multi_region.as_ref().map(|mr| mr.primary_region.clone()))
    .bind(key.id.to_string())
    .bind(&previous.description)
    .bind(previous.state.as_str())
    .bind(previous.deletion_date_ms)
    .bind(previous.pending_window_days)
    .bind(&*previous.policy)
    .bind(previous.rotation_enabled)
    .bind(previous.rotation_period_days)
    .bind(previous.next_rotation_ms)
    .bind(i64::from(previous.current_material))
    .bind(encode_tags(&previous.tags))
    .bind(previous.multi_region.as_ref().map(|mr| mr.primary_region.clone()))
    .execute(conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict(format!(
            "key {} changed or went meanwhile",
            key.id
        )));
    }
    Ok(())
}

/// Stores a sealed material version, replacing one stored under it.
async fn put_material(
    tx: &mut sqlx::SqliteConnection,
    key: Uuid,
    material: &SealedMaterial,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT OR REPLACE INTO key_materials (key_id, version, sealed, created_ms) VALUES (?, ?, ?, ?)",
    )
    .bind(key.to_string())
    .bind(i64::from(material.version))
    .bind(&material.sealed)
    .bind(now_millis())
    .execute(tx)
    .await
    .map_err(backend)
    .map(drop)
}

/// Inserts the key's imported materials (it has none stored).
async fn put_imported(tx: &mut sqlx::SqliteConnection, key: &KeyRecord) -> Result<(), StoreError> {
    for m in &key.imported {
        sqlx::query(
            "INSERT INTO imported_materials (key_id, version, digest, description, expiration_model, \
             valid_to_ms, import_state, material_state, rotated_ms, rotation_type) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.to_string())
        .bind(i64::from(m.version))
        .bind(&m.digest)
        .bind(m.description.as_deref())
        .bind(m.expiration_model.as_ref().map(|e| e.as_str().to_owned()))
        .bind(m.valid_to_ms)
        .bind(m.import_state.as_str())
        .bind(m.state.as_str())
        .bind(m.rotation.as_ref().map(|r| r.0))
        .bind(m.rotation.as_ref().map(|r| r.1.as_str().to_owned()))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

/// Overwrites, then removes, the sealed material of the key's `versions`.
async fn destroy_materials(
    tx: &mut sqlx::SqliteConnection,
    key: Uuid,
    versions: &[u32],
) -> Result<(), StoreError> {
    for version in versions {
        for statement in [
            "UPDATE key_materials SET sealed = zeroblob(length(sealed)) WHERE key_id = ? AND version = ?",
            "DELETE FROM key_materials WHERE key_id = ? AND version = ?",
        ] {
            sqlx::query(statement)
                .bind(key.to_string())
                .bind(i64::from(*version))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
    }
    Ok(())
}

/// A material version with its rotation, and the key's rewritten
/// `current_material` and next rotation (see [`KeyStore::rotate_key`]),
/// within the caller's transaction.
async fn rotate_in(
    tx: &mut sqlx::SqliteConnection,
    key: &KeyRecord,
    material: &SealedMaterial,
    rotation: &RotationRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO key_materials (key_id, version, sealed, created_ms) VALUES (?, ?, ?, ?)",
    )
    .bind(key.id.to_string())
    .bind(i64::from(material.version))
    .bind(&material.sealed)
    .bind(rotation.rotated_ms)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    sqlx::query(
        "INSERT INTO key_rotations (key_id, version, rotated_ms, on_demand) VALUES (?, ?, ?, ?)",
    )
    .bind(key.id.to_string())
    .bind(i64::from(rotation.version))
    .bind(rotation.rotated_ms)
    .bind(rotation.on_demand)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    sqlx::query("UPDATE keys SET current_material = ?, next_rotation_ms = ? WHERE id = ?")
        .bind(i64::from(key.current_material))
        .bind(key.next_rotation_ms)
        .bind(key.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(
        &self,
        key: &KeyRecord,
        material: &SealedMaterial,
        max_keys: u64,
    ) -> Result<(), StoreError> {
        insert_key_row(self, key, std::slice::from_ref(material), None, max_keys).await
    }

    async fn insert_key_without_material(
        &self,
        key: &KeyRecord,
        max_keys: u64,
    ) -> Result<(), StoreError> {
        insert_key_row(self, key, &[], None, max_keys).await
    }

    async fn insert_replica(
        &self,
        key: &KeyRecord,
        primary: Uuid,
        materials: &[SealedMaterial],
        max_keys: u64,
    ) -> Result<(), StoreError> {
        insert_key_row(self, key, materials, Some(primary), max_keys).await
    }

    async fn related_keys(
        &self,
        account: &str,
        family: Uuid,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS}, {IMPORTED_COLUMN} FROM keys WHERE account = ? AND mrk_family = ? ORDER BY region"
        ))
        .bind(account)
        .bind(family.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn write_imported(&self, writes: &[ImportedWrite<'_>]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for write in in_id_order(writes) {
            write_imported_key(&mut tx, write).await?;
        }
        tx.commit().await.map_err(backend)?;
        if writes.iter().any(|w| !w.destroy.is_empty()) {
            // Push the change out of the WAL so old page images go too.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn get_key(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS}, {IMPORTED_COLUMN} FROM keys WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn update_key(&self, key: &KeyRecord, previous: &KeyRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        update_key_row(&mut conn, key, previous).await
    }

    async fn list_keys(
        &self,
        account: &str,
        region: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, arn FROM keys WHERE account = ? AND region = ? \
             AND seq > COALESCE((SELECT seq FROM keys WHERE id = ?), 0) ORDER BY seq LIMIT ?",
        )
        .bind(account)
        .bind(region)
        .bind(after.map(|a| a.to_string()))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| Ok((parse_uuid(r.get::<&str, _>(0))?, r.get::<String, _>(1))))
            .collect()
    }

    async fn key_materials(&self, id: Uuid) -> Result<Vec<SealedMaterial>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, sealed FROM key_materials WHERE key_id = ? ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| SealedMaterial {
                version: r.get::<i64, _>(0) as u32,
                sealed: r.get::<Vec<u8>, _>(1),
            })
            .collect())
    }

    async fn count_keys(&self, account: &str, region: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT n FROM key_counts WHERE account = ? AND region = ?), 0)",
        )
        .bind(account)
        .bind(region)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(n as u64)
    }

    async fn load_keys(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(KeyRecord, Vec<SealedMaterial>, Vec<GrantRecord>)>, StoreError> {
        // One snapshot for the three reads, so a page is consistent.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let page = "SELECT id FROM keys WHERE seq > COALESCE((SELECT seq FROM keys WHERE id = ?1), 0) ORDER BY seq LIMIT ?2";
        let after = after.map(|a| a.to_string());
        let keys = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS}, {IMPORTED_COLUMN} FROM keys WHERE id IN ({page}) ORDER BY seq"
        ))
        .bind(&after)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let materials = sqlx::query(&format!(
            "SELECT key_id, version, sealed FROM key_materials WHERE key_id IN ({page}) ORDER BY key_id, version"
        ))
        .bind(&after)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let grants = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE key_id IN ({page}) ORDER BY created_ms, grant_id"))
            .bind(&after)
            .bind(limit as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let mut by_key: std::collections::HashMap<Uuid, (Vec<SealedMaterial>, Vec<GrantRecord>)> =
            std::collections::HashMap::new();
        for row in &materials {
            let id = parse_uuid(row.get::<&str, _>(0))?;
            by_key.entry(id).or_default().0.push(SealedMaterial {
                version: row.get::<i64, _>(1) as u32,
                sealed: row.get::<Vec<u8>, _>(2),
            });
        }
        for row in &grants {
            let grant = grant_from_row(row)?;
            by_key.entry(grant.key_id).or_default().1.push(grant);
        }
        keys.iter()
            .map(|row| {
                let key = key_from_row(row)?;
                let (materials, grants) = by_key.remove(&key.id).unwrap_or_default();
                Ok((key, materials, grants))
            })
            .collect()
    }

    async fn rotate_key(
        &self,
        key: &KeyRecord,
        material: &SealedMaterial,
        rotation: &RotationRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        rotate_in(&mut tx, key, material, rotation).await?;
        tx.commit().await.map_err(backend)
    }

    async fn rotate_family(
        &self,
        rotations: &[(KeyRecord, SealedMaterial, RotationRecord)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for (key, material, rotation) in rotations {
            rotate_in(&mut tx, key, material, rotation).await?;
        }
        // Every key of the family, none left out (a replica inserted since
        // they were read): the write lock is held since the first insert.
        if let Some((first, ..)) = rotations.first() {
            family_is(&mut tx, first, rotations.len()).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn update_keys(&self, keys: &[(KeyRecord, KeyRecord)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for (key, previous) in keys {
            update_key_row(&mut tx, key, previous).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn list_rotations(&self, id: Uuid) -> Result<Vec<RotationRecord>, StoreError> {
        let rows = sqlx::query("SELECT version, rotated_ms, on_demand FROM key_rotations WHERE key_id = ? ORDER BY version")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| RotationRecord {
                key_id: id,
                version: r.get::<i64, _>(0) as u32,
                rotated_ms: r.get(1),
                on_demand: r.get(2),
            })
            .collect())
    }

    async fn delete_key(&self, id: Uuid) -> Result<bool, StoreError> {
        let key = id.to_string();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // Overwrite the sealed material before removing it (secure_delete
        // zeroes the freed pages too), so nothing that could decrypt remains.
        sqlx::query("UPDATE key_materials SET sealed = zeroblob(length(sealed)) WHERE key_id = ?")
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for statement in [
            "DELETE FROM key_materials WHERE key_id = ?",
            "DELETE FROM imported_materials WHERE key_id = ?",
            "DELETE FROM aliases WHERE target = ?",
            "DELETE FROM grants WHERE key_id = ?",
            "DELETE FROM key_rotations WHERE key_id = ?",
        ] {
            sqlx::query(statement)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        // Last, and counted: of two processes deleting the key at once, one
        // finds it gone (PostgreSQL: the other's row locks held it back).
        let deleted = sqlx::query("DELETE FROM keys WHERE id = ?")
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            > 0;
        // Key usage is keyed by the id's 16 bytes.
        sqlx::query("DELETE FROM key_usage WHERE key_id = ?")
            .bind(id.as_bytes().as_slice())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT OR REPLACE INTO deleted_keys (id, deleted_ms) VALUES (?, ?)")
            .bind(&key)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        // Push the change out of the WAL so old page images go too.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(deleted)
    }

    async fn key_was_deleted(&self, id: Uuid) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM deleted_keys WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn due_work(&self, now_ms: i64) -> Result<Vec<DueWork>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, 1 FROM keys WHERE state = 'PendingDeletion' AND deletion_date_ms <= ?1 \
             UNION ALL \
             SELECT id, 0 FROM keys WHERE state = 'Enabled' AND rotation_enabled = 1 AND next_rotation_ms <= ?1 \
             UNION ALL \
             SELECT DISTINCT key_id, 2 FROM imported_materials WHERE valid_to_ms <= ?1 \
             UNION ALL \
             SELECT id, 1 FROM keys k WHERE state = 'PendingReplicaDeletion' AND NOT EXISTS \
             (SELECT 1 FROM keys r WHERE r.account = k.account AND r.mrk_family = k.mrk_family AND r.id <> k.id)",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let id = parse_uuid(r.get::<&str, _>(0))?;
                Ok(match r.get::<i64, _>(1) {
                    1 => DueWork::Delete(id),
                    2 => DueWork::Expire(id),
                    _ => DueWork::Rotate(id),
                })
            })
            .collect()
    }

    async fn meta_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        sqlx::query_scalar("SELECT value FROM meta WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn all_aliases(&self) -> Result<Vec<AliasRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT account, region, name, target, created_ms, updated_ms FROM aliases",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(alias_from_row).collect()
    }

    async fn get_alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<AliasRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT account, region, name, target, created_ms, updated_ms FROM aliases \
             WHERE account = ? AND region = ? AND name = ?",
        )
        .bind(account)
        .bind(region)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(alias_from_row).transpose()
    }

    async fn insert_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO aliases (account, region, name, target, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&alias.account)
            .bind(&alias.region)
            .bind(&alias.name)
            .bind(alias.target.to_string())
            .bind(alias.created_ms)
            .bind(alias.updated_ms)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        aliases_within(&mut tx, alias.target, max_per_key).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("UPDATE aliases SET target = ?, updated_ms = ? WHERE account = ? AND region = ? AND name = ?")
            .bind(alias.target.to_string())
            .bind(alias.updated_ms)
            .bind(&alias.account)
            .bind(&alias.region)
            .bind(&alias.name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        aliases_within(&mut tx, alias.target, max_per_key).await?;
        tx.commit().await.map_err(backend)
    }

    async fn delete_alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM aliases WHERE account = ? AND region = ? AND name = ?")
            .bind(account)
            .bind(region)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(backend)
            .map(drop)
    }

    async fn insert_grant(&self, g: &GrantRecord, limits: GrantLimits) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO grants (grant_id, key_id, name, grantee, grantee_service, retiring, retiring_service, \
             operations, context_equals, context_subset, source_arn, issuing_account, created_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.grant_id)
        .bind(g.key_id.to_string())
        .bind(&g.name)
        .bind(g.grantee.as_str())
        .bind(g.grantee.is_service())
        .bind(g.retiring.as_ref().map(GrantPrincipal::as_str))
        .bind(g.retiring.as_ref().is_some_and(GrantPrincipal::is_service))
        .bind(serde_json::to_string(&g.operations).expect("strings serialize"))
        .bind(g.context_equals.as_ref().map(|c| serde_json::to_string(c).expect("map serializes")))
        .bind(g.context_subset.as_ref().map(|c| serde_json::to_string(c).expect("map serializes")))
        .bind(&g.source_arn)
        .bind(&g.issuing_account)
        .bind(g.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let (of_key, of_grantee): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE grantee = ?) FROM grants WHERE key_id = ?",
        )
        .bind(g.grantee.as_str())
        .bind(g.key_id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        within(Limit::GrantsOfGrantee, of_grantee, limits.per_grantee)?;
        within(Limit::GrantsOfKey, of_key, limits.per_key)?;
        tx.commit().await.map_err(backend)
    }

    async fn list_grants(&self, key_id: Uuid) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE key_id = ? ORDER BY created_ms, grant_id"
        ))
        .bind(key_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn find_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE grant_id = ?"
        ))
        .bind(grant_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn list_retirable_grants(&self, principal: &str) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE retiring = ? AND retiring_service = 0 ORDER BY created_ms, grant_id"
        ))
        .bind(principal)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn delete_grant(&self, key_id: Uuid, grant_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM grants WHERE key_id = ? AND grant_id = ?")
            .bind(key_id.to_string())
            .bind(grant_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }
}
