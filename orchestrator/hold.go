package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// A deploy stage starts only when its environment allows it: not locked,
// not frozen, inside a deploy window. Until then the stage and its run are
// waiting, with the reason. What moves them on:
//   - a timer set for the next moment the windows and freezes allow (lost
//     at a restart, so recovery and the sweep every ten seconds look again);
//   - Unlock, at once;
//   - Override, by a person, whatever holds the deploy.
// A rollback run is never held: it is how a bad release is undone.

// hold says why a deploy of run to env may not start at now ("" if it may),
// and when the windows and freezes will next allow it (zero: not by time;
// only an unlock or an override moves it).
func hold(ctx context.Context, tx greenlight.Tx, run *greenlight.Run, env *config.Environment, pipeline string, now time.Time) (string, time.Time, error) {
	if run.Trigger == greenlight.TriggerRollback || env == nil {
		return "", time.Time{}, nil
	}
	lock, err := tx.EnvironmentLock(ctx, pipeline, env.Name)
	switch {
	case err == nil:
		return lock.Hold(), time.Time{}, nil
	case greenlight.ErrorCode(err) != greenlight.ENOTFOUND:
		return "", time.Time{}, fmt.Errorf("read the lock of %s: %w", env.Name, err)
	}
	policy := env.Policy()
	why := policy.Hold(now)
	if why == "" {
		return "", time.Time{}, nil
	}
	next, _ := policy.Next(now)
	return why, next, nil
}

// waitingDeploy returns the run's deploy stage that waits for its
// environment to allow it, or nil.
func waitingDeploy(run *greenlight.Run) *greenlight.Stage {
	for i := range run.Stages {
		if s := &run.Stages[i]; s.Type == greenlight.StageDeploy && s.Status == greenlight.StageWaiting {
			return s
		}
	}
	return nil
}

// startDeploy starts a deploy stage if its environment allows it now, or
// parks it and its run waiting with the reason. A stage already running
// (cut off by a restart, or started by an override) goes on: the rules
// are about when a deploy starts. It returns the run, whether it started,
// and when to look again if it did not.
func (e *Engine) startDeploy(ctx context.Context, seen *greenlight.Run, p *config.Pipeline, sc *config.Stage) (*greenlight.Run, bool, time.Time, error) {
	id := seen.ID
	env := p.Environments[sc.Environment]
	// Still held for the same reason (the sweep looks every ten seconds):
	// no write transaction.
	if s := seen.Stage(sc.Name); s != nil && s.Status == greenlight.StageWaiting && seen.Status == greenlight.RunWaiting {
		why, next, err := hold(ctx, e.cfg.Store, seen, env, p.Name, e.cfg.Now())
		if err == nil && why != "" && why == s.Reason && why == seen.Reason {
			if !next.IsZero() {
				e.wakeAt(id, next)
			}
			return seen, false, next, nil
		}
	}
	started, parked := false, false
	var wake time.Time
	run, err := e.change(ctx, id, func(tx greenlight.Tx, run *greenlight.Run, em *emitter) error {
		s := run.Stage(sc.Name)
		if run.Status.Terminal() || s == nil || s.Status.Terminal() {
			return errNoChange
		}
		now := e.cfg.Now()
		if s.Status != greenlight.StageRunning {
			why, next, err := hold(ctx, tx, run, env, p.Name, now)
			if err != nil {
				return err
			}
			if why != "" {
				wake = next
				if s.Status == greenlight.StageWaiting && s.Reason == why && run.Status == greenlight.RunWaiting && run.Reason == why {
					return errNoChange
				}
				parked = true
				return em.apply(run.WaitStage(sc.Name, why, now))
			}
		}
		started = true
		return em.apply(run.StartStage(sc.Name, now))
	})
	if err != nil {
		e.cfg.Log.Error("start deploy", "run", id, "stage", sc.Name, "err", err)
		return nil, false, time.Time{}, err
	}
	if parked {
		e.cfg.Log.Info("deploy waits", "run", id, "stage", sc.Name, "reason", run.Stage(sc.Name).Reason)
	}
	if !started && !wake.IsZero() {
		e.wakeAt(id, wake)
	}
	return run, started, wake, nil
}

