-- +goose Up
-- Tag runs record the tag (their branch is empty); pull-request runs record
-- the request as JSON (NULL for every other run).
ALTER TABLE runs ADD COLUMN tag TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pull_request TEXT;

-- The last commit of each ref a run was started for: a push's changed files
-- are read against it for the pipeline's paths filter.
CREATE TABLE built_refs (
    pipeline   TEXT    NOT NULL,
    ref        TEXT    NOT NULL,
    commit_sha TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (pipeline, ref)
);

-- +goose Down
DROP TABLE built_refs;
ALTER TABLE runs DROP COLUMN pull_request;
ALTER TABLE runs DROP COLUMN tag;
