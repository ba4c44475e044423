// Package retention decides what Greenlight may delete as it runs for years
// (SPEC §15) and deletes it: runs older than the policy with their logs,
// approvals, releases and events; logs older than the policy; artifacts no
// kept run built; workspaces a crash left behind; sent mail. It never
// deletes what a restored or running server needs to go on: the artifact
// and run of a live release, of each environment's rollback target and of
// every unfinished run, nor the newest runs of each pipeline.
package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/artifact"
)

// Policy is `retention:` of the server configuration.
type Policy struct {
	Runs time.Duration // runs finished longer ago go (0: runs are kept)
	Logs time.Duration // logs of runs finished longer ago go (0: logs are kept)
	Keep int           // the newest runs of each pipeline are kept whatever their age
}

// Environments names each pipeline's environments, whose releases say what
// must be kept.
type Environments map[string][]string

// Dirs are the data directory's places that retention cleans.
type Dirs struct {
	Logs       string // <run>/<stage>.log
	Artifacts  string // <sha256>.tar.gz
	Workspaces string // <run> and <run>.cache
}

// orphanAge is how long an artifact that no run names is kept: a build
// stores its artifact a moment before its run records it.
const orphanAge = 24 * time.Hour

// Kept is what must stay whatever the policy.
type Kept struct {
	Artifacts map[string]bool
	Runs      map[int64]bool // runs whose releases are live, deploying, a rollback target or being retired
}

// Needed returns what must be kept: the artifacts and runs of every live or
// deploying release, of each environment's newest replaced release (what a
// rollback returns to, and which needs its run's hooks), of releases with
// a retirement still due, and the artifacts of every unfinished run (a run
// waiting for approval deploys its artifact later).
func Needed(ctx context.Context, st greenlight.Tx, envs Environments) (*Kept, error) {
	k := &Kept{Artifacts: map[string]bool{}, Runs: map[int64]bool{}}
	for pipeline, names := range envs {
		for _, env := range names {
			rels, err := st.Releases(ctx, pipeline, env, 0)
			if err != nil {
				return nil, fmt.Errorf("releases of %s/%s: %w", pipeline, env, err)
			}
			retiring := map[int64]bool{}
			rets, err := st.Retirements(ctx, pipeline, env)
			if err != nil {
				return nil, fmt.Errorf("retirements of %s/%s: %w", pipeline, env, err)
			}
			for _, r := range rets {
				retiring[r.ReleaseID] = true
			}
			rollback := false
			for _, r := range rels { // newest first
				keep := retiring[r.ID]
				switch {
				case r.Status == greenlight.ReleaseLive || r.Status == greenlight.ReleaseDeploying:
					keep = true
				case r.Status == greenlight.ReleaseReplaced && !rollback:
					keep, rollback = true, true
				}
				if keep {
					k.Artifacts[r.Artifact], k.Runs[r.RunID] = true, true
				}
			}
		}
	}
	runs, err := st.Runs(ctx, greenlight.RunFilter{Statuses: []greenlight.RunStatus{
		greenlight.RunQueued, greenlight.RunRunning, greenlight.RunWaiting}, Limit: 1 << 20})
	if err != nil {
		return nil, fmt.Errorf("unfinished runs: %w", err)
	}
	for _, r := range runs {
		k.Runs[r.ID] = true
		if r.Artifact != nil {
			k.Artifacts[r.Artifact.SHA256] = true
		}
	}
	delete(k.Artifacts, "")
	return k, nil
}

// SortedArtifacts lists the kept artifacts in order.
func (k *Kept) SortedArtifacts() []string {
	out := make([]string, 0, len(k.Artifacts))
	for sha := range k.Artifacts {
		out = append(out, sha)
	}
	sort.Strings(out)
	return out
}

// RunRef names a run the plan deletes.
type RunRef struct {
	ID         int64
	Pipeline   string
	Status     greenlight.RunStatus
	FinishedAt time.Time
}

// Plan is what one collection deletes.
type Plan struct {
	Runs       []RunRef
	Logs       []int64  // runs whose log directories go (deleted runs' included)
	Artifacts  []string // digests
	Workspaces []string // names under Dirs.Workspaces
	MailBefore time.Time
}

