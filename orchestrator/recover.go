package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/deploy"
)

// recover resumes what the database says was under way when the server
// stopped. An interrupted deploy leaves its release "deploying" with its
// targets' stored states: if its run still runs that deploy stage, the stage
// runs again and resumes it (or rolls it back if it was failing); otherwise
// (the run was cancelled, or the configuration changed) it is rolled back
// here, in the background.
func (e *Engine) recover(ctx context.Context) error {
	runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Statuses: []greenlight.RunStatus{
		greenlight.RunQueued, greenlight.RunRunning, greenlight.RunWaiting}, Limit: 100000})
	if err != nil {
		return err
	}
	// Give up on stages that stopped the server before; their runs become
	// failed, so the deploys among them are rolled back just below.
	runs = e.failCutOffTwice(ctx, runs)
	if err := e.interruptedDeploys(ctx); err != nil {
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

// maxCutOffs is how many times the server may stop while one stage runs
// before the stage is given up on. A stage that crashes the server (a build
// file that runs it out of memory, a step that kills it) would otherwise
// crash it again at every start; once may be bad luck, twice is not.
const maxCutOffs = 2

// errCutOffTwice is why a stage is given up on.
var errCutOffTwice = errors.New("the server stopped twice while running this stage (crashed or killed); not trying again: look at what its steps or hooks do to the machine (memory, processes) before starting a new run")

// failCutOffTwice fails the runs whose running stage the server stopped
// under maxCutOffs times. A stage found running at startup was cut off: each
// start (the first, and each resume) counts in its Attempts, recorded in the
// transaction that marks it running, so Attempts cut-offs lie behind it. It
// returns the runs still unfinished.
func (e *Engine) failCutOffTwice(ctx context.Context, runs []*greenlight.Run) []*greenlight.Run {
	return slices.DeleteFunc(runs, func(run *greenlight.Run) bool {
		if run.Status != greenlight.RunRunning {
			return false
		}
		for _, s := range run.Stages {
			if s.Status == greenlight.StageRunning && s.Attempts >= maxCutOffs {
				e.cfg.Log.Warn("giving up on a stage the server stopped under repeatedly", "run", run.ID, "stage", s.Name, "starts", s.Attempts)
				e.fail(ctx, run.ID, s.Name, errCutOffTwice)
				return true
			}
		}
		return false
	})
}

// sweep moves on every unfinished run that nothing is moving: running runs
// without a goroutine (a restart, or a transition that failed), waiting runs
// whose approval was decided (a crash or failure right after the decision),
// deploys waiting for their environment (to look again), and the queued runs
// that may start. Safe to repeat: every step is
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
			if waitingDeploy(run) != nil {
				// Waiting for its environment: a lock lifted or a window
				// opened while nobody looked (a restart, a lost timer).
				if !e.isActive(run.ID) {
					e.launch(run.ID)
				}
				continue
			}
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

// interruptedDeploys finds the releases a crash left deploying. Those whose
// run will run the deploy stage again are left to it; the others are rolled
// back now.
func (e *Engine) interruptedDeploys(ctx context.Context) error {
	for _, p := range e.cfg.Server.Pipelines {
		for env := range p.Environments {
			rels, err := e.cfg.Store.Releases(ctx, p.Name, env, 50)
			if err != nil {
				return err
			}
			for _, r := range rels {
				if r.Status != greenlight.ReleaseDeploying {
					continue
				}
				run, err := e.cfg.Store.Run(ctx, r.RunID)
				if err != nil {
					return fmt.Errorf("run of release %d: %w", r.ID, err)
				}
				if s := nextStage(run); !run.Status.Terminal() && s != nil && s.Type == greenlight.StageDeploy && s.Environment == env {
					e.cfg.Log.Info("deploy cut off by a restart: its stage resumes it", "run", run.ID, "environment", env)
					continue
				}
				e.cfg.Log.Info("deploy cut off by a restart: rolling it back", "run", run.ID, "environment", env, "run_status", run.Status)
				e.wg.Add(1)
				go func() {
					defer e.wg.Done()
					e.rollbackOrphan(e.background(ctx), p.Name, env, r, run)
				}()
			}
		}
	}
	return nil
}

// rollbackOrphan rolls back a deploy cut off by a crash that no stage will
// resume, holding the environment's lock as any deploy does; unless a deploy
// that had the lock first already resolved it.
func (e *Engine) rollbackOrphan(ctx context.Context, pipeline, env string, rel *greenlight.Release, run *greenlight.Run) {
	unlock, err := e.envLock(ctx, pipeline, env)
	if err != nil {
		return // shutting down: the release stays deploying for the next start
	}
	defer unlock()
	now, err := e.releaseByID(ctx, pipeline, env, rel.ID)
	if err != nil {
		e.cfg.Log.Error("read interrupted release", "run", run.ID, "environment", env, "err", err)
		return
	}
	if now.Status != greenlight.ReleaseDeploying {
		return
	}
	e.rollbackOrphanLocked(ctx, pipeline, env, rel, run)
}

// rollbackOrphanLocked is rollbackOrphan under the environment's lock.
func (e *Engine) rollbackOrphanLocked(ctx context.Context, pipeline, env string, rel *greenlight.Release, run *greenlight.Run) {
	log := e.cfg.Log.With("run", run.ID, "environment", env)
	p := e.cfg.Server.Pipeline(pipeline)
	envCfg := p.Environments[env]
	states, err := e.cfg.Store.TargetStates(ctx, rel.ID)
	if err != nil {
		log.Error("read target states", "err", err)
		return
	}
	stage := ""
	for _, s := range run.Stages {
		if s.Type == greenlight.StageDeploy && s.Environment == env {
			stage = s.Name
		}
	}
	out, err := e.cfg.Logs.Create(run.ID, stage)
	if err != nil {
		log.Error("open stage log", "err", err)
		return
	}
	defer out.Close()
	fmt.Fprintf(out, "==> the server restarted during this deploy and run %d is %s: rolling back (%s)\n", run.ID, run.Status, phaseSummary(states))
	req := e.deployRequest(run, p, envCfg, out, rel.DirName())
	live, err := e.cfg.Store.LiveRelease(ctx, pipeline, env)
	if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
		log.Error("read live release", "err", err)
		return
	}
	req.Active = activeGroup(live) // blue-green: traffic goes back to the group that served
	err = e.rollbackInterrupted(ctx, rel, req, states, out)
	log.Info("interrupted deploy rolled back", "outcome", err)
}

