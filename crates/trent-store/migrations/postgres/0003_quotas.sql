-- Resource quotas the store keeps (trent-core's `Limit`): an insert and the
-- count it is checked against are one transaction, and concurrent inserts
-- into one scope queue on one row lock (see postgres/keys.rs), so that several
-- nodes inserting at once end as some serial order would.
--
-- How many keys each account holds in each Region, kept by triggers so that
-- every writer (CreateKey, ReplicateKey, `trent store copy`, a deletion)
-- keeps it right. The insert's trigger takes the scope's row lock, held to
-- the commit: the count read after it is exact.
CREATE TABLE key_counts (
    account TEXT   NOT NULL,
    region  TEXT   NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (account, region)
);
INSERT INTO key_counts (account, region, n)
SELECT account, region, COUNT(*) FROM keys GROUP BY account, region;

CREATE FUNCTION count_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO key_counts (account, region, n) VALUES (NEW.account, NEW.region, 1)
        ON CONFLICT (account, region) DO UPDATE SET n = key_counts.n + 1;
    ELSE
        UPDATE key_counts SET n = n - 1 WHERE account = OLD.account AND region = OLD.region;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER key_counts AFTER INSERT OR DELETE ON keys
FOR EACH ROW EXECUTE FUNCTION count_keys();
