-- +goose Up
-- The outbox of commit statuses for forges: one row per (pipeline, commit,
-- context) holding only its newest state (SPEC §10).
CREATE TABLE commit_statuses (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline     TEXT        NOT NULL,
    sha          TEXT        NOT NULL,
    context      TEXT        NOT NULL,
    run_id       BIGINT      NOT NULL DEFAULT 0,
    state        TEXT        NOT NULL,
    description  TEXT        NOT NULL DEFAULT '',
    target_url   TEXT        NOT NULL DEFAULT '',
    version      BIGINT      NOT NULL DEFAULT 1,
    attempts     BIGINT      NOT NULL DEFAULT 0,
    next_attempt TIMESTAMPTZ NOT NULL,
    last_error   TEXT        NOT NULL DEFAULT '',
    done_at      TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (pipeline, sha, context)
);
CREATE INDEX commit_statuses_due ON commit_statuses (next_attempt, id) WHERE done_at IS NULL;

-- +goose Down
DROP TABLE commit_statuses;
