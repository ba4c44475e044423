package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// Rollback starts a run that deploys an earlier release of an environment
// again: the release of run fromRun, or with fromRun 0 the release that was
// live before the current one (the newest earlier release of env that went
// live, with another commit or artifact). The new run has trigger "rollback", the old
// run's commit, artifact and hooks, and one deploy stage: the pipeline's
// stage for env, so the environment's strategy and health checks apply.
// Its release is recorded in env's history as a release of the new run.
//
// Errors: ENOTFOUND for an unknown pipeline, environment or run; ECONFLICT
// when there is nothing to roll back to, fromRun's release was never live
// on env, its artifact is gone, the pipeline has no deploy stage for env,
// or a deploy to env is under way; EUNAVAILABLE while shutting down.
func (e *Engine) Rollback(ctx context.Context, pipeline, env string, fromRun int64) (*greenlight.Run, error) {
	p, err := e.pipeline(pipeline)
	if err != nil {
		return nil, err
	}
	if p.Environments[env] == nil {
		return nil, greenlight.Errorf(greenlight.ENOTFOUND, "pipeline %s has no environment %q", p.Name, env)
	}
	sc := deployStageFor(p, env)
	if sc == nil {
		return nil, greenlight.Errorf(greenlight.ECONFLICT, "no stage of pipeline %s deploys to %s", p.Name, env)
	}
	if e.isStopping() {
		return nil, greenlight.Errorf(greenlight.EUNAVAILABLE, "the server is shutting down")
	}
	if err := e.envBusy(ctx, p.Name, env); err != nil {
		return nil, err
	}
	rel, err := e.rollbackSource(ctx, p.Name, env, fromRun)
	if err != nil {
		return nil, err
	}
	src, err := e.cfg.Store.Run(ctx, rel.RunID)
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", rel.RunID, err)
	}
	if src.Artifact == nil || src.Artifact.SHA256 != rel.Artifact {
		return nil, greenlight.Errorf(greenlight.ECONFLICT, "run %d has no artifact to deploy", src.ID)
	}
	if _, err := os.Stat(e.cfg.Artifacts.Path(rel.Artifact)); errors.Is(err, fs.ErrNotExist) {
		return nil, greenlight.Errorf(greenlight.ECONFLICT, "the artifact of run %d (%s) no longer exists", src.ID, rel.Artifact[:12])
	} else if err != nil {
		return nil, fmt.Errorf("artifact of run %d: %w", src.ID, err)
	}

	now := e.cfg.Now()
	run := &greenlight.Run{Pipeline: p.Name, Status: greenlight.RunQueued, Trigger: greenlight.TriggerRollback,
		Commit: src.Commit, Artifact: src.Artifact, Hooks: src.Hooks, CreatedAt: now,
		Stages: []greenlight.Stage{{Index: 0, Name: sc.Name, Type: greenlight.StageDeploy, Environment: env,
			Status: greenlight.StagePending}}}
	err = e.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		if err := tx.CreateRun(ctx, run); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, greenlight.NewEvent(p.Name, run.ID,
			greenlight.RunCreated{Environment: env, RollbackOf: src.ID}, now))
	})
	if err != nil {
		return nil, fmt.Errorf("create rollback run of %s: %w", p.Name, err)
	}
	e.cfg.Events()
	e.cfg.Log.Info("rollback run created", "pipeline", p.Name, "environment", env, "run", run.ID,
		"rollback_of", src.ID, "commit", run.Commit.Short())
	if w, err := e.cfg.Logs.Create(run.ID, sc.Name); err == nil {
		fmt.Fprintf(w, "==> rollback of %s to the release of run %d (%s, artifact %s)\n", env, src.ID, src.Commit.Short(), rel.Artifact[:12])
		w.Close()
	}
	// Started now, whatever the pipeline's mode: a rollback does not queue
	// behind runs waiting for approval.
	e.launch(run.ID)
	return run, nil
}

// deployStageFor is the pipeline's first deploy stage to env.
func deployStageFor(p *config.Pipeline, env string) *config.Stage {
	for i := range p.Stages {
		if p.Stages[i].Type == greenlight.StageDeploy && p.Stages[i].Environment == env {
			return &p.Stages[i]
		}
	}
	return nil
}

// envBusy returns ECONFLICT when a deploy to env is under way or about to
// start: a release deploying, a run running a deploy stage to env, or a
// rollback run of env not finished.
func (e *Engine) envBusy(ctx context.Context, pipeline, env string) error {
	rels, err := e.cfg.Store.Releases(ctx, pipeline, env, 5)
	if err != nil {
		return fmt.Errorf("read releases of %s: %w", env, err)
	}
	for _, r := range rels {
		if r.Status == greenlight.ReleaseDeploying {
			return greenlight.Errorf(greenlight.ECONFLICT, "run %d is deploying to %s: roll back once it is done", r.RunID, env)
		}
	}
	runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: pipeline,
		Statuses: []greenlight.RunStatus{greenlight.RunQueued, greenlight.RunRunning}, Limit: 1000})
	if err != nil {
		return fmt.Errorf("list active runs: %w", err)
	}
	for _, run := range runs {
		for _, s := range run.Stages {
			if s.Type != greenlight.StageDeploy || s.Environment != env {
				continue
			}
			if s.Status == greenlight.StageRunning || (run.Trigger == greenlight.TriggerRollback && !s.Status.Terminal()) {
				return greenlight.Errorf(greenlight.ECONFLICT, "run %d is deploying to %s: roll back once it is done", run.ID, env)
			}
		}
	}
	return nil
}

// rollbackSource picks the release to deploy again: fromRun's release of
// env that went live, or with fromRun 0 the newest release before the live
// one that went live with another commit or artifact.
func (e *Engine) rollbackSource(ctx context.Context, pipeline, env string, fromRun int64) (*greenlight.Release, error) {
	if fromRun > 0 {
		run, err := e.cfg.Store.Run(ctx, fromRun)
		if greenlight.ErrorCode(err) == greenlight.ENOTFOUND || (err == nil && run.Pipeline != pipeline) {
			return nil, greenlight.Errorf(greenlight.ENOTFOUND, "pipeline %s has no run %d", pipeline, fromRun)
		} else if err != nil {
			return nil, fmt.Errorf("read run %d: %w", fromRun, err)
		}
	}
	rels, err := e.cfg.Store.Releases(ctx, pipeline, env, 0)
	if err != nil {
		return nil, fmt.Errorf("read releases of %s: %w", env, err)
	}
	wasLive := func(r *greenlight.Release) bool {
		return r.Status == greenlight.ReleaseLive || r.Status == greenlight.ReleaseReplaced
	}
	if fromRun > 0 {
		for _, r := range rels {
			if r.RunID == fromRun && wasLive(r) {
				return r, nil
			}
		}
		return nil, greenlight.Errorf(greenlight.ECONFLICT, "run %d was never live on %s: nothing of it to roll back to", fromRun, env)
	}
	var live *greenlight.Release
	for _, r := range rels { // newest first
		switch {
		case r.Status == greenlight.ReleaseLive && live == nil:
			live = r
		case r.Status == greenlight.ReleaseReplaced && (live == nil || r.Artifact != live.Artifact || r.Commit != live.Commit):
			return r, nil
		}
	}
	return nil, greenlight.Errorf(greenlight.ECONFLICT, "nothing to roll back to: no earlier release of %s was live", env)
}
