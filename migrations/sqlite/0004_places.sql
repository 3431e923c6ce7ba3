-- Where generations are made, the frontend's handle on a running job, and the setting that
-- keeps a user's pictures out of /explore.

-- The server a job ran in. NULL: a private place (a DM, a group DM, a user-installed app
-- outside a server), or a job from before places were recorded; /explore never shows either.
ALTER TABLE jobs ADD COLUMN guild_id INTEGER;
CREATE INDEX jobs_guild ON jobs (guild_id) WHERE guild_id IS NOT NULL;
-- Opaque to tastebud: what the frontend keeps with a running job (Discord: the interaction
-- token) to tell the user after a restart that it was interrupted. Cleared when the job ends.
ALTER TABLE jobs ADD COLUMN reply TEXT;
CREATE INDEX jobs_user_status ON jobs (user_id, status, id);

ALTER TABLE settings ADD COLUMN explore_sharing INTEGER NOT NULL DEFAULT 1
    CHECK (explore_sharing IN (0, 1));
