-- Generation and moodboards: images know the job that made them; moodboard codes remember the
-- image set they froze, so an equal set gives back its earlier code.

ALTER TABLE images ADD COLUMN job_id INTEGER REFERENCES jobs(id);
CREATE INDEX images_job ON images (job_id);
CREATE INDEX images_recent ON images (origin, created_at);

ALTER TABLE codes ADD COLUMN image_set TEXT;  -- moodboards only: taste::codes::image_set_key
CREATE INDEX codes_image_set ON codes (profile_id, image_set);

ALTER TABLE jobs ADD COLUMN seed INTEGER;

CREATE INDEX pairs_user ON pairs (user_id, created_at);