// wakeAt looks at run id again at t (replacing an earlier timer).
func (e *Engine) wakeAt(id int64, t time.Time) {
	d := max(t.Sub(e.cfg.Now()), 0) + 100*time.Millisecond // past the boundary, not on it
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.timers[id]; ok {
		old.Stop()
	}
	e.timers[id] = time.AfterFunc(d, func() {
		e.mu.Lock()
		delete(e.timers, id)
		e.mu.Unlock()
		e.launch(id)
	})
}

// stopTimers ends every wake-up timer (at shutdown).
func (e *Engine) stopTimers() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, t := range e.timers {
		t.Stop()
		delete(e.timers, id)
	}
}

// wakeDeploys makes the runs of the pipeline waiting to deploy to env look
// again now (after a lock or an unlock).
func (e *Engine) wakeDeploys(ctx context.Context, pipeline, env string) {
	runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: pipeline,
		Statuses: []greenlight.RunStatus{greenlight.RunWaiting}, Limit: 1000})
	if err != nil {
		e.cfg.Log.Error("list runs waiting to deploy", "pipeline", pipeline, "err", err)
		return
	}
	for _, run := range runs {
		if s := waitingDeploy(run); s != nil && s.Environment == env {
			e.launch(run.ID)
		}
	}
}

// checkReason refuses an empty or oversized reason of a lock or override.
func checkReason(what, reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", greenlight.Errorf(greenlight.EINVALID, "%s needs a reason: {\"reason\": \"…\"}", what)
	case len(reason) > greenlight.MaxLockReason:
		return "", greenlight.Errorf(greenlight.EINVALID, "reason: at most %d bytes", greenlight.MaxLockReason)
	case strings.ContainsAny(reason, "\x00\r\n"):
		return "", greenlight.Errorf(greenlight.EINVALID, "reason: one line of text, please")
	}
	return reason, nil
}

// environment returns the pipeline's environment or ENOTFOUND.
func (e *Engine) environment(pipeline, env string) (*config.Pipeline, *config.Environment, error) {
	p, err := e.pipeline(pipeline)
	if err != nil {
		return nil, nil, err
	}
	en := p.Environments[env]
	if en == nil {
		return nil, nil, greenlight.Errorf(greenlight.ENOTFOUND, "pipeline %s has no environment %q", pipeline, env)
	}
	return p, en, nil
}

// Lock holds every deploy to the environment until Unlock. by is who asks.
// ECONFLICT if it is locked already (the lock in force is not changed).
func (e *Engine) Lock(ctx context.Context, pipeline, env, by, reason string) (*greenlight.EnvironmentLock, error) {
	p, en, err := e.environment(pipeline, env)
	if err != nil {
		return nil, err
	}
	if reason, err = checkReason("a lock", reason); err != nil {
		return nil, err
	}
	l := &greenlight.EnvironmentLock{Pipeline: p.Name, Environment: en.Name, Reason: reason, By: by, At: e.cfg.Now()}
	ok, err := e.cfg.Store.LockEnvironment(ctx, l)
	if err != nil {
		return nil, err
	}
	if !ok {
		cur, err := e.cfg.Store.EnvironmentLock(ctx, p.Name, en.Name)
		if err != nil {
			return nil, greenlight.Errorf(greenlight.ECONFLICT, "%s is locked already", en.Name)
		}
		return nil, greenlight.Errorf(greenlight.ECONFLICT, "%s is locked already by %s since %s: %s",
			en.Name, cur.By, cur.At.UTC().Format(time.RFC3339), cur.Reason)
	}
	e.cfg.Log.Info("environment locked", "pipeline", p.Name, "environment", en.Name, "by", by, "reason", reason)
	// Deploys waiting for a window now wait for the lock: say so.
	e.wakeDeploys(e.background(ctx), p.Name, en.Name)
	return l, nil
}

