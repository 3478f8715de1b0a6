//! [`IdentityStore`] on SQLite: accounts, access keys, IAM entities.

use super::*;

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        insert_credential(&mut conn, credential).await
    }

    async fn get_credential(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE access_key_id = ?"
        ))
        .bind(access_key_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.as_ref().map(credential_from_row))
    }

    async fn list_credentials(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<Credential>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE account = ? AND user_name IS ? \
             AND session_token_sha256 IS NULL ORDER BY created_ms"
        ))
        .bind(account)
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(credential_from_row).collect())
    }

    async fn set_credential_active(
        &self,
        access_key_id: &str,
        active: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET active = ? WHERE access_key_id = ?")
            .bind(active)
            .bind(access_key_id)
            .execute(&self.pool)
            .await
            .map_err(backend)
            .map(drop)
    }

    async fn delete_credential(&self, access_key_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM credentials WHERE access_key_id = ?")
            .bind(access_key_id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_account(
        &self,
        account: &str,
        root_key: Option<&Credential>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO accounts (id, created_ms) VALUES (?, ?)")
            .bind(account)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if let Some(credential) = root_key {
            insert_credential(&mut tx, credential).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn account_exists(&self, account: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = ?")
            .bind(account)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn insert_entity(&self, e: &IamEntity) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO iam_entities (account, kind, name, id, arn, path, created_ms, trust_policy, description, \
             max_session_duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.account)
        .bind(e.kind.as_str())
        .bind(&e.name)
        .bind(&e.id)
        .bind(&e.arn)
        .bind(&e.path)
        .bind(e.created_ms)
        .bind(&e.trust_policy)
        .bind(&e.description)
        .bind(e.max_session_duration)
        .execute(&self.pool)
        .await
        .map_err(backend)
        .map(drop)
    }

    async fn get_entity(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<Option<IamEntity>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ENTITY_COLUMNS} FROM iam_entities WHERE account = ? AND kind = ? AND name = ?"
        ))
        .bind(account)
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(entity_from_row).transpose()
    }

    async fn list_entities(
        &self,
        account: &str,
        kind: EntityKind,
    ) -> Result<Vec<IamEntity>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENTITY_COLUMNS} FROM iam_entities WHERE account = ? AND kind = ? ORDER BY name"
        ))
        .bind(account)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(entity_from_row).collect()
    }

    async fn delete_entity(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM iam_entities WHERE account = ? AND kind = ? AND name = ?")
                .bind(account)
                .bind(kind.as_str())
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_policy(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
        name: &str,
        document: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO iam_policies (account, owner_kind, owner, name, document) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (account, owner_kind, owner, name) DO UPDATE SET document = excluded.document",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(owner)
        .bind(name)
        .bind(document)
        .execute(&self.pool)
        .await
        .map_err(backend)
        .map(drop)
    }

    async fn list_policies(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, document FROM iam_policies WHERE account = ? AND owner_kind = ? AND owner = ? ORDER BY name",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn delete_policy(
        &self,
        account: &str,
        kind: EntityKind,
        owner: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM iam_policies WHERE account = ? AND owner_kind = ? AND owner = ? AND name = ?")
            .bind(account)
            .bind(kind.as_str())
            .bind(owner)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_group_member(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO iam_group_members (account, group_name, user_name) VALUES (?, ?, ?)",
        )
        .bind(account)
        .bind(group)
        .bind(user)
        .execute(&self.pool)
        .await
        .map_err(backend)
        .map(drop)
    }

    async fn remove_group_member(
        &self,
        account: &str,
        group: &str,
        user: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM iam_group_members WHERE account = ? AND group_name = ? AND user_name = ?",
        )
        .bind(account)
        .bind(group)
        .bind(user)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn groups_of_user(&self, account: &str, user: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT group_name FROM iam_group_members WHERE account = ? AND user_name = ? ORDER BY group_name")
            .bind(account)
            .bind(user)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn members_of_group(
        &self,
        account: &str,
        group: &str,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT user_name FROM iam_group_members WHERE account = ? AND group_name = ? ORDER BY user_name")
            .bind(account)
            .bind(group)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }
}

/// Inserts a credential row (in whatever transaction `conn` is in).
async fn insert_credential(
    conn: &mut sqlx::SqliteConnection,
    credential: &Credential,
) -> Result<(), StoreError> {
    let session = credential.session.as_ref();
    sqlx::query(
        "INSERT INTO credentials (access_key_id, account, principal_arn, sealed_secret, created_ms, user_name, active, \
         session_token_sha256, expires_ms, role_name, role_id, session_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&credential.access_key_id)
    .bind(&credential.account)
    .bind(&credential.principal_arn)
    .bind(&credential.sealed_secret)
    .bind(credential.created_ms)
    .bind(&credential.user_name)
    .bind(credential.active)
    .bind(session.map(|s| s.token_sha256.clone()))
    .bind(session.map(|s| s.expires_ms))
    .bind(session.map(|s| s.role_name.clone()))
    .bind(session.map(|s| s.role_id.clone()))
    .bind(session.map(|s| s.session_name.clone()))
    .execute(&mut *conn)
    .await
    .map_err(backend)
    .map(drop)
}
