//! Rows decoded into the domain's records, and the column lists they are
//! read with.

use super::*;

pub(super) fn alias_from_row(r: &SqliteRow) -> Result<AliasRecord, StoreError> {
    Ok(AliasRecord {
        account: r.get(0),
        region: r.get(1),
        name: r.get(2),
        target: parse_uuid(r.get::<&str, _>(3))?,
        created_ms: r.get(4),
        updated_ms: r.get(5),
    })
}

/// A key's imported materials as one JSON array (read with
/// [`KEY_COLUMNS`], as `imported`).
pub(super) const IMPORTED_COLUMN: &str = "(SELECT json_group_array(json_object(\
     'version', version, 'digest', lower(hex(digest)), 'description', description, \
     'expiration_model', expiration_model, 'valid_to_ms', valid_to_ms, 'import_state', import_state, \
     'material_state', material_state, 'rotated_ms', rotated_ms, 'rotation_type', rotation_type)) \
     FROM imported_materials m WHERE m.key_id = keys.id) AS imported";

/// A key from a row of [`KEY_COLUMNS`] and [`IMPORTED_COLUMN`].
pub(super) fn key_from_row(row: &SqliteRow) -> Result<KeyRecord, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::Corrupt(e.to_string());
    let text = |c: &str| row.try_get::<String, _>(c).map_err(corrupt);
    let int = |c: &str| row.try_get::<i64, _>(c).map_err(corrupt);
    let opt = |c: &str| row.try_get::<Option<i64>, _>(c).map_err(corrupt);
    Ok(KeyRecord {
        id: parse_uuid(&text("id")?)?,
        account: text("account")?,
        region: text("region")?,
        arn: text("arn")?,
        created_ms: int("created_ms")?,
        description: text("description")?,
        key_usage: text("key_usage")?.as_str().into(),
        key_spec: text("key_spec")?.as_str().into(),
        origin: text("origin")?.as_str().into(),
        state: text("state")?.as_str().into(),
        deletion_date_ms: opt("deletion_date_ms")?,
        pending_window_days: opt("pending_window_days")?.map(|d| d as i32),
        policy: text("policy")?.into(),
        rotation_enabled: row
            .try_get::<bool, _>("rotation_enabled")
            .map_err(corrupt)?,
        rotation_period_days: opt("rotation_period_days")?.map(|d| d as i32),
        next_rotation_ms: opt("next_rotation_ms")?,
        current_material: int("current_material")? as u32,
        tags: decode_tags(&text("tags")?)?,
        imported: decode_imported(
            row.try_get::<Option<String>, _>("imported")
                .map_err(corrupt)?
                .as_deref(),
        )?,
        multi_region: crate::multi_region(
            row.try_get::<Option<String>, _>("mrk_family")
                .map_err(corrupt)?,
            row.try_get::<Option<String>, _>("primary_region")
                .map_err(corrupt)?,
        )?,
    })
}

pub(super) const CREDENTIAL_COLUMNS: &str = "access_key_id, account, principal_arn, sealed_secret, created_ms, user_name, active, \
     session_token_sha256, expires_ms, role_name, role_id, session_name";

pub(super) fn credential_from_row(r: &SqliteRow) -> Credential {
    let token: Option<Vec<u8>> = r.get("session_token_sha256");
    Credential {
        access_key_id: r.get("access_key_id"),
        account: r.get("account"),
        principal_arn: r.get("principal_arn"),
        sealed_secret: r.get("sealed_secret"),
        created_ms: r.get("created_ms"),
        user_name: r.get("user_name"),
        active: r.get("active"),
        session: token.map(|token_sha256| SessionRecord {
            token_sha256,
            expires_ms: r.get::<Option<i64>, _>("expires_ms").unwrap_or(0),
            role_name: r.get::<Option<String>, _>("role_name").unwrap_or_default(),
            role_id: r.get::<Option<String>, _>("role_id").unwrap_or_default(),
            session_name: r
                .get::<Option<String>, _>("session_name")
                .unwrap_or_default(),
        }),
    }
}

pub(super) const ENTITY_COLUMNS: &str = "account, kind, name, id, arn, path, created_ms, trust_policy, description, max_session_duration";

pub(super) fn entity_from_row(r: &SqliteRow) -> Result<IamEntity, StoreError> {
    let kind: String = r.get("kind");
    Ok(IamEntity {
        account: r.get("account"),
        kind: EntityKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("entity kind {kind:?}")))?,
        name: r.get("name"),
        id: r.get("id"),
        arn: r.get("arn"),
        path: r.get("path"),
        created_ms: r.get("created_ms"),
        trust_policy: r.get("trust_policy"),
        description: r.get("description"),
        max_session_duration: r.get("max_session_duration"),
    })
}

pub(super) const GRANT_COLUMNS: &str = "grant_id, key_id, name, grantee, grantee_service, retiring, retiring_service, \
     operations, context_equals, context_subset, source_arn, issuing_account, created_ms";

pub(super) fn grant_from_row(r: &SqliteRow) -> Result<GrantRecord, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("grant column: {e}"));
    let map = |c: Option<String>| {
        c.map(|s| serde_json::from_str(&s).map_err(corrupt))
            .transpose()
    };
    Ok(GrantRecord {
        grant_id: r.get("grant_id"),
        key_id: parse_uuid(r.get::<&str, _>("key_id"))?,
        name: r.get("name"),
        grantee: grant_principal(r.get("grantee"), r.get("grantee_service")),
        retiring: r
            .get::<Option<String>, _>("retiring")
            .map(|p| grant_principal(p, r.get("retiring_service"))),
        operations: serde_json::from_str(r.get::<&str, _>("operations")).map_err(corrupt)?,
        context_equals: map(r.get("context_equals"))?,
        context_subset: map(r.get("context_subset"))?,
        source_arn: r.get("source_arn"),
        issuing_account: r.get("issuing_account"),
        created_ms: r.get("created_ms"),
    })
}

pub(super) fn digest_from_row(r: &SqliteRow) -> AuditDigest {
    AuditDigest {
        seq: r.get("seq"),
        first_event_seq: r.get("first_event_seq"),
        last_event_seq: r.get("last_event_seq"),
        last_hash: r.get("last_hash"),
        created_ms: r.get("created_ms"),
        signature: r.get("signature"),
    }
}
