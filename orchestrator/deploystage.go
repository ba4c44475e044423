package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
)

// errSuperseded ends a stage whose run was superseded while it worked.
var errSuperseded = errors.New("run superseded")

// envLock takes the one-deploy-at-a-time lock of an environment, or gives up
// when ctx ends.
func (e *Engine) envLock(ctx context.Context, pipeline, env string) (func(), error) {
	key := pipeline + "/" + env
	e.mu.Lock()
	ch, ok := e.envs[key]
	if !ok {
		ch = make(chan struct{}, 1)
		e.envs[key] = ch
	}
	e.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// deployStage installs the run's artifact in the stage's environment. An older
// commit is never deployed over a newer one: such a run is superseded.
func (e *Engine) deployStage(ctx context.Context, run *greenlight.Run, p *config.Pipeline, sc *config.Stage) error {
	env := p.Environments[sc.Environment]
	if env == nil {
		return greenlight.Errorf(greenlight.EINVALID, "environment %s is not configured", sc.Environment)
	}
	if run.Artifact == nil {
		return greenlight.Errorf(greenlight.EINVALID, "there is no artifact to deploy: the build file lists no artifacts")
	}
	out, err := e.cfg.Logs.Create(run.ID, sc.Name)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer out.Close()
	fmt.Fprintf(out, "==> waiting for other deploys to %s\n", env.Name)
	unlock, err := e.envLock(ctx, p.Name, env.Name)
	if err != nil {
		return err
	}
	defer unlock()

	live, err := e.cfg.Store.LiveRelease(ctx, p.Name, env.Name)
	if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
		return fmt.Errorf("read live release: %w", err)
	}
	if live != nil && run.Trigger != greenlight.TriggerRollback && e.liveIsNewer(ctx, p, run, live.RunID, live.Commit) {
		reason := fmt.Sprintf("a newer run (#%d) is already deployed to %s", live.RunID, env.Name)
		fmt.Fprintf(out, "==> skipped: %s\n", reason)
		if p.Mode == config.ModeParallel {
			e.skipStale(ctx, run.ID, sc.Name, reason)
		} else {
			e.supersede(ctx, run.ID, sc.Name, reason)
		}
		return errSuperseded
	}
	rel := &greenlight.Release{Pipeline: p.Name, Environment: env.Name, RunID: run.ID, Commit: run.Commit.SHA,
		Artifact: run.Artifact.SHA256, Status: greenlight.ReleaseDeploying, DeployedAt: e.cfg.Now()}
	if err := e.cfg.Store.CreateRelease(ctx, rel); err != nil {
		return fmt.Errorf("record release: %w", err)
	}
	req := deploy.Request{Pipeline: p.Name, Environment: env.Name, RunID: run.ID, Commit: run.Commit.SHA,
		Release: strconv.FormatInt(run.ID, 10), Archive: e.cfg.Artifacts.Path(run.Artifact.SHA256),
		Digest: run.Artifact.SHA256, Hooks: run.Hooks, Log: out,
		Health: deploy.Health{URL: env.Health.URL, Timeout: env.Health.Timeout, Passes: env.Health.Passes, Interval: env.Health.Interval}}
	for _, t := range env.Targets {
		dt := deploy.Target{Local: t.Local, Group: t.Group, Env: t.Env}
		if t.SSH != nil {
			s := deploy.SSHTarget(*t.SSH) // same fields: config parses, deploy connects
			dt.SSH = &s
		}
		req.Targets = append(req.Targets, dt)
	}
	fmt.Fprintf(out, "==> deploying run %d (%s, artifact %s) to %s\n", run.ID, run.Commit.Short(), run.Artifact.SHA256[:12], env.Name)
	res, derr := e.cfg.Deployer.Deploy(ctx, req)
	derr = stageErr(ctx, derr)
	rel.Targets = res.Targets
	if derr != nil {
		rel.Status, rel.Error = greenlight.ReleaseFailed, derr.Error()
		if res.RolledBack {
			rel.Status = greenlight.ReleaseRolledBack
		}
		fmt.Fprintf(out, "==> deploy failed: %s\n", derr.Error())
	} else {
		rel.Status, rel.DeployedAt = greenlight.ReleaseLive, e.cfg.Now()
		fmt.Fprintf(out, "==> %s is live on %s\n", run.Commit.Short(), env.Name)
	}
	if err := e.recordRelease(context.WithoutCancel(ctx), rel); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	if p.Mode != config.ModeQueued {
		e.supersedeOlder(ctx, run, env.Name)
	}
	return nil
}

