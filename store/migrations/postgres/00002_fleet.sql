-- +goose Up
-- Per-target states of a release's deploy (see greenlight.TargetState),
-- written as the deploy goes; and the scheduled retirements of blue-green
-- groups made idle by a switch. A release names its directory on the
-- targets (a rollback run reinstalls the release it returns to).

ALTER TABLE releases ADD COLUMN name TEXT NOT NULL DEFAULT '';

CREATE TABLE target_states (
    release_id BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    target     TEXT    NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    grp        TEXT    NOT NULL DEFAULT '',
    phase      TEXT    NOT NULL,
    previous   TEXT    NOT NULL DEFAULT '',
    error      TEXT    NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (release_id, target)
);

CREATE TABLE retirements (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline    TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    grp         TEXT    NOT NULL,
    release_id  BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    due_at      TIMESTAMPTZ NOT NULL,
    done_at     TIMESTAMPTZ,
    outcome     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX retirements_due ON retirements (due_at, id) WHERE done_at IS NULL;

-- +goose Down
DROP TABLE retirements;
DROP TABLE target_states;
ALTER TABLE releases DROP COLUMN name;
