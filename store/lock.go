package store

import (
	"context"
	"fmt"

	"github.com/greenlight-cd/greenlight"
)

// LockEnvironment inserts the lock in one INSERT … ON CONFLICT DO NOTHING:
// of two racing callers exactly one sees true.
func (o *ops) LockEnvironment(ctx context.Context, l *greenlight.EnvironmentLock) (bool, error) {
	ok, err := o.execOne(ctx, `INSERT INTO environment_locks (pipeline, environment, reason, locked_by, locked_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline, environment) DO NOTHING`,
		l.Pipeline, l.Environment, l.Reason, l.By, o.t(l.At))
	if err != nil {
		return false, fmt.Errorf("lock %s/%s: %w", l.Pipeline, l.Environment, err)
	}
	return ok, nil
}

// UnlockEnvironment deletes the environment's lock.
func (o *ops) UnlockEnvironment(ctx context.Context, pipeline, env string) (bool, error) {
	ok, err := o.execOne(ctx, `DELETE FROM environment_locks WHERE pipeline = ? AND environment = ?`, pipeline, env)
	if err != nil {
		return false, fmt.Errorf("unlock %s/%s: %w", pipeline, env, err)
	}
	return ok, nil
}

// EnvironmentLock reads the environment's lock.
func (o *ops) EnvironmentLock(ctx context.Context, pipeline, env string) (*greenlight.EnvironmentLock, error) {
	l := &greenlight.EnvironmentLock{Pipeline: pipeline, Environment: env}
	err := o.queryRow(ctx, `SELECT reason, locked_by, locked_at FROM environment_locks WHERE pipeline = ? AND environment = ?`,
		pipeline, env).Scan(&l.Reason, &l.By, utc{&l.At})
	if err != nil {
		return nil, notFound(err, "lock of %s/%s", pipeline, env)
	}
	return l, nil
}
