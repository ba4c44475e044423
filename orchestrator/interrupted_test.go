package orchestrator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
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
