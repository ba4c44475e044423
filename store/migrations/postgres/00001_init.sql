-- +goose Up
-- Times are TIMESTAMPTZ (microseconds, returned as UTC). Lists and maps are
-- JSON text, as in the SQLite schema, so both dialects store the same shapes.

CREATE TABLE runs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline        TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    trigger_type    TEXT    NOT NULL DEFAULT '',
    commit_sha      TEXT    NOT NULL DEFAULT '',
    branch          TEXT    NOT NULL DEFAULT '',
    title           TEXT    NOT NULL DEFAULT '',
    author_name     TEXT    NOT NULL DEFAULT '',
    author_email    TEXT    NOT NULL DEFAULT '',
    params          TEXT    NOT NULL DEFAULT '{}',
    hooks           TEXT    NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    artifact_sha256 TEXT,
    artifact_size   BIGINT NOT NULL DEFAULT 0,
    error           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_pipeline_id ON runs (pipeline, id DESC);
CREATE INDEX runs_status ON runs (status, id DESC);

CREATE TABLE stages (
    run_id      BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx         BIGINT NOT NULL,
    name        TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    environment TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    error       TEXT    NOT NULL DEFAULT '',
    attempts    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, idx)
);

CREATE TABLE events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline   TEXT    NOT NULL DEFAULT '',
    run_id     BIGINT NOT NULL DEFAULT 0,
    type       TEXT    NOT NULL,
    data       TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cursors (
    subscriber TEXT    PRIMARY KEY,
    seq        BIGINT NOT NULL
);

CREATE TABLE approvals (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    pipeline   TEXT    NOT NULL,
    stage      TEXT    NOT NULL,
    approvers  TEXT    NOT NULL DEFAULT '[]',
    required   BIGINT NOT NULL,
    review_url TEXT    NOT NULL DEFAULT '',
    changes    TEXT    NOT NULL DEFAULT '[]', -- commit titles since production, for the pages
    deadline   TIMESTAMPTZ NOT NULL,
    status     TEXT    NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ,
    locked_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX approvals_run_stage ON approvals (run_id, stage);
CREATE INDEX approvals_status ON approvals (status, id DESC);

CREATE TABLE decisions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    approval_id BIGINT NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    approver    TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,
    comment     TEXT    NOT NULL DEFAULT '',
    ip          TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX decisions_approval ON decisions (approval_id, at, id);

CREATE TABLE tokens (
    hash        BYTEA    PRIMARY KEY,
    approval_id BIGINT NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    run_id      BIGINT NOT NULL,
    approver    TEXT    NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX tokens_approval ON tokens (approval_id);

CREATE TABLE releases (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline    TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    run_id      BIGINT NOT NULL,
    commit_sha  TEXT    NOT NULL DEFAULT '',
    artifact    TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    deployed_at TIMESTAMPTZ NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    targets     TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX releases_env ON releases (pipeline, environment, id DESC);
CREATE INDEX releases_live ON releases (pipeline, environment, id DESC) WHERE status = 'live';

CREATE TABLE mail (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key    TEXT    UNIQUE,
    recipients   TEXT    NOT NULL DEFAULT '[]',
    subject      TEXT    NOT NULL DEFAULT '',
    body_text    TEXT    NOT NULL DEFAULT '',
    body_html    TEXT    NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    sent_at      TIMESTAMPTZ,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_attempt TIMESTAMPTZ NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX mail_due ON mail (next_attempt, id) WHERE sent_at IS NULL;

CREATE TABLE deliveries (
    pipeline TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (pipeline, id)
);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE mail;
DROP TABLE releases;
DROP TABLE tokens;
DROP TABLE decisions;
DROP TABLE approvals;
DROP TABLE cursors;
DROP TABLE events;
DROP TABLE stages;
DROP TABLE runs;
