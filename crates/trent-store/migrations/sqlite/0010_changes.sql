-- The change feed (trent-core's `ChangeStore`): every write that may leave
-- another process's cache stale appends a row here, in its own
-- transaction, made by the triggers below, so that no writer (not even a
-- hand-made one) can forget it. `kind` and `subject`:
--   'key'      the key's id (as in keys.id): the key's row, a material
--              version past the first (a rotation), a grant made or removed;
--   'alias'    account || '/' || region || '/' || name (the name, itself
--              `alias/...`, may hold '/': the subject splits at its first
--              two '/' only);
--   'identity' the account id: accounts, access keys, IAM entities, their
--              policies and group memberships.
-- A new key is not fed (no cache holds it yet).
--
-- Ids grow in commit order: SQLite lets one write transaction at a time
-- (the database's write lock, held from its first write to its commit), so
-- a row's id is drawn after every earlier writer committed. AUTOINCREMENT:
-- an id is never drawn twice, also when pruning removed the newest rows
-- (a reader that saw id N must never be handed a new N).
CREATE TABLE changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    -- The database's clock at the write (Unix ms).
    at_ms   INTEGER NOT NULL
);
-- Pruning: the rows older than a time.
CREATE INDEX changes_by_time ON changes (at_ms);

-- Keys: updated or deleted (not inserted).
CREATE TRIGGER changes_keys_update AFTER UPDATE ON keys
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('key', NEW.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_keys_delete AFTER DELETE ON keys
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('key', OLD.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

-- A material version past the first: a rotation.
CREATE TRIGGER changes_key_materials_insert AFTER INSERT ON key_materials
WHEN NEW.version > 1
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('key', NEW.key_id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

-- Grants: made or removed.
CREATE TRIGGER changes_grants_insert AFTER INSERT ON grants
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('key', NEW.key_id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_grants_delete AFTER DELETE ON grants
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('key', OLD.key_id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

-- Aliases: made, pointed elsewhere (the row's account, region and name do
-- not change), removed.
CREATE TRIGGER changes_aliases_insert AFTER INSERT ON aliases
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('alias', NEW.account || '/' || NEW.region || '/' || NEW.name,
            CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_aliases_update AFTER UPDATE ON aliases
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('alias', NEW.account || '/' || NEW.region || '/' || NEW.name,
            CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_aliases_delete AFTER DELETE ON aliases
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('alias', OLD.account || '/' || OLD.region || '/' || OLD.name,
            CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

-- Identities: access keys, accounts, IAM entities, policies, memberships.
CREATE TRIGGER changes_credentials_insert AFTER INSERT ON credentials
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_credentials_update AFTER UPDATE ON credentials
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_credentials_delete AFTER DELETE ON credentials
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', OLD.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER changes_accounts_insert AFTER INSERT ON accounts
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_accounts_delete AFTER DELETE ON accounts
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', OLD.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER changes_iam_entities_insert AFTER INSERT ON iam_entities
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_iam_entities_update AFTER UPDATE ON iam_entities
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_iam_entities_delete AFTER DELETE ON iam_entities
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', OLD.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER changes_iam_policies_insert AFTER INSERT ON iam_policies
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_iam_policies_update AFTER UPDATE ON iam_policies
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_iam_policies_delete AFTER DELETE ON iam_policies
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', OLD.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER changes_iam_group_members_insert AFTER INSERT ON iam_group_members
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_iam_group_members_update AFTER UPDATE ON iam_group_members
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', NEW.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_iam_group_members_delete AFTER DELETE ON iam_group_members
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('identity', OLD.account, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