// Make works out what the policy deletes now. It reads and deletes nothing.
func Make(ctx context.Context, st greenlight.Tx, p Policy, envs Environments, d Dirs, now time.Time) (*Plan, error) {
	kept, err := Needed(ctx, st, envs)
	if err != nil {
		return nil, err
	}
	newest := map[int64]bool{}
	if p.Keep > 0 {
		for pipeline := range envs {
			runs, err := st.Runs(ctx, greenlight.RunFilter{Pipeline: pipeline, Limit: p.Keep})
			if err != nil {
				return nil, fmt.Errorf("newest runs of %s: %w", pipeline, err)
			}
			for _, r := range runs {
				newest[r.ID] = true
			}
		}
	}
	plan := &Plan{}
	deleted := map[int64]bool{}
	if p.Runs > 0 {
		plan.MailBefore = now.Add(-p.Runs)
		before := int64(0)
		for {
			runs, err := st.Runs(ctx, greenlight.RunFilter{FinishedBefore: now.Add(-p.Runs), BeforeID: before, Limit: 500})
			if err != nil {
				return nil, fmt.Errorf("old runs: %w", err)
			}
			for _, r := range runs {
				before = r.ID
				if !r.Status.Terminal() || kept.Runs[r.ID] || newest[r.ID] {
					continue
				}
				plan.Runs = append(plan.Runs, RunRef{ID: r.ID, Pipeline: r.Pipeline, Status: r.Status, FinishedAt: *r.FinishedAt})
				deleted[r.ID] = true
			}
			if len(runs) < 500 {
				break
			}
		}
	}
	if err := plan.logs(ctx, st, p, d, now, deleted, newest); err != nil {
		return nil, err
	}
	if err := plan.artifacts(ctx, st, d, now, kept, deleted); err != nil {
		return nil, err
	}
	if err := plan.workspaces(ctx, st, d, deleted); err != nil {
		return nil, err
	}
	return plan, nil
}

// numbered lists the entries of dir named <number><suffix>, by number.
func numbered(dir, suffix string) (map[int64]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[int64]string{}
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok {
			continue
		}
		if id, err := strconv.ParseInt(n, 10, 64); err == nil && id > 0 {
			out[id] = e.Name()
		}
	}
	return out, nil
}

// logs: a deleted run's log goes; so does an older one's, unless it is one
// of the newest runs.
func (p *Plan) logs(ctx context.Context, st greenlight.Tx, pol Policy, d Dirs, now time.Time, deleted, newest map[int64]bool) error {
	dirs, err := numbered(d.Logs, "")
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	for id := range dirs {
		if deleted[id] {
			p.Logs = append(p.Logs, id)
			continue
		}
		if pol.Logs <= 0 || newest[id] {
			continue
		}
		r, err := st.Run(ctx, id)
		if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
			p.Logs = append(p.Logs, id) // its run is gone
			continue
		}
		if err != nil {
			return fmt.Errorf("logs of run %d: %w", id, err)
		}
		if r.Status.Terminal() && r.FinishedAt != nil && r.FinishedAt.Before(now.Add(-pol.Logs)) {
			p.Logs = append(p.Logs, id)
		}
	}
	sort.Slice(p.Logs, func(i, j int) bool { return p.Logs[i] < p.Logs[j] })
	return nil
}

// artifacts: an artifact goes when it is not needed and every run that
// built it goes; one that no run names goes after orphanAge.
func (p *Plan) artifacts(ctx context.Context, st greenlight.Tx, d Dirs, now time.Time, kept *Kept, deleted map[int64]bool) error {
	entries, err := os.ReadDir(d.Artifacts)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	for _, e := range entries {
		sha, ok := strings.CutSuffix(e.Name(), ".tar.gz")
		if !ok || !artifact.ValidSHA(sha) || kept.Artifacts[sha] {
			continue
		}
		runs, err := st.Runs(ctx, greenlight.RunFilter{Artifact: sha, Limit: 1000})
		if err != nil {
			return fmt.Errorf("runs of artifact %s: %w", sha, err)
		}
		if len(runs) == 0 {
			info, err := e.Info()
			if err != nil || now.Sub(info.ModTime()) < orphanAge {
				continue
			}
		}
		gone := true
		for _, r := range runs {
			gone = gone && deleted[r.ID]
		}
		if gone {
			p.Artifacts = append(p.Artifacts, sha)
		}
	}
	sort.Strings(p.Artifacts)
	return nil
}

