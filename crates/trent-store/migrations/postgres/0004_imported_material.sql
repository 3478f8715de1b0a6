-- Imported key material (Origin EXTERNAL): whether the material the key
-- holds expires, and when; a keyed digest (HMAC under a key sealed under
-- the root key, never the material) of the material first imported, kept
-- after it is deleted or expires, so that only the same material is
-- imported again. NULL for keys whose material KMS made.
ALTER TABLE keys ADD COLUMN expiration_model TEXT;
ALTER TABLE keys ADD COLUMN valid_to_ms BIGINT;
ALTER TABLE keys ADD COLUMN material_digest BYTEA;
-- ImportKeyMaterial's KeyMaterialDescription, kept across re-imports.
ALTER TABLE keys ADD COLUMN material_description TEXT;
-- The scheduler's expiry of imported material.
CREATE INDEX keys_by_valid_to ON keys (valid_to_ms) WHERE valid_to_ms IS NOT NULL;
