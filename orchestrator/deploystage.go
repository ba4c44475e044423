package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
)

// errSuperseded ends a stage whose run was superseded while it worked.
var errSuperseded = errors.New("run superseded")

// envChan is the environment's deploy lock: a send takes it.
func (e *Engine) envChan(pipeline, env string) chan struct{} {
	key := pipeline + "/" + env
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.envs[key]
	if !ok {
		ch = make(chan struct{}, 1)
		e.envs[key] = ch
	}
	return ch
}

// envLock takes the one-deploy-at-a-time lock of an environment, or gives up
// when ctx ends.
func (e *Engine) envLock(ctx context.Context, pipeline, env string) (func(), error) {
	ch := e.envChan(pipeline, env)
	select {
	case ch <- struct{}{}:
		return func() { <-ch; e.wakeRetire() }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// envTryLock takes the environment's deploy lock if it is free, without
// waiting: work that can be put off (a retirement) never queues behind a
// deploy.
func (e *Engine) envTryLock(pipeline, env string) (func(), bool) {
	ch := e.envChan(pipeline, env)
	select {
	case ch <- struct{}{}:
		return func() { <-ch; e.wakeRetire() }, true
	default:
		return nil, false
	}
}

// deployStage installs the run's artifact in the stage's environment. An older
// commit is never deployed over a newer one: such a run is superseded (a
// rollback run excepted). Each target's state is stored as the deploy goes;
// a deploy of this run cut off by a crash is resumed from those states, or
// rolled back if it was already failing.
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

	// A deploy of another run cut off by a crash is undone before anything
	// else: deployed over, it would later be rolled back over this one.
	if err := e.resolveInterrupted(ctx, run.ID, p.Name, env.Name, out); err != nil {
		return err
	}
	live, err := e.cfg.Store.LiveRelease(ctx, p.Name, env.Name)
	if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
		return fmt.Errorf("read live release: %w", err)
	}
	rel, states, err := e.interrupted(ctx, run.ID, p.Name, env.Name)
	if err != nil {
		return err
	}
	if live != nil && run.Trigger != greenlight.TriggerRollback && e.liveIsNewer(ctx, p, run, live.RunID, live.Commit) {
		reason := fmt.Sprintf("a newer run (#%d) is already deployed to %s", live.RunID, env.Name)
		if rel != nil {
			// A newer release went live over this cut-off deploy (only a
			// server without resolveInterrupted let that happen): the
			// targets are the newer release's now, so none is rolled back;
			// the release is only closed, lest it block rollbacks and be
			// undone at a restart.
			rel.Status, rel.Error = greenlight.ReleaseFailed, "cut off by a server restart; "+reason+": not resumed"
			fmt.Fprintf(out, "==> this run's deploy %s\n", rel.Error)
			if err := e.recordRelease(context.WithoutCancel(ctx), rel, nil); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "==> skipped: %s\n", reason)
		if p.Mode == config.ModeParallel {
			e.skipStale(ctx, run.ID, sc.Name, reason)
		} else {
			e.supersede(ctx, run.ID, sc.Name, reason)
		}
		return errSuperseded
	}
	name := strconv.FormatInt(run.ID, 10)
	switch {
	case rel != nil:
		name = rel.DirName()
	case run.Trigger == greenlight.TriggerRollback:
		if name, err = e.rollbackName(ctx, run, p.Name, env.Name); err != nil {
			return err
		}
	}
	req := e.deployRequest(run, p, env, out, name)
	req.Active = activeGroup(live)
	if rel != nil && failing(states, req.Strategy) {
		fmt.Fprintf(out, "==> the deploy of run %d was cut off while it was failing (%s): rolling back\n", run.ID, phaseSummary(states))
		return e.rollbackInterrupted(ctx, rel, req, states, out)
	}
	if rel != nil {
		fmt.Fprintf(out, "==> resuming the deploy of run %d cut off by a server restart (%s)\n", run.ID, phaseSummary(states))
		req.Resume = deployStates(states)
		if req.Strategy.Type == deploy.Rolling {
			// The failures of the cut-off attempt count against max_failed:
			// the resumed attempt tolerates only what is left. (Its failed
			// hosts are installed again.)
			req.Strategy.MaxFailed -= failures(states)
		}
	} else {
		rel = &greenlight.Release{Pipeline: p.Name, Environment: env.Name, RunID: run.ID, Commit: run.Commit.SHA,
			Artifact: run.Artifact.SHA256, Status: greenlight.ReleaseDeploying, DeployedAt: e.cfg.Now(), Name: name}
		if err := e.cfg.Store.CreateRelease(ctx, rel); err != nil {
			return fmt.Errorf("record release: %w", err)
		}
	}
	prog := e.newProgress(rel.ID, req.Targets, states)
	// A blue-green release is the idle group's: the other group's targets,
	// which the deploy reports pending and never touches, are not its.
	prog.untouchedOut = req.Strategy.Type == deploy.BlueGreen
	req.Progress = func(s deploy.TargetState) error { return prog.set(ctx, s) }
	fmt.Fprintf(out, "==> deploying run %d (%s, artifact %s) to %s: %d targets, %s\n", run.ID, run.Commit.Short(),
		run.Artifact.SHA256[:12], env.Name, len(req.Targets), strategyName(req.Strategy))
	res, derr := e.cfg.Deployer.Deploy(ctx, req)
	derr = stageErr(ctx, derr)
	return e.finishDeploy(ctx, run, p, env, rel, live, prog, res, derr, out)
}

