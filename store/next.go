package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The next due times of the outboxes and of the retirements: the loops that
// carry them out sleep until then instead of asking every second.

// NextRetirement returns the earliest DueAt after after of the retirements
// not done; zero if none.
func (o *ops) NextRetirement(ctx context.Context, after time.Time) (time.Time, error) {
	return o.next(ctx, "retirement", `SELECT due_at FROM retirements
		WHERE done_at IS NULL AND due_at > ? ORDER BY due_at LIMIT 1`, after)
}

// NextMailAttempt returns the earliest NextAttempt after after of the
// unsent mail; zero if none.
func (o *ops) NextMailAttempt(ctx context.Context, after time.Time) (time.Time, error) {
	return o.next(ctx, "mail", `SELECT next_attempt FROM mail
		WHERE sent_at IS NULL AND next_attempt > ? ORDER BY next_attempt LIMIT 1`, after)
}

// NextStatusAttempt returns the earliest NextAttempt after after of the
// statuses not done; zero if none.
func (o *ops) NextStatusAttempt(ctx context.Context, after time.Time) (time.Time, error) {
	return o.next(ctx, "status", `SELECT next_attempt FROM commit_statuses
		WHERE done_at IS NULL AND next_attempt > ? ORDER BY next_attempt LIMIT 1`, after)
}

// NextNoticeAttempt returns the earliest NextAttempt after after of the
// heads of the pending queues (see DueNotices); zero if none.
func (o *ops) NextNoticeAttempt(ctx context.Context, after time.Time) (time.Time, error) {
	return o.next(ctx, "notice", `SELECT next_attempt FROM notices n
		WHERE status = 'pending' AND next_attempt > ?
		AND NOT EXISTS (SELECT 1 FROM notices e WHERE e.status = 'pending'
			AND e.notification = n.notification AND e.pipeline = n.pipeline AND e.id < n.id)
		ORDER BY next_attempt LIMIT 1`, after)
}

func (o *ops) next(ctx context.Context, what, query string, after time.Time) (time.Time, error) {
	var t time.Time
	err := o.queryRow(ctx, query, o.t(after)).Scan(utc{&t})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("next %s due: %w", what, err)
	}
	return t, nil
}
