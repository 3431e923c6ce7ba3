-- The job queue. A generation is written with what to render (`work`) and waits for a worker;
-- a worker claims it for a lease it renews while it renders; a job whose lease ran out is
-- claimed again, and only the newest claim (`attempts`) may complete it. status 'running'
-- means not finished: waiting while `lease_until` is NULL, rendering while it is set.

ALTER TABLE jobs ADD COLUMN work TEXT;                         -- JSON; NULL for older jobs
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';     -- the process that delivers it
ALTER TABLE jobs ADD COLUMN worker TEXT;                       -- who claimed it last
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
ALTER TABLE jobs ADD COLUMN claimed_at INTEGER;
ALTER TABLE jobs ADD COLUMN progress TEXT;                     -- JSON: the worker's latest
ALTER TABLE jobs ADD COLUMN notice TEXT;                       -- failed: what the user is told
CREATE INDEX jobs_queue ON jobs (version, id) WHERE status = 'running';
