package orchestrator

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/window"
)

// waitHeld waits until run id waits with want as its reason (run and stage).
func (f *fleet) waitHeld(id int64, want string) *greenlight.Run {
	f.t.Helper()
	var run *greenlight.Run
	eventually(f.t, "run waits: "+want, func() bool {
		var err error
		if run, err = f.db.Run(context.Background(), id); err != nil {
			f.t.Fatal(err)
		}
		if run.Status.Terminal() {
			f.t.Fatalf("run %d ended %s (%s) instead of waiting: %s", id, run.Status, run.Error, want)
		}
		s := run.Stage("production")
		return run.Status == greenlight.RunWaiting && run.Reason == want && s.Status == greenlight.StageWaiting && s.Reason == want
	})
	return run
}

func (f *fleet) succeeded(id int64) *greenlight.Run {
	f.t.Helper()
	run := f.waitRun(id)
	if run.Status != greenlight.RunSucceeded {
		f.t.Fatalf("run %d: %s %s", id, run.Status, run.Error)
	}
	if s := run.Stage("production"); s.Reason != "" || run.Reason != "" || s.Attempts != 1 {
		f.t.Errorf("after the deploy: run reason %q, stage reason %q, attempts %d; want no reasons and 1 attempt", run.Reason, s.Reason, s.Attempts)
	}
	return run
}

// The fleet's clock is Wednesday 2026-03-04 05:06:07 UTC.
var thursdays = window.Window{Days: [7]bool{time.Thursday: true}, From: 9 * 60, To: 16 * 60, Location: time.UTC}

func TestDeployWaitsForWindowUntilOverride(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, config.Strategy{Type: config.StrategyAllAtOnce})
	f.env.Windows = []window.Window{thursdays}
	e := f.start()
	ctx := context.Background()
	run := f.deploy("v1", greenlight.Hooks{})
	f.waitHeld(run.ID, "outside the deploy windows; the next opens Thu 09:00 UTC")

	// Looking again changes nothing while the window is closed.
	if err := e.sweep(ctx, []*greenlight.Run{run}); err != nil {
		t.Fatal(err)
	}
	f.waitHeld(run.ID, "outside the deploy windows; the next opens Thu 09:00 UTC")

	if _, err := e.Override(ctx, run.ID, "admin", "  "); greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Errorf("override without a reason: %v, want EINVALID", err)
	}
	if _, err := e.Override(ctx, run.ID, "admin", "hotfix for incident 7"); err != nil {
		t.Fatal(err)
	}
	f.succeeded(run.ID)
	if got := f.version(0); got != "v1" {
		t.Errorf("target serves %q, want v1", got)
	}
	if log := f.stageLog(run.ID, "production"); !strings.Contains(log, "admin overrode the hold (outside the deploy windows; the next opens Thu 09:00 UTC): hotfix for incident 7") {
		t.Errorf("stage log does not record the override:\n%s", log)
	}
	events, err := f.db.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ov *greenlight.Override
	for _, ev := range events {
		if ev.Type == greenlight.EventDeployOverridden && ev.RunID == run.ID {
			ov = &greenlight.Override{}
			if err := json.Unmarshal(ev.Data, ov); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := greenlight.Override{Stage: "production", Environment: "production", By: "admin", Reason: "hotfix for incident 7",
		Held: "outside the deploy windows; the next opens Thu 09:00 UTC"}
	if ov == nil || *ov != want {
		t.Errorf("deploy.overridden event = %+v, want %+v", ov, want)
	}
	// A run that waits for nothing has nothing to override.
	if _, err := e.Override(ctx, run.ID, "admin", "again"); greenlight.ErrorCode(err) != greenlight.ECONFLICT {
		t.Errorf("override of a finished run: %v, want ECONFLICT", err)
	}
}

// A freeze ending in a moment: the timer starts the deploy when it ends,
// without anyone looking.
func TestDeployWaitsForFreezeThenStartsOnItsOwn(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, config.Strategy{Type: config.StrategyAllAtOnce})
	now := f.clock.Now()
	f.env.Freezes = []window.Freeze{{From: now.Add(-time.Hour), To: now.Add(300 * time.Millisecond), Reason: "holidays"}}
	f.start()
	run := f.deploy("v1", greenlight.Hooks{})
	f.waitHeld(run.ID, "frozen until 2026-03-04 05:06 +00:00: holidays")
	f.clock.Add(time.Second)
	start := time.Now()
	f.succeeded(run.ID)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the deploy started %s after the freeze ended: the timer did not fire (the sweep did)", d)
	}
}

