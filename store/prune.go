package store

import (
	"context"
	"fmt"
	"time"
)

// DeleteRuns deletes the runs and everything kept for them alone: stages,
// approvals with their decisions and tokens, releases with their target
// states and retirements, commit statuses, notices delivered or dropped
// (a pending one still goes out), and the run's events that every
// subscriber has handled (an event a subscriber has yet to read stays). It
// returns how many runs it deleted; ids that do not exist are skipped.
func (o *ops) DeleteRuns(ctx context.Context, ids []int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	in := "(" + placeholders(len(ids)) + ")"
	var n int64
	err := o.atomic(ctx, func(o *ops) error {
		// Stages, approvals (with their decisions and tokens) and a
		// release's target states and retirements go by ON DELETE CASCADE;
		// these rows name a run without a foreign key.
		for _, q := range []string{
			`DELETE FROM releases WHERE run_id IN ` + in,
			`DELETE FROM commit_statuses WHERE run_id IN ` + in,
			`DELETE FROM notices WHERE run_id IN ` + in + ` AND status <> 'pending'`,
			`DELETE FROM events WHERE run_id IN ` + in + ` AND seq <= (SELECT COALESCE(MIN(seq), 0) FROM cursors)`,
		} {
			if _, err := o.exec(ctx, q, args...); err != nil {
				return fmt.Errorf("delete runs: %w", err)
			}
		}
		res, err := o.exec(ctx, `DELETE FROM runs WHERE id IN `+in, args...)
		if err != nil {
			return fmt.Errorf("delete runs: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// DeleteSentMail deletes mail sent before before; unsent mail stays.
func (o *ops) DeleteSentMail(ctx context.Context, before time.Time) (int64, error) {
	res, err := o.exec(ctx, `DELETE FROM mail WHERE sent_at IS NOT NULL AND sent_at < ?`, o.t(before))
	if err != nil {
		return 0, fmt.Errorf("delete sent mail: %w", err)
	}
	return res.RowsAffected()
}
