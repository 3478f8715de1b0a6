-- Several imported key materials per key (Origin EXTERNAL): one row per
-- material, its sealed bytes in key_materials under the same version while
-- it is imported. A deleted or expired material keeps its row (its id,
-- description and state) with import_state 'PENDING_IMPORT'; only a
-- material pending rotation goes whole when it is deleted or expires.
-- digest: a keyed digest of the material (HMAC under a key sealed under
-- the root key, never the material): the KeyMaterialId in hex.
CREATE TABLE imported_materials (
    key_id           TEXT   NOT NULL REFERENCES keys (id),
    version          BIGINT NOT NULL,
    digest           BYTEA  NOT NULL,
    description      TEXT,
    -- KEY_MATERIAL_EXPIRES / KEY_MATERIAL_DOES_NOT_EXPIRE; NULL while the
    -- material is not imported.
    expiration_model TEXT,
    valid_to_ms      BIGINT,
    -- IMPORTED / PENDING_IMPORT
    import_state     TEXT   NOT NULL,
    -- CURRENT / NON_CURRENT / PENDING_ROTATION
    material_state   TEXT   NOT NULL,
    -- The rotation that made it current (NULL: the first, or pending).
    rotated_ms       BIGINT,
    -- AUTOMATIC / ON_DEMAND
    rotation_type    TEXT,
    PRIMARY KEY (key_id, version)
);
-- The scheduler's expiry of imported material.
CREATE INDEX imported_materials_by_valid_to ON imported_materials (valid_to_ms)
    WHERE valid_to_ms IS NOT NULL;

-- The one material each imported key held until now: version 1, current.
INSERT INTO imported_materials (key_id, version, digest, description, expiration_model,
    valid_to_ms, import_state, material_state)
SELECT id, 1, material_digest, material_description, expiration_model, valid_to_ms,
    CASE WHEN expiration_model IS NULL THEN 'PENDING_IMPORT' ELSE 'IMPORTED' END, 'CURRENT'
FROM keys WHERE material_digest IS NOT NULL;
-- The key's columns are no longer read or written: emptied, so that no
-- stale copy of them remains.
DROP INDEX keys_by_valid_to;
UPDATE keys SET expiration_model = NULL, valid_to_ms = NULL, material_digest = NULL,
    material_description = NULL
WHERE material_digest IS NOT NULL OR expiration_model IS NOT NULL;

-- The change feed (see 0002_changes.sql): a material's row made, changed
-- or removed changes the key.
CREATE OR REPLACE FUNCTION feed_change() RETURNS trigger
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
        WHEN 'key_materials', 'grants', 'imported_materials' THEN
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

CREATE CONSTRAINT TRIGGER changes_imported_materials
    AFTER INSERT OR UPDATE OR DELETE ON imported_materials
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_change();
