-- +goose Up
-- What a waiting run or stage waits for, who started a run, the committer
-- (who may not approve their own change either) and the build's test summary.
ALTER TABLE runs ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN committer_email TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN tests TEXT;
ALTER TABLE stages ADD COLUMN reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE stages DROP COLUMN reason;
ALTER TABLE runs DROP COLUMN tests;
ALTER TABLE runs DROP COLUMN committer_email;
ALTER TABLE runs DROP COLUMN triggered_by;
ALTER TABLE runs DROP COLUMN reason;
