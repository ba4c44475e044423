package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// TestStageCutOffTwiceFails: a build found running at startup is run again
// the first time (its start is counted), and given up on the second time:
// a build file that crashes the server must not crash it at every start.
func TestStageCutOffTwiceFails(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		starts   int
		giveUp   bool
		attempts int // after the start
	}{
		{starts: 1, giveUp: false, attempts: 2},
		{starts: 2, giveUp: true, attempts: 2},
		{starts: 5, giveUp: true, attempts: 5},
	} {
		t.Run(fmt.Sprintf("started %d times", tt.starts), func(t *testing.T) {
			t.Parallel()
			f := newFleet(t, 1, config.Strategy{Type: config.StrategyAllAtOnce})
			now := f.clock.Now()
			run := f.store(&greenlight.Run{Pipeline: "hello", Status: greenlight.RunRunning, Trigger: greenlight.TriggerAPI,
				Commit: greenlight.Commit{SHA: fmt.Sprintf("%040x", commits.Add(1)), Branch: "main", Title: "t"}, CreatedAt: now,
				Stages: []greenlight.Stage{
					{Name: "build", Type: greenlight.StageBuild, Status: greenlight.StageRunning, StartedAt: &now, Attempts: tt.starts},
					{Index: 1, Name: "production", Type: greenlight.StageDeploy, Environment: "production", Status: greenlight.StagePending},
				}})
			f.start()
			got := f.waitRun(run.ID)
			build := got.Stage("build")
			gaveUp := strings.Contains(build.Error, "the server stopped twice while running this stage (crashed or killed); not trying again")
			if got.Status != greenlight.RunFailed || build.Status != greenlight.StageFailed || gaveUp != tt.giveUp {
				t.Errorf("run %s, build %s (%q); want failed, given up: %v", got.Status, build.Status, build.Error, tt.giveUp)
			}
			if tt.giveUp && !strings.HasPrefix(got.Error, "build: the server stopped twice") {
				t.Errorf("run error %q, want the stage's reason", got.Error)
			}
			if build.Attempts != tt.attempts {
				t.Errorf("build started %d times, want %d", build.Attempts, tt.attempts)
			}
		})
	}
}

// TestDeployCutOffTwiceRolledBack: a deploy given up on is rolled back, as
// any deploy whose run ended while it was cut off.
func TestDeployCutOffTwiceRolledBack(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyAllAtOnce})
	f.start()
	v1 := f.deploy("v1", greenlight.Hooks{})
	if r := f.waitRun(v1.ID); r.Status != greenlight.RunSucceeded {
		t.Fatalf("v1: %s %s", r.Status, r.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	f.engine.Shutdown(ctx)
	cancel()
	v2, rel := f.interrupt(v1, greenlight.RunRunning, greenlight.PhaseLive, greenlight.PhaseInstalling, "")
	run, err := f.db.Run(context.Background(), v2.ID)
	if err != nil {
		t.Fatal(err)
	}
	run.Stages[0].Attempts = 2
	if err := f.db.UpdateRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	e := f.start()
	if r := f.waitRun(v2.ID); r.Status != greenlight.RunFailed || !strings.Contains(r.Error, "stopped twice") {
		t.Errorf("v2 is %s (%s), want failed: stopped twice", r.Status, r.Error)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	e.Shutdown(ctx) // waits for the background rollback
	cancel()
	for _, r := range f.history() {
		if r.ID == rel.ID && r.Status != greenlight.ReleaseRolledBack {
			t.Errorf("v2's release is %s, want rolled-back", r.Status)
		}
	}
	if f.version(0) != "v1" || f.version(1) != "v1" {
		t.Errorf("targets serve %q, %q; want v1", f.version(0), f.version(1))
	}
}

// TestOrderlyShutdownDoesNotCount: a stage cut off by Shutdown (not a
// crash) takes its start back.
func TestOrderlyShutdownDoesNotCount(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, config.Strategy{Type: config.StrategyAllAtOnce})
	e := f.start()
	run := f.deploy("v1", greenlight.Hooks{Start: "sleep 30"})
	eventually(t, "the deploy runs", func() bool {
		r, err := f.db.Run(context.Background(), run.ID)
		return err == nil && r.Stages[0].Status == greenlight.StageRunning
	})
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	e.Shutdown(ctx)
	cancel()
	got, err := f.db.Run(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Stages[0]; s.Status != greenlight.StageRunning || s.Attempts != 0 {
		t.Errorf("stage %s after %d counted starts, want running after 0", s.Status, s.Attempts)
	}
}
