-- As migrations/sqlite/0003: images know the job that made them; moodboard codes remember
-- the image set they froze.
ALTER TABLE images ADD COLUMN job_id BIGINT REFERENCES jobs(id);
CREATE INDEX images_job ON images (job_id);
CREATE INDEX images_recent ON images (origin, created_at);

-- No index on (profile_id, image_set) as in SQLite: a set of 50 hashes is longer than a
-- btree entry may be here, and codes_profile finds a profile's few codes.
ALTER TABLE codes ADD COLUMN image_set TEXT;

ALTER TABLE jobs ADD COLUMN seed BIGINT;

CREATE INDEX pairs_user ON pairs (user_id, created_at);
