-- Per-user allowances of costly actions (a refilling bucket per user and action), shared by
-- every process on the database. Transient: an allowance untouched for a minute is full again.
CREATE TABLE allowances (
    user_id   INTEGER NOT NULL,
    action    TEXT    NOT NULL,
    left_over REAL    NOT NULL,  -- what was left at at_ms
    at_ms     INTEGER NOT NULL,
    PRIMARY KEY (user_id, action)
);