// workspaces: a build removes its workspace; one left behind by a crash
// goes once its run is no longer running (or gone).
func (p *Plan) workspaces(ctx context.Context, st greenlight.Tx, d Dirs, deleted map[int64]bool) error {
	for _, suffix := range []string{"", ".cache"} {
		dirs, err := numbered(d.Workspaces, suffix)
		if err != nil {
			return fmt.Errorf("workspaces: %w", err)
		}
		for id, name := range dirs {
			if !deleted[id] {
				r, err := st.Run(ctx, id)
				if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
					return fmt.Errorf("workspace of run %d: %w", id, err)
				}
				if err == nil && !r.Status.Terminal() {
					continue
				}
			}
			p.Workspaces = append(p.Workspaces, name)
		}
	}
	sort.Strings(p.Workspaces)
	return nil
}

// Lines describes the plan for people, a line per thing that goes.
func (p *Plan) Lines() []string {
	var out []string
	for _, r := range p.Runs {
		out = append(out, fmt.Sprintf("run %s #%d (%s, finished %s)", r.Pipeline, r.ID, r.Status, r.FinishedAt.UTC().Format(time.RFC3339)))
	}
	for _, id := range p.Logs {
		out = append(out, fmt.Sprintf("logs of run #%d", id))
	}
	for _, sha := range p.Artifacts {
		out = append(out, "artifact "+sha)
	}
	for _, w := range p.Workspaces {
		out = append(out, "workspace "+w)
	}
	if !p.MailBefore.IsZero() {
		out = append(out, "mail sent before "+p.MailBefore.UTC().Format(time.RFC3339))
	}
	return out
}

// Result counts what Apply deleted.
type Result struct {
	Runs, Logs, Artifacts, Workspaces, Mail int64
}

func (r Result) String() string {
	return fmt.Sprintf("%d runs, %d logs, %d artifacts, %d workspaces, %d mails deleted", r.Runs, r.Logs, r.Artifacts, r.Workspaces, r.Mail)
}

// Apply deletes what the plan lists: rows first (in batches, each its own
// transaction), then files, so that a crash leaves files without rows (the
// next collection finds them) rather than rows without their files.
func (p *Plan) Apply(ctx context.Context, st greenlight.Store, d Dirs) (Result, error) {
	var res Result
	for i := 0; i < len(p.Runs); i += 200 {
		batch := p.Runs[i:min(i+200, len(p.Runs))]
		ids := make([]int64, len(batch))
		for j, r := range batch {
			ids[j] = r.ID
		}
		n, err := st.DeleteRuns(ctx, ids)
		res.Runs += n
		if err != nil {
			return res, err
		}
	}
	if !p.MailBefore.IsZero() {
		n, err := st.DeleteSentMail(ctx, p.MailBefore)
		res.Mail = n
		if err != nil {
			return res, err
		}
	}
	remove := func(path string, count *int64) error {
		if err := os.RemoveAll(path); err != nil {
			return err
		}
		*count++
		return nil
	}
	for _, id := range p.Logs {
		if err := remove(filepath.Join(d.Logs, strconv.FormatInt(id, 10)), &res.Logs); err != nil {
			return res, err
		}
	}
	artifacts := &artifact.Store{Dir: d.Artifacts}
	for _, sha := range p.Artifacts {
		if err := remove(artifacts.Path(sha), &res.Artifacts); err != nil {
			return res, err
		}
	}
	for _, w := range p.Workspaces {
		if err := remove(filepath.Join(d.Workspaces, w), &res.Workspaces); err != nil {
			return res, err
		}
	}
	return res, nil
}
