-- Keys, their sealed material, aliases and access keys.
CREATE TABLE keys (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    id                   TEXT    NOT NULL UNIQUE,
    account              TEXT    NOT NULL,
    region               TEXT    NOT NULL,
    arn                  TEXT    NOT NULL,
    created_ms           INTEGER NOT NULL,
    description          TEXT    NOT NULL,
    key_usage            TEXT    NOT NULL,
    key_spec             TEXT    NOT NULL,
    origin               TEXT    NOT NULL,
    state                TEXT    NOT NULL,
    deletion_date_ms     INTEGER,
    pending_window_days  INTEGER,
    policy               TEXT    NOT NULL,
    rotation_enabled     INTEGER NOT NULL,
    rotation_period_days INTEGER,
    next_rotation_ms     INTEGER,
    current_material     INTEGER NOT NULL,
    -- JSON array of [key, value] pairs, in insertion order.
    tags                 TEXT    NOT NULL
);
CREATE INDEX keys_by_scope ON keys (account, region, seq);

CREATE TABLE key_materials (
    key_id     TEXT    NOT NULL REFERENCES keys (id),
    version    INTEGER NOT NULL,
    -- Sealed under the root key; never plaintext.
    sealed     BLOB    NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
);

CREATE TABLE aliases (
    account    TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    target     TEXT    NOT NULL REFERENCES keys (id),
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (account, region, name)
);

CREATE TABLE credentials (
    access_key_id TEXT    PRIMARY KEY,
    account       TEXT    NOT NULL,
    principal_arn TEXT    NOT NULL,
    -- Sealed under the root key; never plaintext.
    sealed_secret BLOB    NOT NULL,
    created_ms    INTEGER NOT NULL
);
CREATE INDEX credentials_by_account ON credentials (account);
