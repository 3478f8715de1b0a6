-- The change feed (trent-core's `ChangeStore`), as SQLite's migration 0010:
-- every write that may leave another node's cache stale appends a row,
-- made by the triggers below in the writing transaction, so that no writer
-- (not even a hand-made one) can forget it. `kind` and `subject`:
--   'key'      the key's id (as in keys.id): the key's row, a material
--              version past the first (a rotation), a grant made or removed;
--   'alias'    account || '/' || region || '/' || name (the name, itself
--              `alias/...`, may hold '/': the subject splits at its first
--              two '/' only);
--   'identity' the account id: accounts, access keys, IAM entities, their
--              policies and group memberships.
-- A new key is not fed (no cache holds it yet).
CREATE TABLE changes (
    -- A sequence: never drawn twice, also when pruning removed the newest
    -- rows.
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind    TEXT   NOT NULL,
    subject TEXT   NOT NULL,
    -- The database's clock when the change was committed (Unix ms).
    at_ms   BIGINT NOT NULL
);
-- Pruning: the rows older than a time.
CREATE INDEX changes_by_time ON changes (at_ms);

-- Appends the change a row of the triggering table makes, and notifies
-- `trent_changes` (delivered at commit; PostgreSQL sends one notification
-- per transaction, however many rows, and to every listener of the
-- database, whatever its schema).
--
-- Ids visible in commit order: a sequence hands out ids in the order they
-- are drawn, but transactions commit in another order, so a reader that has
-- seen id N could later find a newly committed M < N and, reading on from
-- N, miss it. So an id is drawn only under the transaction-scoped advisory
-- lock 8390880580818135143 (0x7472656e74636867, the ASCII of "trentchg";
-- in the single-bigint key space, apart from the (int, int) keys Trent
-- takes when it creates a schema, and from sqlx's migration lock, keyed by
-- the database name's CRC), held to the end of the transaction: every
-- earlier feeding transaction has committed (or rolled back) before a
-- later one draws its first id. PostgreSQL makes a commit visible before
-- it releases the transaction's locks. The lock is database-wide: stores
-- in several schemas of one database take turns at it too.
--
-- The triggers are deferred constraint triggers (`INITIALLY DEFERRED`):
-- they run when the transaction commits, after all its statements, so the
-- lock is held only from then to the commit's end, and a transaction never
-- waits for a row lock while holding it. (Taken at the statement, a
-- transaction holding the lock and then waiting for a row that another
-- transaction had locked, before itself waiting for the lock, would
-- deadlock: a rotation's UPDATE of its key against an update of that key,
-- say.) The changes of one transaction are appended in the order of its
-- statements, as SQLite's immediate triggers append them; `at_ms` is the
-- commit's time.
--
-- `SET search_path FROM CURRENT`: the function's search_path is that of
-- this migration (the store's schema), whoever writes the row.
CREATE FUNCTION feed_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    r         RECORD;
    v_kind    TEXT;
    v_subject TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    CASE TG_TABLE_NAME
        WHEN 'keys' THEN
            v_kind := 'key';
            v_subject := r.id;
        WHEN 'key_materials', 'grants' THEN
            v_kind := 'key';
            v_subject := r.key_id;
        WHEN 'aliases' THEN
            v_kind := 'alias';
            v_subject := r.account || '/' || r.region || '/' || r.name;
        WHEN 'accounts' THEN
            v_kind := 'identity';
            v_subject := r.id;
        WHEN 'credentials', 'iam_entities', 'iam_policies', 'iam_group_members' THEN
            v_kind := 'identity';
            v_subject := r.account;
        ELSE
            RAISE EXCEPTION 'feed_change() on table %', TG_TABLE_NAME;
    END CASE;
    -- Before the row draws its id (see above).
    PERFORM pg_advisory_xact_lock(8390880580818135143);
    INSERT INTO changes (kind, subject, at_ms)
    VALUES (v_kind, v_subject, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT);
    PERFORM pg_notify('trent_changes', '');
    RETURN NULL;
END;
$$;

-- Keys: updated or deleted (not inserted).
CREATE CONSTRAINT TRIGGER changes_keys AFTER UPDATE OR DELETE ON keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
-- A material version past the first: a rotation.
CREATE CONSTRAINT TRIGGER changes_key_materials AFTER INSERT ON key_materials
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.version > 1)
    EXECUTE FUNCTION feed_change();
-- Grants: made or removed.
CREATE CONSTRAINT TRIGGER changes_grants AFTER INSERT OR DELETE ON grants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
-- Aliases: made, pointed elsewhere (the row's account, region and name do
-- not change), removed.
CREATE CONSTRAINT TRIGGER changes_aliases AFTER INSERT OR UPDATE OR DELETE ON aliases
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
-- Identities.
CREATE CONSTRAINT TRIGGER changes_credentials AFTER INSERT OR UPDATE OR DELETE ON credentials
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
CREATE CONSTRAINT TRIGGER changes_accounts AFTER INSERT OR DELETE ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
CREATE CONSTRAINT TRIGGER changes_iam_entities AFTER INSERT OR UPDATE OR DELETE ON iam_entities
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
CREATE CONSTRAINT TRIGGER changes_iam_policies AFTER INSERT OR UPDATE OR DELETE ON iam_policies
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
CREATE CONSTRAINT TRIGGER changes_iam_group_members
    AFTER INSERT OR UPDATE OR DELETE ON iam_group_members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
