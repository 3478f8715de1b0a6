-- Accounts, IAM users/groups/roles with inline policies, sessions, grants.
CREATE TABLE accounts (
    id         TEXT    PRIMARY KEY,
    created_ms INTEGER NOT NULL
);

CREATE TABLE iam_entities (
    account              TEXT    NOT NULL,
    kind                 TEXT    NOT NULL CHECK (kind IN ('user', 'group', 'role')),
    name                 TEXT    NOT NULL,
    id                   TEXT    NOT NULL UNIQUE,
    arn                  TEXT    NOT NULL,
    path                 TEXT    NOT NULL,
    created_ms           INTEGER NOT NULL,
    trust_policy         TEXT,
    description          TEXT,
    max_session_duration INTEGER,
    PRIMARY KEY (account, kind, name)
);

CREATE TABLE iam_policies (
    account    TEXT NOT NULL,
    owner_kind TEXT NOT NULL,
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    document   TEXT NOT NULL,
    PRIMARY KEY (account, owner_kind, owner, name)
);

CREATE TABLE iam_group_members (
    account    TEXT NOT NULL,
    group_name TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    PRIMARY KEY (account, group_name, user_name)
);
CREATE INDEX iam_group_members_by_user ON iam_group_members (account, user_name);

ALTER TABLE credentials ADD COLUMN user_name TEXT;
ALTER TABLE credentials ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
-- Temporary credentials (AssumeRole): the token's SHA-256, never the token.
ALTER TABLE credentials ADD COLUMN session_token_sha256 BLOB;
ALTER TABLE credentials ADD COLUMN expires_ms INTEGER;
ALTER TABLE credentials ADD COLUMN role_name TEXT;
ALTER TABLE credentials ADD COLUMN role_id TEXT;
ALTER TABLE credentials ADD COLUMN session_name TEXT;

-- Accounts that already had credentials before this migration.
INSERT OR IGNORE INTO accounts (id, created_ms) SELECT DISTINCT account, created_ms FROM credentials;

CREATE TABLE grants (
    grant_id        TEXT    PRIMARY KEY,
    key_id          TEXT    NOT NULL REFERENCES keys (id),
    name            TEXT,
    grantee         TEXT    NOT NULL,
    retiring        TEXT,
    -- JSON array of operation names.
    operations      TEXT    NOT NULL,
    -- JSON objects, or NULL.
    context_equals  TEXT,
    context_subset  TEXT,
    issuing_account TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX grants_by_key ON grants (key_id, created_ms);
CREATE INDEX grants_by_retiring ON grants (retiring);
