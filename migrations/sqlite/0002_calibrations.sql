-- Calibrations: the fitted knob -> style linear map per version and backend, in one style space.
-- Refitting replaces the row. Vectors and matrices are little-endian f32 blobs; the jacobian is
-- row-major, style dimensions x knobs.

CREATE TABLE calibrations (
    version     TEXT NOT NULL,
    backend     TEXT NOT NULL,               -- sketch | automatic1111 | comfyui
    space       TEXT NOT NULL,               -- e.g. style-v1
    knobs       TEXT NOT NULL,               -- JSON list of knob names, in order
    ranges      BLOB NOT NULL,               -- min, max per knob
    jacobian    BLOB NOT NULL,
    intercept   BLOB NOT NULL,
    r2          BLOB NOT NULL,               -- fit quality per style axis
    samples     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (version, backend, space)
);
