-- +goose Up
-- The notification outbox: one row per event per configured notification
-- (slack, teams, webhook), posted in order per notification and pipeline,
-- retried with backoff across restarts (SPEC §12).
CREATE TABLE notices (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification TEXT        NOT NULL,
    type         TEXT        NOT NULL,
    pipeline     TEXT        NOT NULL,
    run_id       BIGINT      NOT NULL DEFAULT 0,
    seq          BIGINT      NOT NULL,
    event        TEXT        NOT NULL,
    delivery_id  TEXT        NOT NULL UNIQUE,
    body         TEXT        NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'pending',
    attempts     BIGINT      NOT NULL DEFAULT 0,
    next_attempt TIMESTAMPTZ NOT NULL,
    last_error   TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    done_at      TIMESTAMPTZ,
    UNIQUE (notification, seq, event)
);
CREATE INDEX notices_pending ON notices (notification, pipeline, id) WHERE status = 'pending';

-- +goose Down
DROP TABLE notices;
