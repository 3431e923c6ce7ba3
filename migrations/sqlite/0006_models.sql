-- Calibrations and pools are kept per model: a version whose model changes is calibrated and
-- pooled afresh, and a calibration's renders are stored one by one so that an interrupted
-- calibration resumes.

-- The model that made an image ('' for the built-in renderer, uploads and older rows).
ALTER TABLE images ADD COLUMN model TEXT NOT NULL DEFAULT '';
CREATE INDEX images_pool_model ON images (version, model) WHERE origin = 'pool';

CREATE TABLE calibrations_by_model (
    version     TEXT NOT NULL,
    backend     TEXT NOT NULL,               -- sketch | automatic1111 | comfyui
    model       TEXT NOT NULL,               -- the version's model ('' for the server's current one)
    space       TEXT NOT NULL,
    knobs       TEXT NOT NULL,
    ranges      BLOB NOT NULL,
    jacobian    BLOB NOT NULL,
    intercept   BLOB NOT NULL,
    r2          BLOB NOT NULL,
    samples     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (version, backend, model, space)
);
-- Earlier calibrations were made with whatever model was configured then; they are kept under
-- the empty model name, which only a version configured with no model name uses.
INSERT INTO calibrations_by_model
    SELECT version, backend, '', space, knobs, ranges, jacobian, intercept, r2, samples, created_at
    FROM calibrations;
DROP TABLE calibrations;
ALTER TABLE calibrations_by_model RENAME TO calibrations;

-- One measured render of a calibration in progress, by its place in the plan.
CREATE TABLE calibration_samples (
    version     TEXT NOT NULL,
    backend     TEXT NOT NULL,
    model       TEXT NOT NULL,
    plan        TEXT NOT NULL,               -- the plan's key: knobs, settings and size
    idx         INTEGER NOT NULL,
    space       TEXT NOT NULL,
    style       BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (version, backend, model, plan, idx)
);
