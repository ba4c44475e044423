-- +goose Up
-- An environment's lock holds its deploys until it is removed: at most one
-- per environment, with who took it, when and why.
CREATE TABLE environment_locks (
    pipeline    TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    locked_by   TEXT    NOT NULL,
    locked_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (pipeline, environment)
);

-- +goose Down
DROP TABLE environment_locks;
