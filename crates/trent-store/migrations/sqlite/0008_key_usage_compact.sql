-- GetKeyLastUsage rows in about half the space, in one B-tree: the key id
-- as 16 bytes, keyed WITHOUT ROWID (a TEXT primary key kept a second index
-- beside the table). Event and request ids are 16-byte BLOBs when they are
-- UUIDs (every id Trent makes), TEXT otherwise. Spread over 100,000 keys,
-- usage rewrites most of the table's pages at every store, so its size is
-- the cost of that write.
CREATE TABLE key_usage (
    key_id     BLOB    PRIMARY KEY,
    operation  TEXT    NOT NULL,
    time_ms    INTEGER NOT NULL,
    event_id   BLOB    NOT NULL,
    request_id BLOB
) WITHOUT ROWID;

INSERT INTO key_usage (key_id, operation, time_ms, event_id, request_id)
SELECT unhex(replace(key_id, '-', '')),
       operation,
       time_ms,
       CASE WHEN length(event_id) = 36 AND length(unhex(replace(event_id, '-', ''))) = 16
            THEN unhex(replace(event_id, '-', '')) ELSE event_id END,
       CASE WHEN length(request_id) = 36 AND length(unhex(replace(request_id, '-', ''))) = 16
            THEN unhex(replace(request_id, '-', '')) ELSE request_id END
FROM key_last_usage
WHERE length(unhex(replace(key_id, '-', ''))) = 16;

DROP TABLE key_last_usage;

-- The audit seq through which key_usage covers the events: the writer
-- replays the usage of later events (a crash's unstored part) at start.
CREATE TABLE key_usage_through (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO key_usage_through (id, seq)
SELECT 1, coalesce(max(last_seq), 0) FROM audit_blocks;
