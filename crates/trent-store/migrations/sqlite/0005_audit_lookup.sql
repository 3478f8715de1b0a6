-- GetKeyLastUsage: each key's last successful cryptographic operation,
-- written by the audit writer in the transaction of the event that
-- recorded it.
CREATE TABLE key_last_usage (
    key_id     TEXT    PRIMARY KEY,
    operation  TEXT    NOT NULL,
    time_ms    INTEGER NOT NULL,
    event_id   TEXT    NOT NULL,
    request_id TEXT
);

-- CloudTrail LookupEvents: an account's events, newest first.
CREATE INDEX audit_events_account
    ON audit_events (json_extract(event_json, '$.recipientAccountId'), seq);
