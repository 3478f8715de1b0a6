-- Trent's PostgreSQL schema: the final state of the SQLite migrations
-- 0001..0009, made at once (a PostgreSQL store has no history to replay).
-- Integers and times (milliseconds since the epoch) are BIGINT, blobs
-- BYTEA, flags BOOLEAN; key, grant and alias ids are the same text as in
-- SQLite. Text that is ordered (IAM names, grant and access key ids,
-- aliases) is COLLATE "C": compared bytewise, as SQLite's BINARY, whatever
-- the database's locale. Names are unqualified: the tables go into the first schema of
-- the connection's search_path (tests use a schema each).

-- Keys, their sealed material, aliases and access keys.
CREATE TABLE keys (
    -- Creation order (ListKeys' order and paging, the cache warm-up's).
    seq                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                   TEXT    NOT NULL UNIQUE,
    account              TEXT    NOT NULL,
    region               TEXT    NOT NULL,
    arn                  TEXT    NOT NULL,
    created_ms           BIGINT  NOT NULL,
    description          TEXT    NOT NULL,
    key_usage            TEXT    NOT NULL,
    key_spec             TEXT    NOT NULL,
    origin               TEXT    NOT NULL,
    state                TEXT    NOT NULL,
    deletion_date_ms     BIGINT,
    pending_window_days  BIGINT,
    policy               TEXT    NOT NULL,
    rotation_enabled     BOOLEAN NOT NULL,
    rotation_period_days BIGINT,
    next_rotation_ms     BIGINT,
    current_material     BIGINT  NOT NULL,
    -- JSON array of [key, value] pairs, in insertion order.
    tags                 TEXT    NOT NULL
);
CREATE INDEX keys_by_scope ON keys (account, region, seq);
CREATE INDEX keys_due_deletion ON keys (deletion_date_ms) WHERE deletion_date_ms IS NOT NULL;
CREATE INDEX keys_due_rotation ON keys (next_rotation_ms) WHERE next_rotation_ms IS NOT NULL;

CREATE TABLE key_materials (
    key_id     TEXT   NOT NULL REFERENCES keys (id),
    version    BIGINT NOT NULL,
    -- Sealed under the root key; never plaintext.
    sealed     BYTEA  NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (key_id, version)
);

CREATE TABLE aliases (
    account    TEXT   COLLATE "C" NOT NULL,
    region     TEXT   COLLATE "C" NOT NULL,
    name       TEXT   COLLATE "C" NOT NULL,
    target     TEXT   NOT NULL REFERENCES keys (id),
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (account, region, name)
);
-- A key's deletion removes its aliases (SQLite scans; here an index).
CREATE INDEX aliases_by_target ON aliases (target);

-- Accounts, IAM users/groups/roles with inline policies, sessions, grants.
CREATE TABLE accounts (
    id         TEXT   PRIMARY KEY,
    created_ms BIGINT NOT NULL
);

CREATE TABLE credentials (
    access_key_id        TEXT    COLLATE "C" PRIMARY KEY,
    account              TEXT    NOT NULL,
    principal_arn        TEXT    NOT NULL,
    -- Sealed under the root key; never plaintext.
    sealed_secret        BYTEA   NOT NULL,
    created_ms           BIGINT  NOT NULL,
    user_name            TEXT,
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    -- Temporary credentials (AssumeRole): the token's SHA-256, never the token.
    session_token_sha256 BYTEA,
    expires_ms           BIGINT,
    role_name            TEXT,
    role_id              TEXT,
    session_name         TEXT
);
CREATE INDEX credentials_by_account ON credentials (account);

CREATE TABLE iam_entities (
    account              TEXT   NOT NULL,
    kind                 TEXT   NOT NULL CHECK (kind IN ('user', 'group', 'role')),
    name                 TEXT   COLLATE "C" NOT NULL,
    id                   TEXT   NOT NULL UNIQUE,
    arn                  TEXT   NOT NULL,
    path                 TEXT   NOT NULL,
    created_ms           BIGINT NOT NULL,
    trust_policy         TEXT,
    description          TEXT,
    max_session_duration BIGINT,
    PRIMARY KEY (account, kind, name)
);

CREATE TABLE iam_policies (
    account    TEXT NOT NULL,
    owner_kind TEXT NOT NULL,
    owner      TEXT NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    document   TEXT NOT NULL,
    PRIMARY KEY (account, owner_kind, owner, name)
);

