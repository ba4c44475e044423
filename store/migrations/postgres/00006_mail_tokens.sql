-- +goose Up
-- A decision mail is stored with a placeholder where its token goes; the
-- token is made when the mail is sent (only its hash is stored), so that no
-- working approval link is ever written to the database. These columns say
-- whose links the mail carries (SPEC §6).
ALTER TABLE mail ADD COLUMN token_approval_id BIGINT;
ALTER TABLE mail ADD COLUMN token_approver TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE mail DROP COLUMN token_approver;
ALTER TABLE mail DROP COLUMN token_approval_id;
