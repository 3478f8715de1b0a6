-- Multi-Region keys: the family id F (a version-8 UUID, the `mrk-` key id
-- every related key shows) and the Region of the family's primary key.
-- NULL for single-Region keys.
ALTER TABLE keys ADD COLUMN mrk_family TEXT;
ALTER TABLE keys ADD COLUMN primary_region TEXT;
-- The related keys of a family in an account.
CREATE INDEX keys_by_mrk_family ON keys (account, mrk_family) WHERE mrk_family IS NOT NULL;