// resolveInterrupted rolls back, under the environment's lock, the deploys
// of other runs than runID that a crash cut off: whichever run takes the
// lock first after a restart must not deploy over them. It fails if one
// stays deploying.
func (e *Engine) resolveInterrupted(ctx context.Context, runID int64, pipeline, env string, out io.Writer) error {
	rels, err := e.cfg.Store.Releases(ctx, pipeline, env, 50)
	if err != nil {
		return fmt.Errorf("read releases: %w", err)
	}
	for _, r := range rels {
		if r.Status != greenlight.ReleaseDeploying || r.RunID == runID {
			continue
		}
		other, err := e.cfg.Store.Run(ctx, r.RunID)
		if err != nil {
			return fmt.Errorf("run of interrupted release %d: %w", r.ID, err)
		}
		fmt.Fprintf(out, "==> the deploy of run %d was cut off by a server restart: rolling it back first\n", r.RunID)
		e.rollbackOrphanLocked(ctx, pipeline, env, r, other)
		now, err := e.releaseByID(ctx, pipeline, env, r.ID)
		if err != nil {
			return fmt.Errorf("read interrupted release %d: %w", r.ID, err)
		}
		if now.Status == greenlight.ReleaseDeploying {
			return fmt.Errorf("the deploy of run %d cut off by a server restart could not be rolled back; see its log", r.RunID)
		}
		fmt.Fprintf(out, "==> run %d's deploy: %s\n", r.RunID, now.Status)
	}
	return nil
}

// rollbackInterrupted returns the targets of a release cut off by a crash
// to their previous releases, records each target's outcome and the
// release's, and returns the stage's error.
func (e *Engine) rollbackInterrupted(ctx context.Context, rel *greenlight.Release, req deploy.Request,
	states []greenlight.TargetState, out io.Writer) error {
	cause := "cut off by a server restart"
	if failing(states, req.Strategy) {
		cause = "cut off by a server restart while failing (" + failureCause(states) + ")"
	}
	prog := e.newProgress(rel.ID, req.Targets, states)
	req.Resume = deployStates(states)
	req.Progress = func(s deploy.TargetState) error { return prog.set(ctx, s) }
	res, err := e.rollbackDeploy(ctx, req)
	wctx := context.WithoutCancel(ctx)
	if perr := prog.outcomes(wctx, res.Targets); perr != nil {
		e.cfg.Log.Error("record target outcomes", "release", rel.ID, "err", perr)
	}
	writeOutcomes(out, res.Targets)
	rel.Targets = res.Targets
	rel.Status, rel.Error = greenlight.ReleaseRolledBack, cause+"; rolled back"
	if err != nil {
		rel.Status, rel.Error = greenlight.ReleaseFailed, cause+"; the rollback failed: "+err.Error()
	}
	fmt.Fprintf(out, "==> %s\n", rel.Error)
	if rerr := e.recordRelease(wctx, rel, nil); rerr != nil {
		return rerr
	}
	return errors.New(rel.Error)
}
