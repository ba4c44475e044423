package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
)

// TestOtherRunsInterruptedDeployResolvedFirst: after a crash, a run that
// gets the environment's lock before the run whose deploy was cut off rolls
// that deploy back before deploying, so it is neither left "deploying" nor
// undone later over the new release; the cut-off run is then superseded.
func TestOtherRunsInterruptedDeployResolvedFirst(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyAllAtOnce})
	p := f.srv.Pipelines[0]
	p.Mode = config.ModeParallel
	e := f.start()
	v1 := f.deploy("v1", greenlight.Hooks{})
	if r := f.waitRun(v1.ID); r.Status != greenlight.RunSucceeded {
		t.Fatalf("v1: %s %s", r.Status, r.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.Shutdown(ctx) // the "crash"
	cancel()
	v2, rel2 := f.interrupt(v1, greenlight.RunRunning, greenlight.PhaseLive, greenlight.PhaseInstalling, "")
	// v3 was waiting for the lock; after the restart it gets it first. It
	// is stored finished so that only its deploy below runs it.
	now := f.clock.Now()
	v3 := f.store(&greenlight.Run{Pipeline: "hello", Status: greenlight.RunSucceeded, Trigger: greenlight.TriggerAPI,
		Commit:   greenlight.Commit{SHA: fmt.Sprintf("%040x", commits.Add(1)), Branch: "main", Title: "v3"},
		Artifact: f.pack("v3"), CreatedAt: now, FinishedAt: &now,
		Stages: []greenlight.Stage{{Name: "production", Type: greenlight.StageDeploy, Environment: "production",
			Status: greenlight.StageSucceeded}}})
	e = f.newEngine()
	if err := e.deployStage(context.Background(), v3, p, stageConfig(p, "production")); err != nil {
		t.Fatalf("deploy v3: %v; log:\n%s", err, f.stageLog(v3.ID, "production"))
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := f.waitRun(v2.ID); r.Status != greenlight.RunSuperseded {
		t.Errorf("v2 is %s (%s), want superseded; log:\n%s", r.Status, r.Error, f.stageLog(v2.ID, "production"))
	}
	// Wait for any background rollback the start might have begun.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	e.Shutdown(ctx)
	cancel()
	status := map[int64]greenlight.ReleaseStatus{}
	for _, r := range f.history() {
		status[r.RunID] = r.Status
	}
	if status[v2.ID] != greenlight.ReleaseRolledBack || status[v3.ID] != greenlight.ReleaseLive {
		t.Errorf("release %d of v2 is %s, v3's is %s; want rolled-back and live", rel2.ID, status[v2.ID], status[v3.ID])
	}
	for i := range 2 {
		if v := f.version(i); v != "v3" {
			t.Errorf("target %d serves %q, want v3", i, v)
		}
	}
}

func TestFailing(t *testing.T) {
	states := func(phases ...string) []greenlight.TargetState {
		var out []greenlight.TargetState
		for i, p := range phases {
			out = append(out, greenlight.TargetState{Target: fmt.Sprint("t", i), Phase: p})
		}
		return out
	}
	rolling := func(max int) deploy.Strategy { return deploy.Strategy{Type: deploy.Rolling, MaxFailed: max} }
	const (
		live, inst, failed = greenlight.PhaseLive, greenlight.PhaseInstalling, greenlight.PhaseFailed
		rb, rbing          = greenlight.PhaseRolledBack, greenlight.PhaseRollingBack
	)
	tests := []struct {
		name     string
		states   []greenlight.TargetState
		strategy deploy.Strategy
		want     bool
	}{
		{"all-at-once, all live", states(live, inst), deploy.Strategy{}, false},
		{"all-at-once, one failed", states(live, failed), deploy.Strategy{}, true},
		{"canary, one rolled back", states(rb, inst), deploy.Strategy{Type: deploy.Canary}, true},
		{"rolling, none tolerated", states(live, rb), rolling(0), true},
		{"rolling, one tolerated and rolled back", states(live, rb, inst), rolling(1), false},
		{"rolling, one tolerated while rolling back", states(live, rbing, inst), rolling(1), false},
		{"rolling, past max_failed", states(rb, failed, inst), rolling(1), true},
		{"rolling, everything rolling back", states(rbing, rb, failed), rolling(1), true},
	}
	for _, tt := range tests {
		if got := failing(tt.states, tt.strategy); got != tt.want {
			t.Errorf("%s: failing = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestResumeRollingWithinMaxFailed: a rolling deploy cut off after one host
// failed and was rolled back within max_failed is resumed after a restart,
// not rolled back. The host is installed again; that failure still counts
// against max_failed, so if it fails again everything is rolled back.
func TestResumeRollingWithinMaxFailed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		validate string // the validate hook of the resumed release
		wantRun  greenlight.RunStatus
		wantRel  greenlight.ReleaseStatus
		want     string // what both targets serve
	}{
		{"the host passes this time", "", greenlight.RunSucceeded, greenlight.ReleaseLive, "v2"},
		{"the host fails again", "exit 1", greenlight.RunFailed, greenlight.ReleaseRolledBack, "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFleet(t, 2, config.Strategy{Type: config.StrategyRolling, Batch: config.Amount{N: 1}, MaxFailed: 1})
			e := f.start()
			v1 := f.deploy("v1", greenlight.Hooks{})
			if r := f.waitRun(v1.ID); r.Status != greenlight.RunSucceeded {
				t.Fatalf("v1: %s %s", r.Status, r.Error)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			e.Shutdown(ctx) // the "crash"
			cancel()
			v2, rel := f.interrupt(v1, greenlight.RunRunning, greenlight.PhaseLive, greenlight.PhaseRolledBack,
				"health check: 503 Service Unavailable")
			v2.Hooks.Validate = tt.validate
			if err := f.db.UpdateRun(context.Background(), v2); err != nil {
				t.Fatal(err)
			}
			f.start()
			if r := f.waitRun(v2.ID); r.Status != tt.wantRun {
				t.Fatalf("v2 is %s (%s), want %s; log:\n%s", r.Status, r.Error, tt.wantRun, f.stageLog(v2.ID, "production"))
			}
			if got := f.history()[0]; got.ID != rel.ID || got.Status != tt.wantRel {
				t.Errorf("release %d is %s, want %d %s", got.ID, got.Status, rel.ID, tt.wantRel)
			}
			for i := range 2 {
				if v := f.version(i); v != tt.want {
					t.Errorf("target %d serves %q, want %s", i, v, tt.want)
				}
			}
		})
	}
}

// TestSupersededInterruptedDeployClosed: a run whose deploy was cut off and
// over which a newer release already went live is superseded, and its
// release is closed without touching the targets, which serve the newer one.
func TestSupersededInterruptedDeployClosed(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyAllAtOnce})
	e := f.start()
	v1 := f.deploy("v1", greenlight.Hooks{})
	if r := f.waitRun(v1.ID); r.Status != greenlight.RunSucceeded {
		t.Fatalf("v1: %s %s", r.Status, r.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.Shutdown(ctx) // the "crash"
	cancel()
	v2, rel2 := f.interrupt(v1, greenlight.RunRunning, greenlight.PhaseLive, greenlight.PhaseInstalling, "")
	// A newer run went live over it (as an older server allowed): record it
	// so, without deploying, and make v1's release replaced.
	v3 := f.build("v3", greenlight.Hooks{})
	old := f.history()[1]
	old.Status = greenlight.ReleaseReplaced
	if err := f.db.UpdateRelease(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	f.release(v3, greenlight.ReleaseLive)
	f.start()
	if r := f.waitRun(v2.ID); r.Status != greenlight.RunSuperseded {
		t.Errorf("v2 is %s (%s), want superseded; log:\n%s", r.Status, r.Error, f.stageLog(v2.ID, "production"))
	}
	for _, r := range f.history() {
		if r.ID == rel2.ID && (r.Status != greenlight.ReleaseFailed || !strings.Contains(r.Error, "not resumed")) {
			t.Errorf("v2's release is %s (%q), want failed, not resumed", r.Status, r.Error)
		}
	}
	if v := f.version(0); v != "v2" {
		t.Errorf("target 0 serves %q, want v2 left as it was (no rollback)", v)
	}
}
