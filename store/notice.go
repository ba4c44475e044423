package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const noticeColumns = `id, notification, type, pipeline, run_id, seq, event, delivery_id, body, status,
	attempts, next_attempt, last_error, created_at, done_at`

// QueueNotice inserts n unless its (notification, seq, event) exists, in one
// statement, so handling an event twice queues it once.
func (o *ops) QueueNotice(ctx context.Context, n *greenlight.Notice) (bool, error) {
	if n.Status == "" {
		n.Status = greenlight.NoticePending
	}
	err := o.insertRow(ctx, `INSERT INTO notices (notification, type, pipeline, run_id, seq, event,
		delivery_id, body, status, attempts, next_attempt, last_error, created_at, done_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (notification, seq, event) DO NOTHING RETURNING id`,
		n.Notification, n.Type, n.Pipeline, n.RunID, n.Seq, n.Event, n.DeliveryID, n.Body, n.Status,
		n.Attempts, o.t(n.NextAttempt), n.LastError, o.t(n.CreatedAt), o.nt(n.DoneAt)).Scan(&n.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("queue notice %s of event %d to %s: %w", n.Event, n.Seq, n.Notification, err)
	}
	return true, nil
}

// DueNotices returns the due heads of the pending queues, one queue per
// notification and pipeline: a notice is never returned while an older one
// of its queue is pending, whether or not that one is due.
func (o *ops) DueNotices(ctx context.Context, now time.Time, limit int) ([]*greenlight.Notice, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	return o.notices(ctx, `SELECT `+noticeColumns+` FROM notices n
		WHERE status = 'pending' AND next_attempt <= ?
		AND NOT EXISTS (SELECT 1 FROM notices e WHERE e.status = 'pending'
			AND e.notification = n.notification AND e.pipeline = n.pipeline AND e.id < n.id)
		ORDER BY id LIMIT ?`, o.t(now), limit)
}

// Notices returns a notification's notices (all if ""), newest first.
func (o *ops) Notices(ctx context.Context, notification string, limit int) ([]*greenlight.Notice, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	if notification == "" {
		return o.notices(ctx, `SELECT `+noticeColumns+` FROM notices ORDER BY id DESC LIMIT ?`, limit)
	}
	return o.notices(ctx, `SELECT `+noticeColumns+` FROM notices WHERE notification = ?
		ORDER BY id DESC LIMIT ?`, notification, limit)
}

func (o *ops) notices(ctx context.Context, query string, args ...any) ([]*greenlight.Notice, error) {
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	defer rows.Close()
	list := []*greenlight.Notice{}
	for rows.Next() {
		var n greenlight.Notice
		err := rows.Scan(&n.ID, &n.Notification, &n.Type, &n.Pipeline, &n.RunID, &n.Seq, &n.Event,
			&n.DeliveryID, &n.Body, &n.Status, &n.Attempts, utc{&n.NextAttempt}, &n.LastError,
			utc{&n.CreatedAt}, nullUTC{&n.DoneAt})
		if err != nil {
			return nil, fmt.Errorf("list notices: %w", err)
		}
		list = append(list, &n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	return list, nil
}

// MarkNoticeDone records the last attempt at a pending notice.
func (o *ops) MarkNoticeDone(ctx context.Context, id int64, status greenlight.NoticeStatus, at time.Time, reason string) (bool, error) {
	ok, err := o.execOne(ctx, `UPDATE notices SET status = ?, done_at = ?, attempts = attempts + 1,
		last_error = ? WHERE id = ? AND status = 'pending'`, status, o.t(at), reason, id)
	if err != nil {
		return false, fmt.Errorf("mark notice %d %s: %w", id, status, err)
	}
	return ok, nil
}

// MarkNoticeFailed records a failed attempt at a pending notice.
func (o *ops) MarkNoticeFailed(ctx context.Context, id int64, reason string, next time.Time) (bool, error) {
	ok, err := o.execOne(ctx, `UPDATE notices SET attempts = attempts + 1, last_error = ?, next_attempt = ?
		WHERE id = ? AND status = 'pending'`, reason, o.t(next), id)
	if err != nil {
		return false, fmt.Errorf("mark notice %d failed: %w", id, err)
	}
	return ok, nil
}