// Unlock removes the environment's lock and starts the deploys it held that
// the windows and freezes allow. ECONFLICT if it was not locked.
func (e *Engine) Unlock(ctx context.Context, pipeline, env, by string) error {
	p, en, err := e.environment(pipeline, env)
	if err != nil {
		return err
	}
	ok, err := e.cfg.Store.UnlockEnvironment(ctx, p.Name, en.Name)
	if err != nil {
		return err
	}
	if !ok {
		return greenlight.Errorf(greenlight.ECONFLICT, "%s is not locked", en.Name)
	}
	e.cfg.Log.Info("environment unlocked", "pipeline", p.Name, "environment", en.Name, "by", by)
	e.wakeDeploys(e.background(ctx), p.Name, en.Name)
	return nil
}

// DeployGate says whether a deploy to the environment may start now, and
// if not, why and when it may.
func (e *Engine) DeployGate(ctx context.Context, pipeline, env string) (*greenlight.DeployGate, error) {
	p, en, err := e.environment(pipeline, env)
	if err != nil {
		return nil, err
	}
	now := e.cfg.Now()
	g := &greenlight.DeployGate{}
	policy := en.Policy()
	if !policy.Empty() {
		if next, ok := policy.Next(now); ok {
			next = next.In(policy.Zone(next))
			g.Next = &next
		}
	}
	g.Hold = policy.Hold(now)
	l, err := e.cfg.Store.EnvironmentLock(ctx, p.Name, en.Name)
	switch {
	case err == nil:
		g.Lock, g.Hold = l, l.Hold()
	case greenlight.ErrorCode(err) != greenlight.ENOTFOUND:
		return nil, err
	}
	return g, nil
}

// Override starts a deploy that its environment's windows, freezes or lock
// hold, now. by is who asks; reason is required. The override is recorded
// as a deploy.overridden event, in the stage's log and in the server log.
// ECONFLICT if the run is not waiting on a window, freeze or lock.
func (e *Engine) Override(ctx context.Context, id int64, by, reason string) (*greenlight.Run, error) {
	reason, err := checkReason("an override", reason)
	if err != nil {
		return nil, err
	}
	var conflict *greenlight.Error
	var ov greenlight.Override
	run, err := e.change(ctx, id, func(_ greenlight.Tx, run *greenlight.Run, em *emitter) error {
		s := waitingDeploy(run)
		if run.Status != greenlight.RunWaiting || s == nil {
			what := "is " + string(run.Status)
			if run.Status == greenlight.RunWaiting {
				what = "waits for an approval, not for a deploy window, freeze or lock"
			}
			conflict = greenlight.Errorf(greenlight.ECONFLICT, "run %d %s: there is nothing to override", id, what)
			return errNoChange
		}
		ov = greenlight.Override{Stage: s.Name, Environment: s.Environment, By: by, Reason: reason, Held: s.Reason}
		// Running, with its start taken back: execute starts it for real
		// (and counts that start), and a running deploy stage is never
		// held again. The override's event stands for this start.
		if _, err := run.StartStage(s.Name, e.cfg.Now()); err != nil {
			return err
		}
		if err := run.TakeBackStart(ov.Stage); err != nil {
			return err
		}
		em.add(ov)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if conflict != nil {
		return nil, conflict
	}
	e.cfg.Log.Info("deploy hold overridden", "run", id, "stage", ov.Stage, "environment", ov.Environment,
		"by", by, "reason", reason, "held", ov.Held)
	if out, err := e.cfg.Logs.Create(id, ov.Stage); err == nil {
		fmt.Fprintf(out, "==> %s overrode the hold (%s): %s\n", by, ov.Held, reason)
		out.Close()
	}
	e.launch(id)
	return run, nil
}
