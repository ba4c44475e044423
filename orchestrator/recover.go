package orchestrator

import (
	"context"
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
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	pipelines := map[string]bool{}
	for _, run := range runs {
		pipelines[run.Pipeline] = true
		switch run.Status {
		case greenlight.RunRunning:
			if err := e.abandonReleases(ctx, run); err != nil {
				return err
			}
			e.cfg.Log.Info("resuming run cut off by a restart", "run", run.ID, "pipeline", run.Pipeline)
			e.launch(run.ID)
		case greenlight.RunWaiting:
			for _, s := range run.Stages {
				if s.Status != greenlight.StageWaiting {
					continue
				}
				a, err := e.cfg.Store.ApprovalForStage(ctx, run.ID, s.Name)
				if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
					e.launch(run.ID) // parked without its approval: open it now
					continue
				}
				if err != nil {
					return err
				}
				if a.Status != greenlight.ApprovalPending {
					e.resolveGate(ctx, a) // decided just before the crash
				}
			}
		}
	}
	for p := range pipelines {
		e.schedule(ctx, p)
	}
	return nil
}

// abandonReleases marks a run's releases that were mid-deploy as failed.
func (e *Engine) abandonReleases(ctx context.Context, run *greenlight.Run) error {
	for _, s := range run.Stages {
		if s.Type != greenlight.StageDeploy || s.Status != greenlight.StageRunning {
			continue
		}
		rels, err := e.cfg.Store.Releases(ctx, run.Pipeline, s.Environment, 20)
		if err != nil {
			return err
		}
		for _, r := range rels {
			if r.RunID == run.ID && r.Status == greenlight.ReleaseDeploying {
				r.Status, r.Error = greenlight.ReleaseFailed, "interrupted by a server restart; deployed again"
				if err := e.cfg.Store.UpdateRelease(ctx, r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
