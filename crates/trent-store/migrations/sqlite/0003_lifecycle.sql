-- Rotations, deleted-key tombstones, the scheduler's indexes, server secrets.
CREATE TABLE key_rotations (
    key_id     TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    rotated_ms INTEGER NOT NULL,
    on_demand  INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
);

CREATE TABLE deleted_keys (
    id         TEXT    PRIMARY KEY,
    deleted_ms INTEGER NOT NULL
);

CREATE INDEX keys_due_deletion ON keys (deletion_date_ms) WHERE deletion_date_ms IS NOT NULL;
CREATE INDEX keys_due_rotation ON keys (next_rotation_ms) WHERE next_rotation_ms IS NOT NULL;

-- Server secrets (sealed under the root key), e.g. the pagination-marker key.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
