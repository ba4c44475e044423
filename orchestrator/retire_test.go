package orchestrator

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// crashAfterCommit is a store whose writes outside a transaction fail
// (here: CreateRetirement), as if the server died right after the live
// release's transaction committed.
type crashAfterCommit struct {
	greenlight.Store
}

func (crashAfterCommit) CreateRetirement(context.Context, *greenlight.Retirement) error {
	return errors.New("the server is gone")
}

// TestRetirementWrittenWithLiveRelease: the old group's retirement is
// stored in the transaction that makes the new release live, so no write
// after that commit can lose it.
func TestRetirementWrittenWithLiveRelease(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyBlueGreen, KeepOld: time.Hour})
	f.env.Targets[0].Group, f.env.Targets[1].Group = "blue", "green"
	for i := range f.env.Targets {
		f.env.Targets[i].Env = map[string]string{"PORT": strconv.Itoa(8000 + i)} // never dialled
	}
	f.env.Router = &config.Router{Type: "command", Switch: "true"} // traffic is not what this test is about
	f.wrap = func(s greenlight.Store) greenlight.Store { return crashAfterCommit{s} }
	f.start()
	for _, v := range []string{"v1", "v2"} {
		if r := f.waitRun(f.deploy(v, greenlight.Hooks{}).ID); r.Status != greenlight.RunSucceeded {
			t.Fatalf("%s: %s %s; log:\n%s", v, r.Status, r.Error, f.stageLog(r.ID, "production"))
		}
	}
	hist := f.history()
	old := hist[1]
	rets, err := f.db.Retirements(context.Background(), "hello", "production")
	if err != nil {
		t.Fatal(err)
	}
	if len(rets) != 1 || rets[0].ReleaseID != old.ID || rets[0].Group != activeGroup(old) {
		t.Fatalf("retirements = %+v, want one of release %d's group %s", rets, old.ID, activeGroup(old))
	}
}

// TestRetirementNotHeldUpByBusyEnvironment: a due retirement whose
// environment is locked by a deploy waits without holding up the
// retirements of other environments, and is carried out once the lock is
// free.
func TestRetirementNotHeldUpByBusyEnvironment(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyBlueGreen, KeepOld: time.Minute})
	f.env.Targets[0].Group, f.env.Targets[1].Group = "blue", "green"
	ctx := context.Background()
	run := f.build("v1", greenlight.Hooks{})
	rel := f.release(run, greenlight.ReleaseLive)
	if err := f.db.SetTargetState(ctx, &greenlight.TargetState{ReleaseID: rel.ID, Target: f.env.Targets[0].Local,
		Group: "blue", Phase: greenlight.PhaseLive, UpdatedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	// The busy environment's retirement is due first, so a loop working
	// one at a time would wait on it before the other.
	busy := &greenlight.Retirement{Pipeline: "hello", Environment: "production", Group: "blue", ReleaseID: rel.ID,
		DueAt: f.clock.Now()}
	other := &greenlight.Retirement{Pipeline: "hello", Environment: "staging", Group: "blue", ReleaseID: rel.ID,
		DueAt: f.clock.Now().Add(time.Second)}
	for _, r := range []*greenlight.Retirement{busy, other} {
		if err := f.db.CreateRetirement(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	e := f.start()
	unlock, err := e.envLock(ctx, "hello", "production") // a long deploy
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Minute)
	eventually(t, "the other environment's retirement is closed", func() bool {
		left, err := f.db.Retirements(ctx, "hello", "staging")
		return err == nil && len(left) == 0
	})
	if left, _ := f.db.Retirements(ctx, "hello", "production"); len(left) != 1 {
		t.Fatalf("the locked environment's retirement ran: %d left", len(left))
	}
	unlock()
	eventually(t, "the locked environment's retirement is closed once the lock is free", func() bool {
		left, err := f.db.Retirements(ctx, "hello", "production")
		return err == nil && len(left) == 0
	})
}

func TestRetireBackoff(t *testing.T) {
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{3, 8 * time.Second},
		{8, 256 * time.Second},
		{9, maxRetireBackoff},
		{1000, maxRetireBackoff},
	}
	for _, tt := range tests {
		if got := retireBackoff(tt.failures); got != tt.want {
			t.Errorf("retireBackoff(%d) = %s, want %s", tt.failures, got, tt.want)
		}
	}
}

// countRetireQueries counts the queries by which retireLoop looks for work.
type countRetireQueries struct {
	greenlight.Store
	n *atomic.Int64
}

func (s countRetireQueries) DueRetirements(ctx context.Context, now time.Time, limit int) ([]*greenlight.Retirement, error) {
	s.n.Add(1)
	return s.Store.DueRetirements(ctx, now, limit)
}

func (s countRetireQueries) NextRetirement(ctx context.Context, after time.Time) (time.Time, error) {
	s.n.Add(1)
	return s.Store.NextRetirement(ctx, after)
}

// TestRetireLoopWaitsForDueTime: on the wall clock, an idle retire loop
// asks the store nothing; storing a retirement with its live release wakes
// it at once; a retirement due at T is carried out at T, with no query in
// between.
func TestRetireLoopWaitsForDueTime(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyBlueGreen, KeepOld: time.Minute})
	f.env.Targets[0].Group, f.env.Targets[1].Group = "blue", "green"
	f.clock.wall = true
	var n atomic.Int64
	f.wrap = func(s greenlight.Store) greenlight.Store { return countRetireQueries{s, &n} }
	ctx := context.Background()
	run := f.build("v1", greenlight.Hooks{})
	rel := f.release(run, greenlight.ReleaseLive)
	e := f.start()

	time.Sleep(300 * time.Millisecond) // the first look, at start
	before := n.Load()
	time.Sleep(2 * time.Second)
	if got := n.Load() - before; got != 0 {
		t.Errorf("idle for 2s: %d queries for due retirements, want 0", got)
	}

	due := time.Now().Add(1500 * time.Millisecond)
	before = n.Load()
	ret := &greenlight.Retirement{Pipeline: "hello", Environment: "production", Group: "blue", ReleaseID: rel.ID, DueAt: due}
	if err := e.recordRelease(ctx, rel, ret); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(200 * time.Millisecond)
	for n.Load() == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n.Load() == before {
		t.Fatal("storing a retirement did not wake the loop within 200ms")
	}
	time.Sleep(100 * time.Millisecond)
	woken := n.Load()
	closed := func() bool {
		left, err := f.db.Retirements(ctx, "hello", "production")
		return err == nil && len(left) == 0
	}
	time.Sleep(time.Until(due.Add(-200 * time.Millisecond)))
	if closed() {
		t.Fatalf("retired %s before it was due", time.Until(due))
	}
	if got := n.Load() - woken; got != 0 {
		t.Errorf("waiting for the retirement due at T: %d queries before T, want 0", got)
	}
	for !closed() {
		if time.Now().After(due.Add(5 * time.Second)) {
			t.Fatal("not retired within 5s of its due time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if late := time.Since(due); late > 400*time.Millisecond {
		t.Errorf("retired %s after its due time, want within 400ms", late)
	} else {
		t.Logf("retired %s after its due time", late)
	}
}
