package store

import (
	"context"
	"fmt"

	"github.com/greenlight-cd/greenlight"
)

const releaseColumns = `id, pipeline, environment, run_id, commit_sha, artifact, status,
	deployed_at, error, targets, name`

// CreateRelease inserts r, setting r.ID.
func (o *ops) CreateRelease(ctx context.Context, r *greenlight.Release) error {
	targets, err := jsonText(r.Targets)
	if err != nil {
		return fmt.Errorf("create release: %w", err)
	}
	err = o.insertRow(ctx, `INSERT INTO releases (pipeline, environment, run_id, commit_sha, artifact,
		status, deployed_at, error, targets, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.Pipeline, r.Environment, r.RunID, r.Commit, r.Artifact, r.Status, o.t(r.DeployedAt),
		r.Error, targets, r.Name).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("create release: %w", err)
	}
	return nil
}

// UpdateRelease writes r's status, error, deployed_at and targets.
func (o *ops) UpdateRelease(ctx context.Context, r *greenlight.Release) error {
	targets, err := jsonText(r.Targets)
	if err != nil {
		return fmt.Errorf("update release %d: %w", r.ID, err)
	}
	ok, err := o.execOne(ctx, `UPDATE releases SET status = ?, error = ?, deployed_at = ?, targets = ?
		WHERE id = ?`, r.Status, r.Error, o.t(r.DeployedAt), targets, r.ID)
	if err != nil {
		return fmt.Errorf("update release %d: %w", r.ID, err)
	}
	if !ok {
		return greenlight.Errorf(greenlight.ENOTFOUND, "release %d not found", r.ID)
	}
	return nil
}

// Releases returns an environment's releases, newest first (limit 0: all),
// each with its stored target states as Targets when it has any.
func (o *ops) Releases(ctx context.Context, pipeline, env string, limit int) ([]*greenlight.Release, error) {
	q := `SELECT ` + releaseColumns + ` FROM releases WHERE pipeline = ? AND environment = ? ORDER BY id DESC`
	args := []any{pipeline, env}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list releases of %s/%s: %w", pipeline, env, err)
	}
	defer rows.Close()
	list := []*greenlight.Release{}
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, fmt.Errorf("list releases of %s/%s: %w", pipeline, env, err)
		}
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list releases of %s/%s: %w", pipeline, env, err)
	}
	rows.Close() // before the next query: SQLite may have one connection free
	if err := o.fillTargets(ctx, list); err != nil {
		return nil, fmt.Errorf("list releases of %s/%s: %w", pipeline, env, err)
	}
	return list, nil
}

// LiveRelease returns the environment's newest live release, or ENOTFOUND.
func (o *ops) LiveRelease(ctx context.Context, pipeline, env string) (*greenlight.Release, error) {
	r, err := scanRelease(o.queryRow(ctx, `SELECT `+releaseColumns+` FROM releases
		WHERE pipeline = ? AND environment = ? AND status = 'live' ORDER BY id DESC LIMIT 1`,
		pipeline, env))
	if err != nil {
		return nil, notFound(err, "live release of %s/%s", pipeline, env)
	}
	if err := o.fillTargets(ctx, []*greenlight.Release{r}); err != nil {
		return nil, fmt.Errorf("live release of %s/%s: %w", pipeline, env, err)
	}
	return r, nil
}

func scanRelease(row scanner) (*greenlight.Release, error) {
	var r greenlight.Release
	err := row.Scan(&r.ID, &r.Pipeline, &r.Environment, &r.RunID, &r.Commit, &r.Artifact, &r.Status,
		utc{&r.DeployedAt}, &r.Error, jsonCol{&r.Targets}, &r.Name)
	if err != nil {
		return nil, err
	}
	return &r, nil
}
