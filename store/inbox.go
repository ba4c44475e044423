package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const inboxColumns = `id, pipeline, delivery_id, forge, event, ref, commit_sha, payload, status, run_id,
	result, attempts, received_at, done_at`

const enqueueDeliverySQL = `INSERT INTO webhook_inbox (pipeline, delivery_id, forge, event, ref, commit_sha,
	payload, status, run_id, result, attempts, received_at, done_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pipeline, delivery_id) DO NOTHING RETURNING id`

// EnqueueDelivery inserts d unless its pipeline has a delivery with the same
// id (one statement, ON CONFLICT DO NOTHING), reporting whether it inserted
// and setting d.ID if so.
func (o *ops) EnqueueDelivery(ctx context.Context, d *greenlight.Delivery) (bool, error) {
	var run any
	if d.RunID != 0 {
		run = d.RunID
	}
	err := o.insertRow(ctx, enqueueDeliverySQL, d.Pipeline, d.DeliveryID, d.Forge, d.Event, d.Ref, d.Commit, d.Payload, string(d.Status), run, d.Result,
		d.Attempts, o.t(d.ReceivedAt), o.nt(d.DoneAt)).Scan(&d.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue delivery %s/%s: %w", d.Pipeline, d.DeliveryID, err)
	}
	return true, nil
}

// QueuedDeliveries returns deliveries not done yet: every pipeline's first
// before any pipeline's second, and so on, each pipeline's in inbox order.
// In plain inbox order one pipeline's backlog (held back by a retry) could
// fill every batch, and the worker would never see another pipeline's queue.
func (o *ops) QueuedDeliveries(ctx context.Context, limit int) ([]*greenlight.Delivery, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	return o.deliveries(ctx, `SELECT `+inboxColumns+` FROM (SELECT *,
		ROW_NUMBER() OVER (PARTITION BY pipeline ORDER BY id) AS place
		FROM webhook_inbox WHERE done_at IS NULL) AS queued
		ORDER BY place, id LIMIT ?`, limit)
}

// Deliveries returns a pipeline's deliveries (all if pipeline is ""), newest
// first.
func (o *ops) Deliveries(ctx context.Context, pipeline string, limit int) ([]*greenlight.Delivery, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	if pipeline == "" {
		return o.deliveries(ctx, `SELECT `+inboxColumns+` FROM webhook_inbox ORDER BY id DESC LIMIT ?`, limit)
	}
	return o.deliveries(ctx, `SELECT `+inboxColumns+` FROM webhook_inbox WHERE pipeline = ?
		ORDER BY id DESC LIMIT ?`, pipeline, limit)
}

func (o *ops) deliveries(ctx context.Context, query string, args ...any) ([]*greenlight.Delivery, error) {
	rows, err := o.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	list := []*greenlight.Delivery{}
	for rows.Next() {
		var d greenlight.Delivery
		var status string
		var run sql.NullInt64
		err := rows.Scan(&d.ID, &d.Pipeline, &d.DeliveryID, &d.Forge, &d.Event, &d.Ref, &d.Commit, &d.Payload,
			&status, &run, &d.Result, &d.Attempts, utc{&d.ReceivedAt}, nullUTC{&d.DoneAt})
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		d.Status, d.RunID = greenlight.DeliveryStatus(status), run.Int64
		list = append(list, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return list, nil
}

// UpdateDelivery writes d's outcome unless the delivery is done already.
func (o *ops) UpdateDelivery(ctx context.Context, d *greenlight.Delivery) (bool, error) {
	var run any
	if d.RunID != 0 {
		run = d.RunID
	}
	ok, err := o.execOne(ctx, `UPDATE webhook_inbox SET status = ?, run_id = ?, result = ?, attempts = ?, done_at = ?
		WHERE id = ? AND done_at IS NULL`, string(d.Status), run, d.Result, d.Attempts, o.nt(d.DoneAt), d.ID)
	if err != nil {
		return false, fmt.Errorf("update delivery %d: %w", d.ID, err)
	}
	if ok {
		return true, nil
	}
	found, err := o.exists(ctx, `SELECT 1 FROM webhook_inbox WHERE id = ?`, d.ID)
	if err != nil {
		return false, fmt.Errorf("update delivery %d: %w", d.ID, err)
	}
	if !found {
		return false, greenlight.Errorf(greenlight.ENOTFOUND, "delivery %d not found", d.ID)
	}
	return false, nil
}

// PruneDeliveries deletes done deliveries and remembered delivery ids older
// than before, in one transaction.
func (o *ops) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := o.atomic(ctx, func(o *ops) error {
		res, err := o.exec(ctx, `DELETE FROM webhook_inbox WHERE received_at < ? AND done_at IS NOT NULL`, o.t(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = o.exec(ctx, `DELETE FROM deliveries WHERE at < ?`, o.t(before))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return n, nil
}