CREATE TABLE iam_group_members (
    account    TEXT NOT NULL,
    group_name TEXT COLLATE "C" NOT NULL,
    user_name  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account, group_name, user_name)
);
CREATE INDEX iam_group_members_by_user ON iam_group_members (account, user_name);

CREATE TABLE grants (
    grant_id        TEXT   COLLATE "C" PRIMARY KEY,
    key_id          TEXT   NOT NULL REFERENCES keys (id),
    name            TEXT,
    grantee         TEXT   NOT NULL,
    retiring        TEXT,
    -- JSON array of operation names.
    operations      TEXT   NOT NULL,
    -- JSON objects, or NULL.
    context_equals  TEXT,
    context_subset  TEXT,
    issuing_account TEXT   NOT NULL,
    created_ms      BIGINT NOT NULL
);
CREATE INDEX grants_by_key ON grants (key_id, created_ms);
CREATE INDEX grants_by_retiring ON grants (retiring);

-- Rotations, deleted-key tombstones, server secrets.
CREATE TABLE key_rotations (
    key_id     TEXT    NOT NULL,
    version    BIGINT  NOT NULL,
    rotated_ms BIGINT  NOT NULL,
    on_demand  BOOLEAN NOT NULL,
    PRIMARY KEY (key_id, version)
);

CREATE TABLE deleted_keys (
    id         TEXT   PRIMARY KEY,
    deleted_ms BIGINT NOT NULL
);

-- Server secrets (sealed under the root key), e.g. the pagination-marker key.
CREATE TABLE meta (
    name  TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
);

-- The audit trail: a block (one group commit of the writer) per row, only
-- ever appended. The hash chain is per event; block boundaries are not part
-- of it. `events` holds the block codec's records (`encoding`: one of its
-- ENCODING_* values); `hashes` the events' chain hashes, in order.
CREATE TABLE audit_blocks (
    first_seq     BIGINT PRIMARY KEY,
    last_seq      BIGINT NOT NULL,
    first_time_ms BIGINT NOT NULL,
    last_time_ms  BIGINT NOT NULL,
    encoding      BIGINT NOT NULL,
    events        BYTEA  NOT NULL,
    hashes        BYTEA  NOT NULL
);
-- Reading the trail from a seq finds the block holding it (first_seq <
-- seq <= last_seq) without scanning the blocks before it. The range's upper
-- bound is never below its lower one, so no row (however written) fails to
-- be indexed.
CREATE INDEX audit_blocks_span ON audit_blocks
    USING gist (int8range(first_seq, GREATEST(first_seq, last_seq), '[]'));

-- Which accounts' events each block holds, so that LookupEvents decodes
-- only the blocks of the caller's account. Unlike SQLite (an `accounts`
-- JSON column and a trigger), the store inserts these rows itself, in the
-- statement that inserts the block. Every block is indexed (there are no
-- blocks from before the index here).
CREATE TABLE audit_block_accounts (
    account   TEXT   NOT NULL,
    first_seq BIGINT NOT NULL,
    PRIMARY KEY (account, first_seq)
);

CREATE TABLE audit_digests (
    seq             BIGINT PRIMARY KEY,
    first_event_seq BIGINT NOT NULL,
    last_event_seq  BIGINT NOT NULL,
    last_hash       BYTEA  NOT NULL,
    created_ms      BIGINT NOT NULL,
    signature       BYTEA  NOT NULL
);

-- GetKeyLastUsage: each key's last successful tracked operation. The key
-- id is its UUID's 16 bytes. An event or request id is stored as SQLite
-- stores it, 16 bytes for a UUID (every id Trent makes) and text
-- otherwise, here in two columns: `*_uuid` (16 bytes) or `*_text`, never
-- both; the event id always one of them, the request id at most one.
CREATE TABLE key_usage (
    key_id       BYTEA  PRIMARY KEY CHECK (octet_length(key_id) = 16),
    operation    TEXT   NOT NULL,
    time_ms      BIGINT NOT NULL,
    event_uuid   BYTEA  CHECK (octet_length(event_uuid) = 16),
    event_text   TEXT,
    request_uuid BYTEA  CHECK (octet_length(request_uuid) = 16),
    request_text TEXT,
    CHECK ((event_uuid IS NULL) <> (event_text IS NULL)),
    CHECK (request_uuid IS NULL OR request_text IS NULL)
);

-- The audit seq through which key_usage covers the events: the writer
-- replays the usage of later events (a crash's unstored part) at start.
CREATE TABLE key_usage_through (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO key_usage_through (id, seq) VALUES (1, 0);
