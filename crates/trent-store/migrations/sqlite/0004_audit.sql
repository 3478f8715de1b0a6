-- The audit trail: CloudTrail-shaped events, hash-chained, closed by signed
-- digests. Rows are only ever appended.
CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY,
    event_id      TEXT    NOT NULL,
    event_time_ms INTEGER NOT NULL,
    key_arn       TEXT,
    principal_arn TEXT,
    event_name    TEXT    NOT NULL,
    event_json    TEXT    NOT NULL,
    prev_hash     BLOB    NOT NULL,
    hash          BLOB    NOT NULL
);

CREATE INDEX audit_events_time ON audit_events (event_time_ms);
CREATE INDEX audit_events_key ON audit_events (key_arn, event_time_ms) WHERE key_arn IS NOT NULL;
CREATE INDEX audit_events_principal ON audit_events (principal_arn, event_time_ms) WHERE principal_arn IS NOT NULL;

CREATE TABLE audit_digests (
    seq             INTEGER PRIMARY KEY,
    first_event_seq INTEGER NOT NULL,
    last_event_seq  INTEGER NOT NULL,
    last_hash       BLOB    NOT NULL,
    created_ms      INTEGER NOT NULL,
    signature       BLOB    NOT NULL
);
