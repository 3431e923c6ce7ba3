-- As migrations/sqlite/0005: indexes for garbage collection.
CREATE INDEX pairs_left_image ON pairs (left_image);
CREATE INDEX pairs_right_image ON pairs (right_image);
CREATE INDEX likes_image ON likes (image_id);
CREATE INDEX moodboard_images_image ON moodboard_images (image_id);
CREATE INDEX jobs_finished ON jobs (status, finished_at);
CREATE INDEX pairs_created ON pairs (created_at);
