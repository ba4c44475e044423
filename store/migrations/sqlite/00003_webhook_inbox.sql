-- +goose Up
-- The webhook inbox: every verified delivery, stored before it is
-- acknowledged and processed afterwards in id order. The unique index is the
-- de-duplication of redeliveries. Indexes are few: each one costs every
-- acknowledgement. Pruning (hourly) scans the table; a pipeline's listing
-- reads the newest rows by id.
CREATE TABLE webhook_inbox (
    id          INTEGER PRIMARY KEY, -- no AUTOINCREMENT: it costs a write per insert
    pipeline    TEXT    NOT NULL,
    delivery_id TEXT    NOT NULL,
    forge       TEXT    NOT NULL DEFAULT '',
    event       TEXT    NOT NULL DEFAULT '',
    ref         TEXT    NOT NULL DEFAULT '',
    commit_sha  TEXT    NOT NULL DEFAULT '',
    payload     TEXT    NOT NULL DEFAULT '{}',
    status      TEXT    NOT NULL,
    run_id      INTEGER,
    result      TEXT    NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    received_at INTEGER NOT NULL,
    done_at     INTEGER
);
CREATE UNIQUE INDEX webhook_inbox_delivery ON webhook_inbox (pipeline, delivery_id);
CREATE INDEX webhook_inbox_queued ON webhook_inbox (id) WHERE done_at IS NULL;
CREATE INDEX deliveries_at ON deliveries (at);

-- +goose Down
DROP INDEX deliveries_at;
DROP TABLE webhook_inbox;
