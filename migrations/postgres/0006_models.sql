-- As migrations/sqlite/0006: calibrations and pools are kept per model, and a calibration's
-- renders are stored one by one so that an interrupted calibration resumes.
ALTER TABLE images ADD COLUMN model TEXT NOT NULL DEFAULT '';
CREATE INDEX images_pool_model ON images (version, model) WHERE origin = 'pool';

ALTER TABLE calibrations ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE calibrations DROP CONSTRAINT calibrations_pkey;
ALTER TABLE calibrations ADD PRIMARY KEY (version, backend, model, space);

CREATE TABLE calibration_samples (
    version     TEXT NOT NULL,
    backend     TEXT NOT NULL,
    model       TEXT NOT NULL,
    plan        TEXT NOT NULL,
    idx         BIGINT NOT NULL,
    space       TEXT NOT NULL,
    style       BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (version, backend, model, plan, idx)
);
