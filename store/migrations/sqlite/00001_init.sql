-- +goose Up
-- Times are INTEGER microseconds since the Unix epoch, UTC (the precision
-- PostgreSQL keeps, so both dialects return the same values). Lists and maps
-- are JSON text.

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
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
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    artifact_sha256 TEXT,
    artifact_size   INTEGER NOT NULL DEFAULT 0,
    error           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_pipeline_id ON runs (pipeline, id DESC);
CREATE INDEX runs_status ON runs (status, id DESC);

CREATE TABLE stages (
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    environment TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    error       TEXT    NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, idx)
);

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline   TEXT    NOT NULL DEFAULT '',
    run_id     INTEGER NOT NULL DEFAULT 0,
    type       TEXT    NOT NULL,
    data       TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE cursors (
    subscriber TEXT    PRIMARY KEY,
    seq        INTEGER NOT NULL
);

CREATE TABLE approvals (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    pipeline   TEXT    NOT NULL,
    stage      TEXT    NOT NULL,
    approvers  TEXT    NOT NULL DEFAULT '[]',
    required   INTEGER NOT NULL,
    review_url TEXT    NOT NULL DEFAULT '',
    changes    TEXT    NOT NULL DEFAULT '[]', -- commit titles since production, for the pages
    deadline   INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    locked_at  INTEGER
);
CREATE UNIQUE INDEX approvals_run_stage ON approvals (run_id, stage);
CREATE INDEX approvals_status ON approvals (status, id DESC);

CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    approval_id INTEGER NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    approver    TEXT    NOT NULL,
    verdict     TEXT    NOT NULL,
    comment     TEXT    NOT NULL DEFAULT '',
    ip          TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
);
CREATE INDEX decisions_approval ON decisions (approval_id, at, id);

CREATE TABLE tokens (
    hash        BLOB    PRIMARY KEY,
    approval_id INTEGER NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    run_id      INTEGER NOT NULL,
    approver    TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
) WITHOUT ROWID;
CREATE INDEX tokens_approval ON tokens (approval_id);

CREATE TABLE releases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline    TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    run_id      INTEGER NOT NULL,
    commit_sha  TEXT    NOT NULL DEFAULT '',
    artifact    TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    deployed_at INTEGER NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    targets     TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX releases_env ON releases (pipeline, environment, id DESC);
CREATE INDEX releases_live ON releases (pipeline, environment, id DESC) WHERE status = 'live';

CREATE TABLE mail (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key    TEXT    UNIQUE,
    recipients   TEXT    NOT NULL DEFAULT '[]',
    subject      TEXT    NOT NULL DEFAULT '',
    body_text    TEXT    NOT NULL DEFAULT '',
    body_html    TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX mail_due ON mail (next_attempt, id) WHERE sent_at IS NULL;

CREATE TABLE deliveries (
    pipeline TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (pipeline, id)
) WITHOUT ROWID;

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
