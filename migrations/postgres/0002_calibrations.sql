-- As migrations/sqlite/0002: the fitted knob -> style map per version and backend.
CREATE TABLE calibrations (
    version     TEXT NOT NULL,
    backend     TEXT NOT NULL,
    space       TEXT NOT NULL,
    knobs       TEXT NOT NULL,
    ranges      BYTEA NOT NULL,
    jacobian    BYTEA NOT NULL,
    intercept   BYTEA NOT NULL,
    r2          BYTEA NOT NULL,
    samples     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (version, backend, space)
);