// finishDeploy stores what a deploy did on each target and the release's
// outcome, says both in the stage log, and after a blue-green switch
// schedules the old group's retirement.
func (e *Engine) finishDeploy(ctx context.Context, run *greenlight.Run, p *config.Pipeline, env *config.Environment,
	rel, live *greenlight.Release, prog *progress, res deploy.Result, derr error, out io.Writer) error {
	wctx := context.WithoutCancel(ctx) // a cancelled deploy's outcome is recorded too
	if err := prog.outcomes(wctx, res.Targets); err != nil {
		e.cfg.Log.Error("record target outcomes", "release", rel.ID, "err", err)
	}
	rel.Targets = res.Targets
	writeOutcomes(out, res.Targets)
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
	// The old group's retirement is written with the live release, so that a
	// crash cannot leave the switch recorded and the old group up forever.
	var ret *greenlight.Retirement
	if derr == nil {
		ret = e.retirementFor(env, live, res.Active)
	}
	if err := e.recordRelease(wctx, rel, ret); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	if ret != nil {
		fmt.Fprintf(out, "==> group %s stays up until %s (keep_old %s), then its stop hook runs\n",
			ret.Group, ret.DueAt.Format(time.RFC3339), env.Strategy.KeepOld)
	}
	if p.Mode != config.ModeQueued {
		e.supersedeOlder(ctx, run, env.Name)
	}
	return nil
}

// deployRequest is the deploy of run's artifact to env as release name:
// the environment's plan plus this release.
func (e *Engine) deployRequest(run *greenlight.Run, p *config.Pipeline, env *config.Environment, out io.Writer, name string) deploy.Request {
	req := deployPlan(env)
	req.Pipeline, req.RunID, req.Commit = p.Name, run.ID, run.Commit.SHA
	req.Release = name
	req.Archive, req.Digest = e.cfg.Artifacts.Path(run.Artifact.SHA256), run.Artifact.SHA256
	req.Hooks, req.Log = run.Hooks, out
	return req
}

// rollbackName is the release a rollback run returns to: the directory of
// the newest release of env with the run's commit and artifact that went
// live, so that targets still keeping it (a blue-green group, above all)
// need no new install.
func (e *Engine) rollbackName(ctx context.Context, run *greenlight.Run, pipeline, env string) (string, error) {
	rels, err := e.cfg.Store.Releases(ctx, pipeline, env, 0)
	if err != nil {
		return "", fmt.Errorf("read releases: %w", err)
	}
	for _, r := range rels {
		if r.RunID != run.ID && r.Artifact == run.Artifact.SHA256 && r.Commit == run.Commit.SHA &&
			(r.Status == greenlight.ReleaseLive || r.Status == greenlight.ReleaseReplaced) {
			return r.DirName(), nil
		}
	}
	return strconv.FormatInt(run.ID, 10), nil
}

func strategyName(s deploy.Strategy) string {
	if s.Type == "" {
		return deploy.AllAtOnce
	}
	return s.Type
}

// writeOutcomes says in the stage log what happened on each target.
func writeOutcomes(out io.Writer, targets []greenlight.TargetOutcome) {
	for _, t := range targets {
		line := fmt.Sprintf("==> target %s: %s", t.Target, t.Status)
		if t.Group != "" {
			line += " (group " + t.Group + ")"
		}
		if t.Error != "" {
			line += ": " + t.Error
		}
		fmt.Fprintln(out, line)
	}
}

// recordRelease writes the release's outcome; a live one replaces the
// environment's previous live release, and ret (if not nil) schedules a
// blue-green group's retirement, in the same transaction.
func (e *Engine) recordRelease(ctx context.Context, rel *greenlight.Release, ret *greenlight.Retirement) error {
	err := e.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		if ret != nil {
			ret.ID = 0 // InTx may run fn again
			if err := tx.CreateRetirement(ctx, ret); err != nil {
				return fmt.Errorf("schedule the retirement of group %s: %w", ret.Group, err)
			}
		}
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
		return tx.AppendEvent(ctx, greenlight.NewEvent(rel.Pipeline, rel.RunID,
			greenlight.ReleaseOutcome{Environment: rel.Environment, Status: rel.Status}, e.cfg.Now()))
	})
	if err != nil {
		return fmt.Errorf("record release of run %d: %w", rel.RunID, err)
	}
	if ret != nil {
		e.wakeRetire()
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
		return e.finish(run, em, greenlight.RunSuperseded, stage, greenlight.StageCancelled, reason)
	}); err != nil {
		e.cfg.Log.Error("supersede run", "run", id, "err", err)
		return
	}
	e.cfg.Log.Info("run superseded", "run", id, "reason", reason)
}