func TestDeployWaitsForLockUntilUnlock(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, config.Strategy{Type: config.StrategyAllAtOnce})
	f.env.Windows = []window.Window{thursdays}
	e := f.start()
	ctx := context.Background()
	if _, err := e.Lock(ctx, "hello", "production", "admin", ""); greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Errorf("lock without a reason: %v, want EINVALID", err)
	}
	if _, err := e.Lock(ctx, "hello", "nowhere", "admin", "x"); greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
		t.Errorf("lock of an unknown environment: %v, want ENOTFOUND", err)
	}
	if err := e.Unlock(ctx, "hello", "production", "admin"); greenlight.ErrorCode(err) != greenlight.ECONFLICT {
		t.Errorf("unlock of an unlocked environment: %v, want ECONFLICT", err)
	}
	run := f.deploy("v1", greenlight.Hooks{})
	f.waitHeld(run.ID, "outside the deploy windows; the next opens Thu 09:00 UTC")

	// A lock taken while a deploy waits for a window: it now waits for the lock.
	if _, err := e.Lock(ctx, "hello", "production", "admin", "incident 123"); err != nil {
		t.Fatal(err)
	}
	f.waitHeld(run.ID, "production is locked by admin: incident 123")
	if _, err := e.Lock(ctx, "hello", "production", "ops", "other"); greenlight.ErrorCode(err) != greenlight.ECONFLICT ||
		!strings.Contains(err.Error(), "locked already by admin") {
		t.Errorf("second lock: %v, want ECONFLICT naming the first", err)
	}
	gate, err := e.DeployGate(ctx, "hello", "production")
	if err != nil {
		t.Fatal(err)
	}
	if gate.Lock == nil || gate.Lock.Reason != "incident 123" || gate.Hold != "production is locked by admin: incident 123" ||
		gate.Next == nil || gate.Next.Format(time.RFC3339) != "2026-03-05T09:00:00Z" {
		t.Errorf("gate = %+v", gate)
	}

	// Thursday 10:00: the window is open, the lock still holds.
	f.clock.Add(29 * time.Hour)
	if err := e.sweep(ctx, []*greenlight.Run{run}); err != nil {
		t.Fatal(err)
	}
	f.waitHeld(run.ID, "production is locked by admin: incident 123")
	if err := e.Unlock(ctx, "hello", "production", "admin"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.succeeded(run.ID)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the deploy started %s after the unlock: the unlock did not wake it", d)
	}
}

// A rollback is never held; a deploy held when the server stops is started
// by the next server once its environment allows it.
func TestRollbackNotHeldAndHoldSurvivesRestart(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, config.Strategy{Type: config.StrategyAllAtOnce})
	e := f.start()
	ctx := context.Background()
	v1 := f.deploy("v1", greenlight.Hooks{})
	f.succeeded(v1.ID)
	if _, err := e.Lock(ctx, "hello", "production", "admin", "incident 9"); err != nil {
		t.Fatal(err)
	}
	v2 := f.deploy("v2", greenlight.Hooks{})
	f.waitHeld(v2.ID, "production is locked by admin: incident 9")

	// Stop, unlock behind the server's back, start again.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	e.Shutdown(sctx)
	cancel()
	if ok, err := f.db.UnlockEnvironment(ctx, "hello", "production"); err != nil || !ok {
		t.Fatalf("unlock: %v %v", ok, err)
	}
	f.start()
	f.succeeded(v2.ID)
	if got := f.version(0); got != "v2" {
		t.Errorf("target serves %q, want v2", got)
	}

	// Locked again: a rollback to v1 goes through.
	e = f.engine
	if _, err := e.Lock(ctx, "hello", "production", "admin", "incident 10"); err != nil {
		t.Fatal(err)
	}
	back := f.store(&greenlight.Run{Pipeline: "hello", Status: greenlight.RunQueued, Trigger: greenlight.TriggerRollback,
		Commit: v1.Commit, Artifact: v1.Artifact, CreatedAt: f.clock.Now(),
		Stages: []greenlight.Stage{{Name: "production", Type: greenlight.StageDeploy, Environment: "production",
			Status: greenlight.StagePending}}})
	e.launch(back.ID)
	f.succeeded(back.ID)

	if got := f.version(0); got != "v1" {
		t.Errorf("after the rollback the target serves %q, want v1", got)
	}
}
