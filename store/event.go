package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/failpoint"
)

// eventLockKey is the PostgreSQL advisory lock that serializes event inserts.
//
// Why: Seq comes from an identity column, and in PostgreSQL two transactions
// can take ids 7 and 8 and commit 8 first. A subscriber reading Seq > 6 at
// that moment would see 8, move its cursor to 8, and never see 7. Holding
// this lock from before the insert until commit makes events commit in Seq
// order. SQLite needs nothing: it has one writer at a time.
//
// A consequence: a PostgreSQL transaction that appends an event excludes every
// other event-appending transaction until it ends, so append events last and
// keep such transactions short.
const eventLockKey int64 = 0x676c_6576_656e_7473 // "glevents"

// AppendEvent writes e, setting e.Seq.
func (o *ops) AppendEvent(ctx context.Context, e *greenlight.Event) error {
	var data any
	if len(e.Data) > 0 {
		data = string(e.Data)
	}
	insert := func(o *ops) error {
		if o.postgres() {
			if _, err := o.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, eventLockKey); err != nil {
				return fmt.Errorf("append event: lock: %w", err)
			}
		}
		err := o.insertRow(ctx, `INSERT INTO events (pipeline, run_id, type, data, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING seq`,
			e.Pipeline, e.RunID, e.Type, data, o.t(e.CreatedAt)).Scan(&e.Seq)
		if err != nil {
			return fmt.Errorf("append event %s: %w", e.Type, err)
		}
		return nil
	}
	return o.reached(eventPoint(e), func() error {
		if !o.postgres() {
			return insert(o)
		}
		// Outside a transaction the lock must still last until the insert commits.
		return o.atomic(ctx, insert)
	})
}

// eventPoint names the failpoint of appending e: its type, and for stage
// events the stage ("stage.finished:build").
func eventPoint(e *greenlight.Event) string {
	if !failpoint.Armed() {
		return ""
	}
	var d struct {
		Stage string `json:"stage"`
	}
	if json.Unmarshal(e.Data, &d) == nil && d.Stage != "" {
		return string(e.Type) + ":" + d.Stage
	}
	return string(e.Type)
}

// Events returns up to limit events (0: a default) with Seq > after, in order.
func (o *ops) Events(ctx context.Context, after int64, limit int) ([]greenlight.Event, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	rows, err := o.query(ctx, `SELECT seq, pipeline, run_id, type, data, created_at
		FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	events := []greenlight.Event{}
	for rows.Next() {
		var e greenlight.Event
		var data sql.NullString
		if err := rows.Scan(&e.Seq, &e.Pipeline, &e.RunID, &e.Type, &data, utc{&e.CreatedAt}); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		if data.Valid {
			e.Data = []byte(data.String)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// Cursor returns the last Seq the subscriber has handled, 0 if none.
func (o *ops) Cursor(ctx context.Context, subscriber string) (int64, error) {
	var seq int64
	err := o.queryRow(ctx, `SELECT seq FROM cursors WHERE subscriber = ?`, subscriber).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cursor of %s: %w", subscriber, err)
	}
	return seq, nil
}

// SetCursor records that the subscriber has handled every event up to seq.
func (o *ops) SetCursor(ctx context.Context, subscriber string, seq int64) error {
	_, err := o.exec(ctx, `INSERT INTO cursors (subscriber, seq) VALUES (?, ?)
		ON CONFLICT (subscriber) DO UPDATE SET seq = excluded.seq`, subscriber, seq)
	if err != nil {
		return fmt.Errorf("set cursor of %s: %w", subscriber, err)
	}
	return nil
}
