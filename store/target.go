package store

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const targetStateColumns = `release_id, target, position, grp, phase, previous, error, updated_at`

// SetTargetState inserts or replaces the state of s.Target in release
// s.ReleaseID, in one statement.
func (o *ops) SetTargetState(ctx context.Context, s *greenlight.TargetState) error {
	err := o.reached("target."+s.Phase, func() error {
		_, err := o.exec(ctx, `INSERT INTO target_states (`+targetStateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (release_id, target) DO UPDATE SET position = excluded.position, grp = excluded.grp,
			phase = excluded.phase, previous = excluded.previous, error = excluded.error, updated_at = excluded.updated_at`,
			s.ReleaseID, s.Target, s.Position, s.Group, s.Phase, s.Previous, s.Error, o.t(s.UpdatedAt))
		return err
	})
	if err != nil {
		if classify(err) == foreignKeyViolation {
			return greenlight.Errorf(greenlight.ENOTFOUND, "release %d not found", s.ReleaseID)
		}
		return fmt.Errorf("set state of %s in release %d: %w", s.Target, s.ReleaseID, err)
	}
	return nil
}

// TargetStates returns a release's target states by position.
func (o *ops) TargetStates(ctx context.Context, releaseID int64) ([]greenlight.TargetState, error) {
	rows, err := o.query(ctx, `SELECT `+targetStateColumns+` FROM target_states WHERE release_id = ?
		ORDER BY position, target`, releaseID)
	if err != nil {
		return nil, fmt.Errorf("target states of release %d: %w", releaseID, err)
	}
	defer rows.Close()
	list := []greenlight.TargetState{}
	for rows.Next() {
		s, err := scanTargetState(rows)
		if err != nil {
			return nil, fmt.Errorf("target states of release %d: %w", releaseID, err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("target states of release %d: %w", releaseID, err)
	}
	return list, nil
}

func scanTargetState(row scanner) (greenlight.TargetState, error) {
	var s greenlight.TargetState
	err := row.Scan(&s.ReleaseID, &s.Target, &s.Position, &s.Group, &s.Phase, &s.Previous, &s.Error, utc{&s.UpdatedAt})
	return s, err
}

// fillTargets replaces the Targets of the releases (all of one environment)
// that have stored target states by those states, in one query.
func (o *ops) fillTargets(ctx context.Context, rels []*greenlight.Release) error {
	if len(rels) == 0 {
		return nil
	}
	byID := map[int64]*greenlight.Release{}
	lo, hi := rels[0].ID, rels[0].ID
	for _, r := range rels {
		byID[r.ID] = r
		lo, hi = min(lo, r.ID), max(hi, r.ID)
	}
	rows, err := o.query(ctx, `SELECT s.release_id, s.target, s.position, s.grp, s.phase, s.previous, s.error, s.updated_at
		FROM target_states s JOIN releases r ON r.id = s.release_id
		WHERE r.pipeline = ? AND r.environment = ? AND s.release_id BETWEEN ? AND ?
		ORDER BY s.release_id, s.position, s.target`, rels[0].Pipeline, rels[0].Environment, lo, hi)
	if err != nil {
		return fmt.Errorf("target states: %w", err)
	}
	defer rows.Close()
	seen := map[int64]bool{}
	for rows.Next() {
		s, err := scanTargetState(rows)
		if err != nil {
			return fmt.Errorf("target states: %w", err)
		}
		r := byID[s.ReleaseID]
		if r == nil {
			continue
		}
		if !seen[r.ID] {
			seen[r.ID], r.Targets = true, nil
		}
		r.Targets = append(r.Targets, greenlight.TargetOutcome{Target: s.Target, Status: s.Phase, Error: s.Error, Group: s.Group})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("target states: %w", err)
	}
	return nil
}

const retirementColumns = `id, pipeline, environment, grp, release_id, due_at, done_at, outcome`

// CreateRetirement inserts r, setting r.ID.
func (o *ops) CreateRetirement(ctx context.Context, r *greenlight.Retirement) error {
	err := o.insertRow(ctx, `INSERT INTO retirements (pipeline, environment, grp, release_id, due_at, done_at, outcome)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, r.Pipeline, r.Environment, r.Group, r.ReleaseID,
		o.t(r.DueAt), o.nt(r.DoneAt), r.Outcome).Scan(&r.ID)
	if err != nil {
		if classify(err) == foreignKeyViolation {
			return greenlight.Errorf(greenlight.ENOTFOUND, "release %d not found", r.ReleaseID)
		}
		return fmt.Errorf("create retirement of %s/%s group %s: %w", r.Pipeline, r.Environment, r.Group, err)
	}
	return nil
}

// DueRetirements returns retirements not done whose DueAt is at or before
// now, oldest first.
func (o *ops) DueRetirements(ctx context.Context, now time.Time, limit int) ([]*greenlight.Retirement, error) {
	if limit <= 0 {
		limit = 100
	}
	return o.retirements(ctx, `SELECT `+retirementColumns+` FROM retirements
		WHERE done_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?`, o.t(now), limit)
}

// Retirements returns an environment's retirements not done, oldest first.
func (o *ops) Retirements(ctx context.Context, pipeline, env string) ([]*greenlight.Retirement, error) {
	return o.retirements(ctx, `SELECT `+retirementColumns+` FROM retirements
		WHERE done_at IS NULL AND pipeline = ? AND environment = ? ORDER BY due_at, id`, pipeline, env)
}

func (o *ops) retirements(ctx context.Context, q string, args ...any) ([]*greenlight.Retirement, error) {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list retirements: %w", err)
	}
	defer rows.Close()
	list := []*greenlight.Retirement{}
	for rows.Next() {
		var r greenlight.Retirement
		if err := rows.Scan(&r.ID, &r.Pipeline, &r.Environment, &r.Group, &r.ReleaseID, utc{&r.DueAt},
			nullUTC{&r.DoneAt}, &r.Outcome); err != nil {
			return nil, fmt.Errorf("list retirements: %w", err)
		}
		list = append(list, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list retirements: %w", err)
	}
	return list, nil
}

// FinishRetirement records the outcome of a retirement not done yet, in one
// conditional statement; false if it was done already.
func (o *ops) FinishRetirement(ctx context.Context, id int64, at time.Time, outcome string) (bool, error) {
	var ok bool
	err := o.reached("retirement.done", func() (err error) {
		ok, err = o.execOne(ctx, `UPDATE retirements SET done_at = ?, outcome = ? WHERE id = ? AND done_at IS NULL`,
			o.t(at), outcome, id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("finish retirement %d: %w", id, err)
	}
	if ok {
		return true, nil
	}
	found, err := o.exists(ctx, `SELECT 1 FROM retirements WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("finish retirement %d: %w", id, err)
	}
	if !found {
		return false, greenlight.Errorf(greenlight.ENOTFOUND, "retirement %d not found", id)
	}
	return false, nil
}
