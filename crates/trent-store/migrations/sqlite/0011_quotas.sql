-- Resource quotas the store keeps (trent-core's `Limit`): an insert and the
-- count it is checked against are one transaction.
--
-- How many keys each account holds in each Region, kept by triggers so that
-- every writer (CreateKey, ReplicateKey, `trent store copy`, a deletion)
-- keeps it right; counting the keys themselves at every CreateKey would
-- read the whole scope.
CREATE TABLE key_counts (
    account TEXT    NOT NULL,
    region  TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (account, region)
);
INSERT INTO key_counts (account, region, n)
SELECT account, region, COUNT(*) FROM keys GROUP BY account, region;

CREATE TRIGGER key_counts_insert AFTER INSERT ON keys
BEGIN
    INSERT INTO key_counts (account, region, n) VALUES (NEW.account, NEW.region, 1)
    ON CONFLICT (account, region) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER key_counts_delete AFTER DELETE ON keys
BEGIN
    UPDATE key_counts SET n = n - 1 WHERE account = OLD.account AND region = OLD.region;
END;

-- Aliases are counted by target (at most a few dozen a key).
CREATE INDEX aliases_by_target ON aliases (target);
