package store

import (
	"context"
	"fmt"
	"time"
)

// LastBuilt returns the last commit of ref a run of pipeline was started for.
func (o *ops) LastBuilt(ctx context.Context, pipeline, ref string) (string, error) {
	var sha string
	err := o.queryRow(ctx, `SELECT commit_sha FROM built_refs WHERE pipeline = ? AND ref = ?`, pipeline, ref).Scan(&sha)
	if err != nil {
		return "", notFound(err, "last built commit of %s %s", pipeline, ref)
	}
	return sha, nil
}

// SetLastBuilt records sha as the last commit of ref a run was started for,
// in one upsert.
func (o *ops) SetLastBuilt(ctx context.Context, pipeline, ref, sha string, at time.Time) error {
	_, err := o.exec(ctx, `INSERT INTO built_refs (pipeline, ref, commit_sha, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (pipeline, ref) DO UPDATE SET commit_sha = excluded.commit_sha, at = excluded.at`,
		pipeline, ref, sha, o.t(at))
	if err != nil {
		return fmt.Errorf("record last built commit of %s %s: %w", pipeline, ref, err)
	}
	return nil
}

// AdvanceLastBuilt records sha as ref's last built commit unless it already
// is. The upsert's WHERE is checked against the latest committed row (on
// PostgreSQL after waiting for a concurrent writer of it), so one of two
// racing callers for the same commit gets false.
func (o *ops) AdvanceLastBuilt(ctx context.Context, pipeline, ref, sha string, at time.Time) (bool, error) {
	ok, err := o.execOne(ctx, `INSERT INTO built_refs (pipeline, ref, commit_sha, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (pipeline, ref) DO UPDATE SET commit_sha = excluded.commit_sha, at = excluded.at
		WHERE built_refs.commit_sha <> excluded.commit_sha`,
		pipeline, ref, sha, o.t(at))
	if err != nil {
		return false, fmt.Errorf("advance last built commit of %s %s: %w", pipeline, ref, err)
	}
	return ok, nil
}
