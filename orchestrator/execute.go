package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// launch gives the run a goroutine unless it has one; if it has, that
// goroutine looks at the run once more before it ends, so a change that
// arrives while it is finishing (an approval) is not missed. Nothing new
// starts once the engine is stopping.
func (e *Engine) launch(id int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping || e.base == nil || e.base.Err() != nil {
		return
	}
	if _, ok := e.active[id]; ok {
		e.again[id] = true
		return
	}
	ctx, cancel := context.WithCancelCause(e.base)
	e.active[id] = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer cancel(nil)
		for {
			pipeline := e.execute(ctx, id)
			e.mu.Lock()
			again := e.again[id] && !e.stopping && ctx.Err() == nil
			delete(e.again, id)
			if !again {
				delete(e.active, id)
			}
			e.mu.Unlock()
			if again {
				continue
			}
			if pipeline != "" {
				e.schedule(e.base, pipeline)
			}
			return
		}
	}()
}

// isStopping reports whether Shutdown has begun.
func (e *Engine) isStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping
}

func (e *Engine) isActive(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.active[id]
	return ok
}

// execute drives run id from stage to stage until it finishes, waits at an
// approval, or is cut off. It returns the run's pipeline, to schedule the
// next runs.
func (e *Engine) execute(ctx context.Context, id int64) string {
	log := e.cfg.Log.With("run", id)
	for {
		run, err := e.cfg.Store.Run(ctx, id)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("load run", "err", err)
			}
			return ""
		}
		// A run waiting for its deploy's environment looks again (hold.go);
		// one waiting for an approval waits for the decision.
		if run.Status.Terminal() || (run.Status == greenlight.RunWaiting && waitingDeploy(run) == nil) {
			return run.Pipeline
		}
		if e.isStopping() { // draining: finish the stage at hand, start no other
			return ""
		}
		p := e.cfg.Server.Pipeline(run.Pipeline)
		stage := nextStage(run)
		if stage == nil {
			e.succeed(ctx, id)
			return run.Pipeline
		}
		var sc *config.Stage
		if p != nil {
			sc = stageConfig(p, stage.Name)
		}
		if sc == nil {
			e.fail(ctx, id, stage.Name, fmt.Errorf("pipeline %s has no stage %s any more: the configuration changed", run.Pipeline, stage.Name))
			return run.Pipeline
		}
		if stage.Type == greenlight.StageApproval {
			if err := e.openGate(ctx, run, p, sc); err != nil && ctx.Err() == nil {
				e.fail(ctx, id, stage.Name, err)
			}
			return run.Pipeline
		}
		if stage.Type == greenlight.StageDeploy {
			var started bool
			if run, started, _, err = e.startDeploy(ctx, run, p, sc); err != nil || run.Status.Terminal() {
				return ""
			} else if !started {
				return run.Pipeline // waiting for its environment
			}
		} else if run, err = e.startStage(ctx, id, stage.Name); err != nil || run.Status.Terminal() {
			return ""
		}
		sctx, cancel := stageContext(ctx, stage.Type, sc.Timeout)
		var apply func(*greenlight.Run)
		switch stage.Type {
		case greenlight.StageBuild:
			apply, err = e.build(sctx, run, p, sc)
		case greenlight.StageDeploy:
			err = e.deployStage(sctx, run, p, sc)
		}
		cancel()
		if cause := context.Cause(ctx); err != nil && (errors.Is(cause, errShutdown) || errors.Is(cause, errCancelled)) {
			log.Info("stage cut off", "stage", stage.Name, "cause", cause)
			if errors.Is(cause, errShutdown) {
				e.uncount(ctx, id, stage.Name)
			}
			return ""
		}
		if errors.Is(err, errSuperseded) {
			return run.Pipeline
		}
		if err != nil {
			e.fail(ctx, id, stage.Name, err)
			return run.Pipeline
		}
		// One transaction records the stage's success, what it produced and,
		// after the last stage, the run's success.
		// Recorded even if a shutdown began meanwhile: the work is done.
		if _, err := e.change(context.WithoutCancel(ctx), id, func(_ greenlight.Tx, run *greenlight.Run, em *emitter) error {
			s := run.Stage(stage.Name)
			if run.Status.Terminal() || s.Status != greenlight.StageRunning {
				return errNoChange
			}
			if apply != nil {
				apply(run)
			}
			if err := em.apply(run.FinishStage(s.Name, greenlight.StageSucceeded, "", e.cfg.Now())); err != nil {
				return err
			}
			if nextStage(run) == nil {
				return e.finish(run, em, greenlight.RunSucceeded, "", "", "")
			}
			return nil
		}); err != nil {
			log.Error("record stage success", "stage", stage.Name, "err", err)
			return ""
		}
	}
}

