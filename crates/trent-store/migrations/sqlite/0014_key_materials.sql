-- Several imported key materials per key (Origin EXTERNAL): one row per
-- material, its sealed bytes in key_materials under the same version while
-- it is imported. A deleted or expired material keeps its row (its id,
-- description and state) with import_state 'PENDING_IMPORT'; only a
-- material pending rotation goes whole when it is deleted or expires.
-- digest: a keyed digest of the material (HMAC under a key sealed under
-- the root key, never the material): the KeyMaterialId in hex.
CREATE TABLE imported_materials (
    key_id           TEXT    NOT NULL REFERENCES keys (id),
    version          INTEGER NOT NULL,
    digest           BLOB    NOT NULL,
    description      TEXT,
    -- KEY_MATERIAL_EXPIRES / KEY_MATERIAL_DOES_NOT_EXPIRE; NULL while the
    -- material is not imported.
    expiration_model TEXT,
    valid_to_ms      INTEGER,
    -- IMPORTED / PENDING_IMPORT
    import_state     TEXT    NOT NULL,
    -- CURRENT / NON_CURRENT / PENDING_ROTATION
    material_state   TEXT    NOT NULL,
    -- The rotation that made it current (NULL: the first, or pending).
    rotated_ms       INTEGER,
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

-- The change feed: a material's row made, changed or removed changes the
-- key (see 0010_changes.sql).
CREATE TRIGGER changes_imported_materials_insert AFTER INSERT ON imported_materials
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('key', NEW.key_id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_imported_materials_update AFTER UPDATE ON imported_materials
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('key', NEW.key_id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER changes_imported_materials_delete AFTER DELETE ON imported_materials
BEGIN
    INSERT INTO changes (kind, subject, at_ms)
    VALUES ('key', OLD.key_id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
