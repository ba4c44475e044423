package store

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const statusColumns = `id, pipeline, run_id, sha, context, state, description, target_url, version,
	attempts, next_attempt, last_error, done_at, updated_at`

// QueueStatus upserts s as the newest state of its (pipeline, sha, context)
// in one statement, so that a state queued while an older one is being
// posted bumps the version the sender's mark is conditional on.
func (o *ops) QueueStatus(ctx context.Context, s *greenlight.CommitStatus) error {
	err := o.insertRow(ctx, `INSERT INTO commit_statuses (pipeline, sha, context, run_id, state,
		description, target_url, version, attempts, next_attempt, last_error, done_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0, ?, '', NULL, ?)
		ON CONFLICT (pipeline, sha, context) DO UPDATE SET run_id = excluded.run_id,
			state = excluded.state, description = excluded.description,
			target_url = excluded.target_url, version = commit_statuses.version + 1, attempts = 0,
			next_attempt = excluded.next_attempt, last_error = '', done_at = NULL,
			updated_at = excluded.updated_at
		RETURNING id, version`,
		s.Pipeline, s.SHA, s.Context, s.RunID, s.State, s.Description, s.TargetURL,
		o.t(s.NextAttempt), o.t(s.UpdatedAt)).Scan(&s.ID, &s.Version)
	if err != nil {
		return fmt.Errorf("queue status %s of %s: %w", s.Context, s.SHA, err)
	}
	s.Attempts, s.LastError, s.DoneAt = 0, "", nil
	return nil
}

// DueStatuses returns statuses not done and due at now, oldest first (limit 0: a default).
func (o *ops) DueStatuses(ctx context.Context, now time.Time, limit int) ([]*greenlight.CommitStatus, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	return o.statuses(ctx, `SELECT `+statusColumns+` FROM commit_statuses
		WHERE done_at IS NULL AND next_attempt <= ? ORDER BY id LIMIT ?`, o.t(now), limit)
}

// CommitStatuses returns one commit's statuses in a pipeline, by context.
func (o *ops) CommitStatuses(ctx context.Context, pipeline, sha string) ([]*greenlight.CommitStatus, error) {
	return o.statuses(ctx, `SELECT `+statusColumns+` FROM commit_statuses
		WHERE pipeline = ? AND sha = ? ORDER BY context`, pipeline, sha)
}

func (o *ops) statuses(ctx context.Context, query string, args ...any) ([]*greenlight.CommitStatus, error) {
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list statuses: %w", err)
	}
	defer rows.Close()
	list := []*greenlight.CommitStatus{}
	for rows.Next() {
		var s greenlight.CommitStatus
		err := rows.Scan(&s.ID, &s.Pipeline, &s.RunID, &s.SHA, &s.Context, &s.State, &s.Description,
			&s.TargetURL, &s.Version, &s.Attempts, utc{&s.NextAttempt}, &s.LastError,
			nullUTC{&s.DoneAt}, utc{&s.UpdatedAt})
		if err != nil {
			return nil, fmt.Errorf("list statuses: %w", err)
		}
		list = append(list, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list statuses: %w", err)
	}
	return list, nil
}

// MarkStatusDone records that version of status id was posted or given up on.
func (o *ops) MarkStatusDone(ctx context.Context, id, version int64, at time.Time, reason string) (bool, error) {
	var ok bool
	err := o.reached("status.done", func() (err error) {
		ok, err = o.execOne(ctx, `UPDATE commit_statuses SET done_at = ?, attempts = attempts + 1,
			last_error = ? WHERE id = ? AND version = ?`, o.t(at), reason, id, version)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("mark status %d done: %w", id, err)
	}
	return ok, nil
}

// MarkStatusFailed records a failed attempt at version of status id.
func (o *ops) MarkStatusFailed(ctx context.Context, id, version int64, reason string, next time.Time) (bool, error) {
	ok, err := o.execOne(ctx, `UPDATE commit_statuses SET attempts = attempts + 1, last_error = ?,
		next_attempt = ? WHERE id = ? AND version = ?`, reason, o.t(next), id, version)
	if err != nil {
		return false, fmt.Errorf("mark status %d failed: %w", id, err)
	}
	return ok, nil
}
