-- +goose Up
-- The outbox of commit statuses for forges: one row per (pipeline, commit,
-- context) holding only its newest state (SPEC §10).
CREATE TABLE commit_statuses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline     TEXT    NOT NULL,
    sha          TEXT    NOT NULL,
    context      TEXT    NOT NULL,
    run_id       INTEGER NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    target_url   TEXT    NOT NULL DEFAULT '',
    version      INTEGER NOT NULL DEFAULT 1,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT '',
    done_at      INTEGER,
    updated_at   INTEGER NOT NULL,
    UNIQUE (pipeline, sha, context)
);
CREATE INDEX commit_statuses_due ON commit_statuses (next_attempt, id) WHERE done_at IS NULL;

-- +goose Down
DROP TABLE commit_statuses;