// stageContext bounds a stage by its configured timeout, naming it as the
// cause so that stageErr can tell people why the stage stopped.
func stageContext(ctx context.Context, typ greenlight.StageType, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, timeout, fmt.Errorf("the %s took longer than its timeout of %s", typ, timeout))
}

// stageErr puts a stage's timeout first in err when that is what ended it.
func stageErr(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if err == nil || ctx.Err() != context.DeadlineExceeded || cause == nil || errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w (%v)", cause, err)
}

// nextStage is the first stage not yet done: a running one (cut off by a
// restart) runs again.
func nextStage(run *greenlight.Run) *greenlight.Stage {
	for i := range run.Stages {
		if !run.Stages[i].Status.Terminal() {
			return &run.Stages[i]
		}
	}
	return nil
}

// startStage marks the stage running (again, after a restart) and the run running.
func (e *Engine) startStage(ctx context.Context, id int64, name string) (*greenlight.Run, error) {
	run, err := e.change(ctx, id, func(_ greenlight.Tx, run *greenlight.Run, em *emitter) error {
		if run.Status.Terminal() {
			return errNoChange
		}
		return em.apply(run.StartStage(name, e.cfg.Now()))
	})
	if err != nil {
		e.cfg.Log.Error("start stage", "run", id, "stage", name, "err", err)
	}
	return run, err
}

// uncount takes back the start of a stage that an orderly shutdown cut off:
// only a server that stopped without one (a crash, a kill) counts against
// the stage (maxCutOffs).
func (e *Engine) uncount(ctx context.Context, id int64, name string) {
	if _, err := e.change(context.WithoutCancel(ctx), id, func(_ greenlight.Tx, run *greenlight.Run, _ *emitter) error {
		if s := run.Stage(name); run.Status.Terminal() || s == nil || s.Status != greenlight.StageRunning || s.Attempts == 0 {
			return errNoChange
		}
		return run.TakeBackStart(name)
	}); err != nil {
		e.cfg.Log.Error("record an orderly cut-off", "run", id, "stage", name, "err", err)
	}
}

// fail ends the run as failed because of stage's error.
func (e *Engine) fail(ctx context.Context, id int64, stage string, cause error) {
	reason := fmt.Sprintf("%s: %s", stage, cause.Error())
	e.cfg.Log.Info("run failed", "run", id, "stage", stage, "err", cause)
	if _, err := e.change(context.WithoutCancel(ctx), id, func(_ greenlight.Tx, run *greenlight.Run, em *emitter) error {
		if run.Status.Terminal() {
			return errNoChange
		}
		return e.finish(run, em, greenlight.RunFailed, stage, greenlight.StageFailed, reason)
	}); err != nil {
		e.cfg.Log.Error("record failure", "run", id, "err", err)
	}
}

func (e *Engine) succeed(ctx context.Context, id int64) {
	if _, err := e.change(ctx, id, func(_ greenlight.Tx, run *greenlight.Run, em *emitter) error {
		if run.Status.Terminal() {
			return errNoChange
		}
		return e.finish(run, em, greenlight.RunSucceeded, "", "", "")
	}); err != nil {
		e.cfg.Log.Error("record success", "run", id, "err", err)
	}
}

// skipStale ends a run of a parallel pipeline whose deploy stage found a
// newer run already live there: an older commit is never deployed over a
// newer one. The stage is skipped with the reason and the run superseded.
func (e *Engine) skipStale(ctx context.Context, id int64, stage, reason string) {
	if _, err := e.change(context.WithoutCancel(ctx), id, func(_ greenlight.Tx, run *greenlight.Run, em *emitter) error {
		if s := run.Stage(stage); run.Status.Terminal() || s == nil || s.Status != greenlight.StageRunning {
			return errNoChange
		}
		return e.finish(run, em, greenlight.RunSuperseded, stage, greenlight.StageSkipped, reason)
	}); err != nil {
		e.cfg.Log.Error("skip stale deploy", "run", id, "err", err)
		return
	}
	e.cfg.Log.Info("deploy skipped: a newer run is live", "run", id, "stage", stage, "reason", reason)
}
