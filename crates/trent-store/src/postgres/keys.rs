//! [`KeyStore`] on PostgreSQL: keys with their material, aliases, grants,
//! the server's named values; the resource quotas counted as rows go in.

use super::*;

/// Locks a key's row for the rest of the transaction, so that inserts
/// counted against the key's quotas (aliases, grants) from several nodes
/// queue: each counts, under READ COMMITTED, what the ones before it
/// committed. (A key that is gone: nothing to lock; the insert's foreign
/// key refuses it.)
async fn lock_key(tx: &mut PgConnection, key: Uuid) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 FROM keys WHERE id = $1 FOR NO KEY UPDATE")
        .bind(key.to_string())
        .fetch_optional(tx)
        .await
        .map_err(backend)
        .map(drop)
}

/// Whether `target`'s aliases, with the one just written, are within `max`
/// (the target's row is locked: see [`lock_key`]).
async fn aliases_within(tx: &mut PgConnection, target: Uuid, max: u64) -> Result<(), StoreError> {
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM aliases WHERE target = $1")
        .bind(target.to_string())
        .fetch_one(tx)
        .await
        .map_err(backend)?;
    within(Limit::AliasesOfKey, held, max)
}

/// A new key, with its first material version if it has one, within
/// `max_keys` (see [`KeyStore::insert_key`]).
async fn insert_key_row(
    store: &PgStore,
    key: &KeyRecord,
    materials: &[SealedMaterial],
    replica_of: Option<Uuid>,
    max_keys: u64,
) -> Result<(), StoreError> {
    let mut tx = store.pool().begin().await.map_err(backend)?;
    // A replica: the primary's row locked first (as a family's rotation
    // locks it), then its versions must be those copied.
    if let Some(primary) = replica_of {
        lock_key(&mut tx, primary).await?;
        let (newest, primary_region): (Option<i64>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT MAX(version) FROM key_materials WHERE key_id = $1), \
             (SELECT primary_region FROM keys WHERE id = $1)",
        )
        .bind(primary.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        check_copied(key, primary, newest, primary_region, materials)?;
    }
    sqlx::query(&format!(
        "INSERT INTO keys ({KEY_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
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
    .bind(key.pending_window_days.map(i64::from))
    .bind(&*key.policy)
    .bind(key.rotation_enabled)
    .bind(key.rotation_period_days.map(i64::from))
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
    // Counted last, in one statement: the scope's counter row stays
    // locked from here to the commit, and another node's CreateKey in
    // the scope waits for it, then counts this key too. Last, so that
    // the lock is held as briefly as can be (CreateKeys in one scope
    // queue on it).
    let held: i64 = sqlx::query_scalar(
        "INSERT INTO key_counts (account, region, n) VALUES ($1, $2, 1) \
         ON CONFLICT (account, region) DO UPDATE SET n = key_counts.n + 1 RETURNING n",
    )
    .bind(&key.account)
    .bind(&key.region)
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    within(Limit::Keys, held, max_keys)?;
    tx.commit().await.map_err(backend)
}

/// One key's part of `write_imported`, in its transaction.
async fn write_imported_key(
    tx: &mut sqlx::PgConnection,
    write: &ImportedWrite<'_>,
) -> Result<(), StoreError> {
    let key = write.key;
    let id = key.id.to_string();
    // The key's row first: its lock is held from here to the commit, and
    // every writer of the key's materials takes it first, so the
    // materials read next are what the writers before left.
    update_key_row(&mut *tx, key, write.previous).await?;
    let stored: Option<String> =
        sqlx::query_scalar(&format!("SELECT {IMPORTED_COLUMN} FROM keys WHERE id = $1"))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
    check_imported(key, stored.as_deref(), write.previous)?;
    sqlx::query("DELETE FROM imported_materials WHERE key_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    put_imported(&mut *tx, key).await?;
    destroy_materials(&mut *tx, key.id, write.destroy).await?;
    if let Some(material) = write.put {
        put_material(&mut *tx, key.id, material).await?;
    }
    Ok(())
}

/// Rewrites the key if it is still `previous` (see [`KeyStore::update_key`]).
async fn update_key_row(
    conn: &mut PgConnection,
    key: &KeyRecord,
    previous: &KeyRecord,
) -> Result<(), StoreError> {
    // Written only over the row as the caller read it (a compare and
    // set under the row's lock): another writer's change in between
    // leaves no row to update.
    let done = sqlx::query(
        "UPDATE keys SET description = $1, state = $2, deletion_date_ms = $3, pending_window_days = $4, \
         policy = $5, rotation_enabled = $6, rotation_period_days = $7, next_rotation_ms = $8, \
         current_material = $9, tags = $10, primary_region = $22 WHERE id = $11 \
         AND description = $12 AND state = $13 AND deletion_date_ms IS NOT DISTINCT FROM $14 \
         AND pending_window_days IS NOT DISTINCT FROM $15 AND policy = $16 AND rotation_enabled = $17 \
         AND rotation_period_days IS NOT DISTINCT FROM $18 AND next_rotation_ms IS NOT DISTINCT FROM $19 \
         AND current_material = $20 AND tags = $21 \
         AND primary_region IS NOT DISTINCT FROM $23",
    )
    .bind(&key.description)
    .bind(key.state.as_str())
    .bind(key.deletion_date_ms)
    .bind(key.pending_window_days.map(i64::from))
    .bind(&*key.policy)
    .bind(key.rotation_enabled)
    .bind(key.rotation_period_days.map(i64::from))
    .bind(key.next_rotation_ms)
    .bind(i64::from(key.current_material))
    .bind(encode_tags(&key.tags))
    .bind(key.id.to_string())
    .bind(&previous.description)
    .bind(previous.state.as_str())
    .bind(previous.deletion_date_ms)
    .bind(previous.pending_window_days.map(i64::from))
    .bind(&*previous.policy)
    .bind(previous.rotation_enabled)
    .bind(previous.rotation_period_days.map(i64::from))
    .bind(previous.next_rotation_ms)
    .bind(i64::from(previous.current_material))
    .bind(encode_tags(&previous.tags))
    .bind(key.multi_region.as_ref().map(|mr| mr.primary_region.clone()))
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
    tx: &mut PgConnection,
    key: Uuid,
    material: &SealedMaterial,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO key_materials (key_id, version, sealed, created_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key_id, version) DO UPDATE SET sealed = EXCLUDED.sealed, created_ms = EXCLUDED.created_ms",
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
async fn put_imported(tx: &mut PgConnection, key: &KeyRecord) -> Result<(), StoreError> {
    for m in &key.imported {
        sqlx::query(
            "INSERT INTO imported_materials (key_id, version, digest, description, expiration_model, \
             valid_to_ms, import_state, material_state, rotated_ms, rotation_type) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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

/// Overwrites, then removes, the sealed material of the key's `versions`
/// (what MVCC keeps of the old row versions: see `delete_key`).
async fn destroy_materials(
    tx: &mut PgConnection,
    key: Uuid,
    versions: &[u32],
) -> Result<(), StoreError> {
    for version in versions {
        for statement in [
            "UPDATE key_materials SET sealed = decode(repeat('00', octet_length(sealed)), 'hex') \
             WHERE key_id = $1 AND version = $2",
            "DELETE FROM key_materials WHERE key_id = $1 AND version = $2",
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
    tx: &mut PgConnection,
    key: &KeyRecord,
    material: &SealedMaterial,
    rotation: &RotationRecord,
) -> Result<(), StoreError> {
    // First: of rotations racing to one version, the later ones wait
    // here for the first to commit and fail on its row (`Conflict`),
    // before they change anything.
    sqlx::query(
        "INSERT INTO key_materials (key_id, version, sealed, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(key.id.to_string())
    .bind(i64::from(material.version))
    .bind(&material.sealed)
    .bind(rotation.rotated_ms)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    sqlx::query(
        "INSERT INTO key_rotations (key_id, version, rotated_ms, on_demand) VALUES ($1, $2, $3, $4)",
    )
    .bind(key.id.to_string())
    .bind(i64::from(rotation.version))
    .bind(rotation.rotated_ms)
    .bind(rotation.on_demand)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    sqlx::query("UPDATE keys SET current_material = $1, next_rotation_ms = $2 WHERE id = $3")
        .bind(i64::from(key.current_material))
        .bind(key.next_rotation_ms)
        .bind(key.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl KeyStore for PgStore {
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
            "SELECT {KEY_COLUMNS}, {IMPORTED_COLUMN} FROM keys WHERE account = $1 AND mrk_family = $2 ORDER BY region"
        ))
        .bind(account)
        .bind(family.to_string())
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn write_imported(&self, writes: &[ImportedWrite<'_>]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        // In the order of the keys' ids: two writers of one family lock
        // its rows in the same order, so neither waits on the other.
        for write in in_id_order(writes) {
            write_imported_key(&mut tx, write).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn get_key(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS}, {IMPORTED_COLUMN} FROM keys WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool())
        .await
        .map_err(backend)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn update_key(&self, key: &KeyRecord, previous: &KeyRecord) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
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
            "SELECT id, arn FROM keys WHERE account = $1 AND region = $2 \
             AND seq > COALESCE((SELECT seq FROM keys WHERE id = $3), 0) ORDER BY seq LIMIT $4",
        )
        .bind(account)
        .bind(region)
        .bind(after.map(|a| a.to_string()))
        .bind(sql_limit(limit))
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| Ok((parse_uuid(&col::<String>(r, "id")?)?, col(r, "arn")?)))
            .collect()
    }

    async fn key_materials(&self, id: Uuid) -> Result<Vec<SealedMaterial>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, sealed FROM key_materials WHERE key_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(material_from_row).collect()
    }

    async fn count_keys(&self, account: &str, region: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT n FROM key_counts WHERE account = $1 AND region = $2), 0)",
        )
        .bind(account)
        .bind(region)
        .fetch_one(&self.pool())
        .await
        .map_err(backend)?;
        Ok(n.unsigned_abs())
    }

    async fn load_keys(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<(KeyRecord, Vec<SealedMaterial>, Vec<GrantRecord>)>, StoreError> {
        // One snapshot for the three reads, so a page is consistent: under
        // READ COMMITTED (PostgreSQL's default) each statement would see
        // the commits made since the one before.
        let mut tx = self
            .pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(backend)?;
        let page = "SELECT id FROM keys WHERE seq > COALESCE((SELECT seq FROM keys WHERE id = $1), 0) \
                    ORDER BY seq LIMIT $2";
        let after = after.map(|a| a.to_string());
        let limit = sql_limit(limit);
        let keys = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS}, {IMPORTED_COLUMN} FROM keys WHERE id IN ({page}) ORDER BY seq"
        ))
        .bind(&after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let materials = sqlx::query(&format!(
            "SELECT key_id, version, sealed FROM key_materials WHERE key_id IN ({page}) \
             ORDER BY key_id, version"
        ))
        .bind(&after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let grants = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE key_id IN ({page}) ORDER BY created_ms, grant_id"
        ))
        .bind(&after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let mut by_key: HashMap<Uuid, (Vec<SealedMaterial>, Vec<GrantRecord>)> = HashMap::new();
        for row in &materials {
            let id = parse_uuid(&col::<String>(row, "key_id")?)?;
            by_key
                .entry(id)
                .or_default()
                .0
                .push(material_from_row(row)?);
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
        let mut tx = self.pool().begin().await.map_err(backend)?;
        rotate_in(&mut tx, key, material, rotation).await?;
        tx.commit().await.map_err(backend)
    }

    async fn rotate_family(
        &self,
        rotations: &[(KeyRecord, SealedMaterial, RotationRecord)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        // The primary's row locked first, as ReplicateKey locks it: then
        // the family counted is every key of it, none left out.
        if let Some((first, ..)) = rotations.first()
            && let Some(mr) = &first.multi_region
        {
            lock_key(&mut tx, first.id).await?;
            let held: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM keys WHERE account = $1 AND mrk_family = $2",
            )
            .bind(&first.account)
            .bind(mr.family.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            check_family(first, held, rotations.len())?;
        }
        for (key, material, rotation) in rotations {
            rotate_in(&mut tx, key, material, rotation).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn update_keys(&self, keys: &[(KeyRecord, KeyRecord)]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        for (key, previous) in keys {
            update_key_row(&mut tx, key, previous).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn list_rotations(&self, id: Uuid) -> Result<Vec<RotationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, rotated_ms, on_demand FROM key_rotations WHERE key_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(RotationRecord {
                    key_id: id,
                    version: u32_col(r, "version")?,
                    rotated_ms: col(r, "rotated_ms")?,
                    on_demand: col(r, "on_demand")?,
                })
            })
            .collect()
    }

    async fn delete_key(&self, id: Uuid) -> Result<bool, StoreError> {
        let key = id.to_string();
        let mut tx = self.pool().begin().await.map_err(backend)?;
        // Overwrite the sealed material before removing it, as SQLite does.
        // Under MVCC an UPDATE writes new row versions: the zeros are what
        // any later reader (or a dump) sees, but the old versions, with the
        // sealed bytes, stay in the table's pages until VACUUM reclaims
        // their space and later writes reuse it (the VACUUM after the
        // commit, below, makes the space reusable at once instead of at
        // autovacuum's next visit), and in the WAL until its segments are
        // recycled, in base backups and on replicas. What stays is sealed
        // under the root key (AES-256-GCM, bound to key id and version),
        // never plaintext: it is useless without the root key, and a copy
        // of the database from before the deletion, with the root key,
        // holds the material anyway.
        sqlx::query(
            "UPDATE key_materials SET sealed = decode(repeat('00', octet_length(sealed)), 'hex') \
             WHERE key_id = $1",
        )
        .bind(&key)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for statement in [
            "DELETE FROM key_materials WHERE key_id = $1",
            "DELETE FROM imported_materials WHERE key_id = $1",
            "DELETE FROM aliases WHERE target = $1",
            "DELETE FROM grants WHERE key_id = $1",
            "DELETE FROM key_rotations WHERE key_id = $1",
        ] {
            sqlx::query(statement)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        // Last, and counted: of two processes deleting the key at once, one
        // finds it gone (PostgreSQL: the other's row locks held it back).
        let deleted = sqlx::query("DELETE FROM keys WHERE id = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
            > 0;
        // Key usage is keyed by the id's 16 bytes.
        sqlx::query("DELETE FROM key_usage WHERE key_id = $1")
            .bind(id.as_bytes().as_slice())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO deleted_keys (id, deleted_ms) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET deleted_ms = EXCLUDED.deleted_ms",
        )
        .bind(&key)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        // Free the old row versions' space now (VACUUM cannot run in a
        // transaction). It removes only versions no open transaction can
        // still see, does not zero the freed bytes (later rows overwrite
        // them), and needs the table's owner; the deletion has committed
        // whatever it does, so its failure is logged, not returned.
        if let Err(e) = sqlx::query("VACUUM key_materials")
            .execute(&self.pool())
            .await
        {
            tracing::warn!(error = %e, "VACUUM key_materials after a key deletion failed");
        }
        Ok(deleted)
    }

    async fn key_was_deleted(&self, id: Uuid) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_keys WHERE id = $1)")
            .bind(id.to_string())
            .fetch_one(&self.pool())
            .await
            .map_err(backend)
    }

    async fn due_work(&self, now_ms: i64) -> Result<Vec<DueWork>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, 1 AS work FROM keys WHERE state = 'PendingDeletion' AND deletion_date_ms <= $1 \
             UNION ALL \
             SELECT id, 0 FROM keys WHERE state = 'Enabled' AND rotation_enabled AND next_rotation_ms <= $1 \
             UNION ALL \
             SELECT DISTINCT key_id, 2 FROM imported_materials WHERE valid_to_ms <= $1 \
             UNION ALL \
             SELECT id, 1 FROM keys k WHERE state = 'PendingReplicaDeletion' AND NOT EXISTS \
             (SELECT 1 FROM keys r WHERE r.account = k.account AND r.mrk_family = k.mrk_family AND r.id <> k.id)",
        )
        .bind(now_ms)
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let id = parse_uuid(&col::<String>(r, "id")?)?;
                Ok(match col::<i32>(r, "work")? {
                    1 => DueWork::Delete(id),
                    2 => DueWork::Expire(id),
                    _ => DueWork::Rotate(id),
                })
            })
            .collect()
    }

    async fn meta_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        // Of several processes at once, the first INSERT wins; the others
        // wait for its commit and insert nothing. READ COMMITTED (whatever
        // the server's default): the SELECT, a statement of its own, then
        // sees the winner's row.
        let mut tx = self
            .pool()
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let value = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(value)
    }

    async fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool())
            .await
            .map_err(backend)
    }

    async fn all_aliases(&self) -> Result<Vec<AliasRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT account, region, name, target, created_ms, updated_ms FROM aliases \
             ORDER BY account, region, name",
        )
        .fetch_all(&self.pool())
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
             WHERE account = $1 AND region = $2 AND name = $3",
        )
        .bind(account)
        .bind(region)
        .bind(name)
        .fetch_optional(&self.pool())
        .await
        .map_err(backend)?;
        row.as_ref().map(alias_from_row).transpose()
    }

    async fn insert_alias(&self, alias: &AliasRecord, max_per_key: u64) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        lock_key(&mut tx, alias.target).await?;
        sqlx::query(
            "INSERT INTO aliases (account, region, name, target, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
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
        let mut tx = self.pool().begin().await.map_err(backend)?;
        lock_key(&mut tx, alias.target).await?;
        sqlx::query(
            "UPDATE aliases SET target = $1, updated_ms = $2 WHERE account = $3 AND region = $4 AND name = $5",
        )
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
        sqlx::query("DELETE FROM aliases WHERE account = $1 AND region = $2 AND name = $3")
            .bind(account)
            .bind(region)
            .bind(name)
            .execute(&self.pool())
            .await
            .map_err(backend)
            .map(drop)
    }

    async fn insert_grant(&self, g: &GrantRecord, limits: GrantLimits) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        lock_key(&mut tx, g.key_id).await?;
        sqlx::query(
            "INSERT INTO grants (grant_id, key_id, name, grantee, grantee_service, retiring, retiring_service, \
             operations, context_equals, context_subset, source_arn, issuing_account, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&g.grant_id)
        .bind(g.key_id.to_string())
        .bind(&g.name)
        .bind(g.grantee.as_str())
        .bind(g.grantee.is_service())
        .bind(g.retiring.as_ref().map(GrantPrincipal::as_str))
        .bind(g.retiring.as_ref().is_some_and(GrantPrincipal::is_service))
        .bind(serde_json::to_string(&g.operations).expect("strings serialize"))
        .bind(
            g.context_equals
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("map serializes")),
        )
        .bind(
            g.context_subset
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("map serializes")),
        )
        .bind(&g.source_arn)
        .bind(&g.issuing_account)
        .bind(g.created_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let (of_key, of_grantee): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE grantee = $1) FROM grants WHERE key_id = $2",
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
            "SELECT {GRANT_COLUMNS} FROM grants WHERE key_id = $1 ORDER BY created_ms, grant_id"
        ))
        .bind(key_id.to_string())
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn find_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE grant_id = $1"
        ))
        .bind(grant_id)
        .fetch_optional(&self.pool())
        .await
        .map_err(backend)?;
        row.as_ref().map(grant_from_row).transpose()
    }

    async fn list_retirable_grants(&self, principal: &str) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE retiring = $1 AND NOT retiring_service ORDER BY created_ms, grant_id"
        ))
        .bind(principal)
        .fetch_all(&self.pool())
        .await
        .map_err(backend)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn delete_grant(&self, key_id: Uuid, grant_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM grants WHERE key_id = $1 AND grant_id = $2")
            .bind(key_id.to_string())
            .bind(grant_id)
            .execute(&self.pool())
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }
}
