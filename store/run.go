package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// defaultLimit bounds listings whose caller gave no limit.
const defaultLimit = 100

const runColumns = `id, pipeline, status, trigger_type, commit_sha, branch, title, author_name,
	author_email, params, hooks, created_at, finished_at, artifact_sha256, artifact_size, error,
	tag, pull_request, reason, triggered_by, committer_email, tests`

const stageColumns = `run_id, idx, name, type, environment, status, started_at, finished_at, error, attempts, reason`

// CreateRun inserts run and its stages in one transaction, setting run.ID and
// each stage's Index to its position.
func (o *ops) CreateRun(ctx context.Context, run *greenlight.Run) error {
	params, err := jsonText(run.Params)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	hooks, err := jsonText(run.Hooks)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	var pr any
	if run.PullRequest != nil {
		if pr, err = jsonText(run.PullRequest); err != nil {
			return fmt.Errorf("create run: %w", err)
		}
	}
	tests, err := nullJSON(run.Tests)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	sha, size := artifactArgs(run.Artifact)
	return o.atomic(ctx, func(o *ops) error {
		err := o.insertRow(ctx, `INSERT INTO runs (pipeline, status, trigger_type, commit_sha, branch,
			title, author_name, author_email, params, hooks, created_at, finished_at,
			artifact_sha256, artifact_size, error, tag, pull_request, reason, triggered_by,
			committer_email, tests)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			run.Pipeline, run.Status, run.Trigger, run.Commit.SHA, run.Commit.Branch,
			run.Commit.Title, run.Commit.AuthorName, run.Commit.AuthorEmail, params, hooks,
			o.t(run.CreatedAt), o.nt(run.FinishedAt), sha, size, run.Error, run.Commit.Tag, pr,
			run.Reason, run.TriggeredBy, run.Commit.CommitterEmail, tests).Scan(&run.ID)
		if err != nil {
			return fmt.Errorf("create run: %w", err)
		}
		for i := range run.Stages {
			s := &run.Stages[i]
			s.Index = i
			_, err := o.exec(ctx, `INSERT INTO stages (`+stageColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				run.ID, i, s.Name, s.Type, s.Environment, s.Status,
				o.nt(s.StartedAt), o.nt(s.FinishedAt), s.Error, s.Attempts, s.Reason)
			if err != nil {
				return fmt.Errorf("create run %d stage %q: %w", run.ID, s.Name, err)
			}
		}
		return nil
	})
}

func artifactArgs(a *greenlight.ArtifactRef) (sha any, size int64) {
	if a == nil {
		return nil, 0
	}
	return a.SHA256, a.Size
}

// Run returns the run with its stages in pipeline order.
func (o *ops) Run(ctx context.Context, id int64) (*greenlight.Run, error) {
	run, err := scanRun(o.queryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "run %d", id)
	}
	if err := o.loadStages(ctx, []*greenlight.Run{run}); err != nil {
		return nil, err
	}
	return run, nil
}

// LockRun touches the run's row: PostgreSQL keeps its row lock until the
// transaction ends; SQLite's immediate transaction holds the database already.
func (o *ops) LockRun(ctx context.Context, id int64) error {
	ok, err := o.execOne(ctx, `UPDATE runs SET status = status WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("lock run %d: %w", id, err)
	}
	if !ok {
		return greenlight.Errorf(greenlight.ENOTFOUND, "run %d not found", id)
	}
	return nil
}

// Runs returns runs matching f, newest first, with their stages.
func (o *ops) Runs(ctx context.Context, f greenlight.RunFilter) ([]*greenlight.Run, error) {
	var where []string
	var args []any
	if f.Pipeline != "" {
		where = append(where, "pipeline = ?")
		args = append(args, f.Pipeline)
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, s := range f.Statuses {
			args = append(args, s)
		}
	}
	if !f.FinishedBefore.IsZero() {
		where = append(where, "finished_at IS NOT NULL AND finished_at < ?")
		args = append(args, o.t(f.FinishedBefore))
	}
	if f.Artifact != "" {
		where = append(where, "artifact_sha256 = ?")
		args = append(args, f.Artifact)
	}
	if f.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	rows, err := o.query(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	runs := []*greenlight.Run{}
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, run)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	rows.Close()
	if err := o.loadStages(ctx, runs); err != nil {
		return nil, err
	}
	return runs, nil
}

func scanRun(row scanner) (*greenlight.Run, error) {
	var r greenlight.Run
	var sha sql.NullString
	var size int64
	err := row.Scan(&r.ID, &r.Pipeline, &r.Status, &r.Trigger, &r.Commit.SHA, &r.Commit.Branch,
		&r.Commit.Title, &r.Commit.AuthorName, &r.Commit.AuthorEmail, jsonCol{&r.Params},
		jsonCol{&r.Hooks}, utc{&r.CreatedAt}, nullUTC{&r.FinishedAt}, &sha, &size, &r.Error,
		&r.Commit.Tag, jsonCol{&r.PullRequest}, &r.Reason, &r.TriggeredBy, &r.Commit.CommitterEmail,
		jsonCol{&r.Tests})
	if err != nil {
		return nil, err
	}
	if sha.Valid {
		r.Artifact = &greenlight.ArtifactRef{SHA256: sha.String, Size: size}
	}
	r.Stages = []greenlight.Stage{}
	return &r, nil
}

// loadStages fills the stages of runs with one query.
func (o *ops) loadStages(ctx context.Context, runs []*greenlight.Run) error {
	if len(runs) == 0 {
		return nil
	}
	byID := make(map[int64]*greenlight.Run, len(runs))
	args := make([]any, len(runs))
	for i, r := range runs {
		byID[r.ID] = r
		args[i] = r.ID
	}
	rows, err := o.query(ctx, `SELECT `+stageColumns+` FROM stages WHERE run_id IN (`+
		placeholders(len(args))+`) ORDER BY run_id, idx`, args...)
	if err != nil {
		return fmt.Errorf("load stages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var runID int64
		var s greenlight.Stage
		err := rows.Scan(&runID, &s.Index, &s.Name, &s.Type, &s.Environment, &s.Status,
			nullUTC{&s.StartedAt}, nullUTC{&s.FinishedAt}, &s.Error, &s.Attempts, &s.Reason)
		if err != nil {
			return fmt.Errorf("load stages: %w", err)
		}
		if r := byID[runID]; r != nil {
			r.Stages = append(r.Stages, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load stages: %w", err)
	}
	return nil
}

// UpdateRun writes the run's status, finished_at, artifact, error and hooks
// (known only once the build has read the build file), and every stage's
// status, times, error and attempts, in one transaction.
func (o *ops) UpdateRun(ctx context.Context, run *greenlight.Run) error {
	hooks, err := jsonText(run.Hooks)
	if err != nil {
		return fmt.Errorf("update run %d: %w", run.ID, err)
	}
	tests, err := nullJSON(run.Tests)
	if err != nil {
		return fmt.Errorf("update run %d: %w", run.ID, err)
	}
	sha, size := artifactArgs(run.Artifact)
	return o.atomic(ctx, func(o *ops) error {
		ok, err := o.execOne(ctx, `UPDATE runs SET status = ?, finished_at = ?, artifact_sha256 = ?,
			artifact_size = ?, error = ?, hooks = ?, title = ?, author_name = ?, author_email = ?,
			reason = ?, committer_email = ?, tests = ? WHERE id = ?`,
			run.Status, o.nt(run.FinishedAt), sha, size, run.Error, hooks,
			run.Commit.Title, run.Commit.AuthorName, run.Commit.AuthorEmail,
			run.Reason, run.Commit.CommitterEmail, tests, run.ID)
		if err != nil {
			return fmt.Errorf("update run %d: %w", run.ID, err)
		}
		if !ok {
			return greenlight.Errorf(greenlight.ENOTFOUND, "run %d not found", run.ID)
		}
		for i, s := range run.Stages {
			ok, err := o.execOne(ctx, `UPDATE stages SET status = ?, started_at = ?, finished_at = ?,
				error = ?, attempts = ?, reason = ? WHERE run_id = ? AND idx = ?`,
				s.Status, o.nt(s.StartedAt), o.nt(s.FinishedAt), s.Error, s.Attempts, s.Reason, run.ID, i)
			if err != nil {
				return fmt.Errorf("update run %d stage %q: %w", run.ID, s.Name, err)
			}
			if !ok {
				return greenlight.Errorf(greenlight.ENOTFOUND, "run %d has no stage %d (%s)", run.ID, i, s.Name)
			}
		}
		return nil
	})
}
