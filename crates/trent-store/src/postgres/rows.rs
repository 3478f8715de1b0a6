//! Rows decoded into the domain's records, and the column lists they are
//! read with.

use super::*;

pub(super) fn alias_from_row(r: &PgRow) -> Result<AliasRecord, StoreError> {
    Ok(AliasRecord {
        account: col(r, "account")?,
        region: col(r, "region")?,
        name: col(r, "name")?,
        target: parse_uuid(&col::<String>(r, "target")?)?,
        created_ms: col(r, "created_ms")?,
        updated_ms: col(r, "updated_ms")?,
    })
}

pub(super) fn material_from_row(row: &PgRow) -> Result<SealedMaterial, StoreError> {
    Ok(SealedMaterial {
        version: u32_col(row, "version")?,
        sealed: col(row, "sealed")?,
    })
}

/// A key's imported materials as one JSON array (read with
/// [`KEY_COLUMNS`], as `imported`).
pub(super) const IMPORTED_COLUMN: &str = "(SELECT json_agg(json_build_object(\
     'version', version, 'digest', encode(digest, 'hex'), 'description', description, \
     'expiration_model', expiration_model, 'valid_to_ms', valid_to_ms, 'import_state', import_state, \
     'material_state', material_state, 'rotated_ms', rotated_ms, 'rotation_type', rotation_type) \
     ORDER BY version)::text FROM imported_materials m WHERE m.key_id = keys.id) AS imported";

/// A key from a row of [`KEY_COLUMNS`] and [`IMPORTED_COLUMN`].
pub(super) fn key_from_row(row: &PgRow) -> Result<KeyRecord, StoreError> {
    let text = |c: &str| col::<String>(row, c);
    Ok(KeyRecord {
        id: parse_uuid(&text("id")?)?,
        account: text("account")?,
        region: text("region")?,
        arn: text("arn")?,
        created_ms: col(row, "created_ms")?,
        description: text("description")?,
        key_usage: text("key_usage")?.as_str().into(),
        key_spec: text("key_spec")?.as_str().into(),
        origin: text("origin")?.as_str().into(),
        state: text("state")?.as_str().into(),
        deletion_date_ms: col(row, "deletion_date_ms")?,
        pending_window_days: i32_col(row, "pending_window_days")?,
        policy: text("policy")?.into(),
        rotation_enabled: col(row, "rotation_enabled")?,
        rotation_period_days: i32_col(row, "rotation_period_days")?,
        next_rotation_ms: col(row, "next_rotation_ms")?,
        current_material: u32_col(row, "current_material")?,
        tags: decode_tags(&text("tags")?)?,
        imported: decode_imported(col::<Option<String>>(row, "imported")?.as_deref())?,
        multi_region: crate::multi_region(col(row, "mrk_family")?, col(row, "primary_region")?)?,
    })
}

pub(super) const CREDENTIAL_COLUMNS: &str = "access_key_id, account, principal_arn, sealed_secret, created_ms, user_name, active, \
     session_token_sha256, expires_ms, role_name, role_id, session_name";

pub(super) fn credential_from_row(r: &PgRow) -> Result<Credential, StoreError> {
    let token: Option<Vec<u8>> = col(r, "session_token_sha256")?;
    let session = match token {
        None => None,
        Some(token_sha256) => Some(SessionRecord {
            token_sha256,
            expires_ms: col::<Option<i64>>(r, "expires_ms")?.unwrap_or(0),
            role_name: col::<Option<String>>(r, "role_name")?.unwrap_or_default(),
            role_id: col::<Option<String>>(r, "role_id")?.unwrap_or_default(),
            session_name: col::<Option<String>>(r, "session_name")?.unwrap_or_default(),
        }),
    };
    Ok(Credential {
        access_key_id: col(r, "access_key_id")?,
        account: col(r, "account")?,
        principal_arn: col(r, "principal_arn")?,
        sealed_secret: col(r, "sealed_secret")?,
        created_ms: col(r, "created_ms")?,
        user_name: col(r, "user_name")?,
        active: col(r, "active")?,
        session,
    })
}

pub(super) const ENTITY_COLUMNS: &str = "account, kind, name, id, arn, path, created_ms, trust_policy, description, max_session_duration";

pub(super) fn entity_from_row(r: &PgRow) -> Result<IamEntity, StoreError> {
    let kind: String = col(r, "kind")?;
    Ok(IamEntity {
        account: col(r, "account")?,
        kind: EntityKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("entity kind {kind:?}")))?,
        name: col(r, "name")?,
        id: col(r, "id")?,
        arn: col(r, "arn")?,
        path: col(r, "path")?,
        created_ms: col(r, "created_ms")?,
        trust_policy: col(r, "trust_policy")?,
        description: col(r, "description")?,
        max_session_duration: i32_col(r, "max_session_duration")?,
    })
}

pub(super) const GRANT_COLUMNS: &str = "grant_id, key_id, name, grantee, grantee_service, retiring, retiring_service, \
     operations, context_equals, context_subset, source_arn, issuing_account, created_ms";

pub(super) fn grant_from_row(r: &PgRow) -> Result<GrantRecord, StoreError> {
    let json = |e: serde_json::Error| StoreError::Corrupt(format!("grant column: {e}"));
    let map = |c: Option<String>| {
        c.map(|s| serde_json::from_str(&s).map_err(json))
            .transpose()
    };
    Ok(GrantRecord {
        grant_id: col(r, "grant_id")?,
        key_id: parse_uuid(&col::<String>(r, "key_id")?)?,
        name: col(r, "name")?,
        grantee: grant_principal(col(r, "grantee")?, col(r, "grantee_service")?),
        retiring: col::<Option<String>>(r, "retiring")?
            .map(|p| col(r, "retiring_service").map(|service| grant_principal(p, service)))
            .transpose()?,
        operations: serde_json::from_str(&col::<String>(r, "operations")?).map_err(json)?,
        context_equals: map(col(r, "context_equals")?)?,
        context_subset: map(col(r, "context_subset")?)?,
        source_arn: col(r, "source_arn")?,
        issuing_account: col(r, "issuing_account")?,
        created_ms: col(r, "created_ms")?,
    })
}

pub(super) fn digest_from_row(r: &PgRow) -> Result<AuditDigest, StoreError> {
    Ok(AuditDigest {
        seq: col(r, "seq")?,
        first_event_seq: col(r, "first_event_seq")?,
        last_event_seq: col(r, "last_event_seq")?,
        last_hash: col(r, "last_hash")?,
        created_ms: col(r, "created_ms")?,
        signature: col(r, "signature")?,
    })
}
