-- Blocks of compact event records (trent-core's audit/block.rs) instead of
-- CloudTrail JSON lines: the writer no longer renders JSON, and a block
-- stores ~70 bytes per event instead of ~1,100. Existing blocks keep their
-- JSON lines (encoding 1) and are read as before; `events` holds a BLOB
-- for encoding 2 (a TEXT column stores BLOBs unchanged).
ALTER TABLE audit_blocks ADD COLUMN encoding INTEGER NOT NULL DEFAULT 1;
