-- +goose Up
-- The notification outbox: one row per event per configured notification
-- (slack, teams, webhook), posted in order per notification and pipeline,
-- retried with backoff across restarts (SPEC §12).
CREATE TABLE notices (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    notification TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    pipeline     TEXT    NOT NULL,
    run_id       INTEGER NOT NULL DEFAULT 0,
    seq          INTEGER NOT NULL,
    event        TEXT    NOT NULL,
    delivery_id  TEXT    NOT NULL UNIQUE,
    body         TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    done_at      INTEGER,
    UNIQUE (notification, seq, event)
);
CREATE INDEX notices_pending ON notices (notification, pipeline, id) WHERE status = 'pending';

-- +goose Down
DROP TABLE notices;
