-- Which accounts' events each audit block holds, so that LookupEvents
-- decodes only the blocks of the caller's account. The writer names them
-- in `accounts` (a JSON array); a trigger files them here in the same
-- statement, so the common batch stays one INSERT.
ALTER TABLE audit_blocks ADD COLUMN accounts TEXT;

CREATE TABLE audit_block_accounts (
    account   TEXT    NOT NULL,
    first_seq INTEGER NOT NULL,
    PRIMARY KEY (account, first_seq)
) WITHOUT ROWID;

CREATE TRIGGER audit_blocks_accounts AFTER INSERT ON audit_blocks
WHEN NEW.accounts IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO audit_block_accounts (account, first_seq)
        SELECT value, NEW.first_seq FROM json_each(NEW.accounts);
END;

-- Blocks written before this migration have no index rows: lookups scan
-- them as before (within their per-call budget).
INSERT INTO meta (name, value)
    SELECT 'audit-accounts-indexed-from', COALESCE(MAX(last_seq), 0) + 1 FROM audit_blocks;
