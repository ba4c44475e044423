package orchestrator

import (
	"context"
	"fmt"
	"sort"

	"github.com/greenlight-cd/greenlight"
)

// recover resumes what the database says was under way when the server
// stopped. Interrupted deploys leave a release "deploying": it is marked
// failed and the stage runs again, which finishes the deploy or rolls it back.
func (e *Engine) recover(ctx context.Context) error {
	runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Statuses: []greenlight.RunStatus{
		greenlight.RunQueued, greenlight.RunRunning, greenlight.RunWaiting}, Limit: 100000})
	if err != nil {
		return err
	}
	if err := e.abandonReleases(ctx); err != nil {
		return err
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	for _, run := range runs {
		if run.Status == greenlight.RunRunning {
			e.cfg.Log.Info("resuming run cut off by a restart", "run", run.ID, "pipeline", run.Pipeline)
		}
	}
	return e.sweep(ctx, runs)
}

// sweep moves on every unfinished run that nothing is moving: running runs
// without a goroutine (a restart, or a transition that failed), waiting runs
// whose approval was decided (a crash or failure right after the decision),
// and the queued runs that may start. Safe to repeat: every step is
// conditional on the run's state.
func (e *Engine) sweep(ctx context.Context, runs []*greenlight.Run) error {
	pipelines := map[string]bool{}
	for _, run := range runs {
		pipelines[run.Pipeline] = true
		switch run.Status {
		case greenlight.RunRunning:
			if !e.isActive(run.ID) {
				e.launch(run.ID)
			}
		case greenlight.RunWaiting:
			for _, s := range run.Stages {
				if s.Status != greenlight.StageWaiting {
					continue
				}
				a, err := e.cfg.Store.ApprovalForStage(ctx, run.ID, s.Name)
				if err != nil {
					return fmt.Errorf("approval of run %d: %w", run.ID, err)
				}
				if a.Status != greenlight.ApprovalPending {
					e.resolveGate(ctx, a)
				}
			}
		}
	}
	for p := range pipelines {
		e.schedule(ctx, p)
	}
	return nil
}

// abandonReleases marks every release left mid-deploy as failed: its run's
// deploy stage, if still running, deploys again (and finishes or rolls back).
func (e *Engine) abandonReleases(ctx context.Context) error {
	for _, p := range e.cfg.Server.Pipelines {
		for env := range p.Environments {
			rels, err := e.cfg.Store.Releases(ctx, p.Name, env, 50)
			if err != nil {
				return err
			}
			for _, r := range rels {
				if r.Status == greenlight.ReleaseDeploying {
					r.Status, r.Error = greenlight.ReleaseFailed, "interrupted by a server restart"
					if err := e.cfg.Store.UpdateRelease(ctx, r); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