// recordRelease writes the release's outcome; a live one replaces the
// environment's previous live release, in the same transaction.
func (e *Engine) recordRelease(ctx context.Context, rel *greenlight.Release) error {
	err := e.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		if rel.Status == greenlight.ReleaseLive {
			prev, err := tx.LiveRelease(ctx, rel.Pipeline, rel.Environment)
			if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
				return err
			}
			if prev != nil && prev.ID != rel.ID {
				prev.Status = greenlight.ReleaseReplaced
				if err := tx.UpdateRelease(ctx, prev); err != nil {
					return err
				}
			}
		}
		if err := tx.UpdateRelease(ctx, rel); err != nil {
			return err
		}
		data, _ := json.Marshal(map[string]string{"environment": rel.Environment, "status": string(rel.Status)})
		t := greenlight.EventReleaseLive
		switch rel.Status {
		case greenlight.ReleaseRolledBack:
			t = greenlight.EventReleaseRolledBack
		case greenlight.ReleaseFailed:
			t = greenlight.EventReleaseFailed
		}
		return tx.AppendEvent(ctx, &greenlight.Event{Pipeline: rel.Pipeline, RunID: rel.RunID, Type: t,
			Data: data, CreatedAt: e.cfg.Now()})
	})
	if err != nil {
		return fmt.Errorf("record release of run %d: %w", rel.RunID, err)
	}
	e.cfg.Events()
	return nil
}

// supersedeOlder ends the older runs waiting at an approval after deploying
// to env: stakeholders approve what they can see there, and that is now run.
func (e *Engine) supersedeOlder(ctx context.Context, run *greenlight.Run, env string) {
	waiting, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: run.Pipeline,
		Statuses: []greenlight.RunStatus{greenlight.RunWaiting}, Limit: 1000})
	if err != nil {
		e.cfg.Log.Error("list waiting runs", "err", err)
		return
	}
	for _, old := range waiting {
		if old.ID >= run.ID || !deployedTo(old, env) {
			continue
		}
		for _, s := range old.Stages {
			if s.Status == greenlight.StageWaiting {
				e.supersede(ctx, old.ID, s.Name, fmt.Sprintf("superseded by run #%d (%s), now on %s", run.ID, run.Commit.Short(), env))
			}
		}
	}
}

func deployedTo(run *greenlight.Run, env string) bool {
	for _, s := range run.Stages {
		if s.Type == greenlight.StageDeploy && s.Environment == env && s.Status == greenlight.StageSucceeded {
			return true
		}
	}
	return false
}

// supersede ends a run as superseded at stage, revoking its approval links.
func (e *Engine) supersede(ctx context.Context, id int64, stage, reason string) {
	if _, err := e.change(context.WithoutCancel(ctx), id, func(tx greenlight.Tx, run *greenlight.Run, em *emitter) error {
		// Only a run still at that stage: one approved a moment ago goes on.
		if s := run.Stage(stage); run.Status.Terminal() || s == nil ||
			(s.Status != greenlight.StageWaiting && s.Status != greenlight.StageRunning) {
			return errNoChange
		}
		if err := e.revokeGate(ctx, tx, run, em, "superseded"); err != nil {
			return err
		}
		e.finish(run, em, greenlight.RunSuperseded, stage, greenlight.StageCancelled, reason)
		return nil
	}); err != nil {
		e.cfg.Log.Error("supersede run", "run", id, "err", err)
		return
	}
	e.cfg.Log.Info("run superseded", "run", id, "reason", reason)
}
