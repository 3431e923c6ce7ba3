-- Per-user allowances of costly actions (a refilling bucket per user and action), shared by
-- every process on the database. Transient: an allowance untouched for a minute is full again.
CREATE TABLE allowances (
    user_id   BIGINT           NOT NULL,
    action    TEXT             NOT NULL,
    left_over DOUBLE PRECISION NOT NULL,  -- what was left at at_ms
    at_ms     BIGINT           NOT NULL,
    PRIMARY KEY (user_id, action)
);
