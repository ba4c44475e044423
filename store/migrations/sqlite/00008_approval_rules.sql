-- +goose Up
-- Approval gates in full: the rules a gate was opened with (groups already
-- resolved), who may not decide and why, when a decision needs a comment,
-- what the deadline does, who is asked on escalation and from when, when
-- reminders go out, when the links go out (wait), and the rule each
-- approval counted for.
ALTER TABLE approvals ADD COLUMN rules TEXT NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN excluded TEXT NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN comment_required TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN on_timeout TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN escalate_to TEXT NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN escalate_at INTEGER;
ALTER TABLE approvals ADD COLUMN remind_at TEXT NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN opens_at INTEGER;
ALTER TABLE decisions ADD COLUMN rule TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE decisions DROP COLUMN rule;
ALTER TABLE approvals DROP COLUMN opens_at;
ALTER TABLE approvals DROP COLUMN remind_at;
ALTER TABLE approvals DROP COLUMN escalate_at;
ALTER TABLE approvals DROP COLUMN escalate_to;
ALTER TABLE approvals DROP COLUMN on_timeout;
ALTER TABLE approvals DROP COLUMN comment_required;
ALTER TABLE approvals DROP COLUMN excluded;
ALTER TABLE approvals DROP COLUMN rules;
