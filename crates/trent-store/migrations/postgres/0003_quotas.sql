-- Resource quotas the store keeps (trent-core's `Limit`): an insert and the
-- count it is checked against are one transaction, and concurrent inserts
-- into one scope queue on one row lock (see postgres/keys.rs), so that several
-- nodes inserting at once end as some serial order would.
--
-- How many keys each account holds in each Region. `insert_key` counts a
-- new key itself, as its last statement (postgres/keys.rs): the scope's
-- row is then locked only from there to the commit. A deletion, from
-- wherever it comes, is counted by the trigger below.
CREATE TABLE key_counts (
    account TEXT   NOT NULL,
    region  TEXT   NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (account, region)
);
INSERT INTO key_counts (account, region, n)
SELECT account, region, COUNT(*) FROM keys GROUP BY account, region;

CREATE FUNCTION uncount_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE key_counts SET n = n - 1 WHERE account = OLD.account AND region = OLD.region;
    RETURN NULL;
END;
$$;

CREATE TRIGGER key_counts AFTER DELETE ON keys
FOR EACH ROW EXECUTE FUNCTION uncount_key();
