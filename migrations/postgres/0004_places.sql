-- As migrations/sqlite/0004: where generations are made, the frontend's handle on a running
-- job, and the setting that keeps a user's pictures out of /explore.
ALTER TABLE jobs ADD COLUMN guild_id BIGINT;
CREATE INDEX jobs_guild ON jobs (guild_id) WHERE guild_id IS NOT NULL;
ALTER TABLE jobs ADD COLUMN reply TEXT;
CREATE INDEX jobs_user_status ON jobs (user_id, status, id);

ALTER TABLE settings ADD COLUMN explore_sharing BIGINT NOT NULL DEFAULT 1
    CHECK (explore_sharing IN (0, 1));
