-- The audit trail is stored a block (one group commit of the writer) per
-- row instead of an event per row: one INSERT per transaction instead of
-- one row and four index entries per event, which made auditing cost more
-- than the requests it recorded. The hash chain is per event as before;
-- block boundaries are not part of it. Lookups scan blocks newest first,
-- skipping those outside the time range.
CREATE TABLE audit_blocks (
    first_seq     INTEGER PRIMARY KEY,
    last_seq      INTEGER NOT NULL,
    first_time_ms INTEGER NOT NULL,
    last_time_ms  INTEGER NOT NULL,
    -- The events' CloudTrail JSON, each followed by a newline.
    events        TEXT    NOT NULL,
    -- The 32-byte chain hash of each event, in order.
    hashes        BLOB    NOT NULL
);

INSERT INTO audit_blocks (first_seq, last_seq, first_time_ms, last_time_ms, events, hashes)
    SELECT seq, seq, event_time_ms, event_time_ms, event_json || char(10), hash
    FROM audit_events;

DROP TABLE audit_events;
