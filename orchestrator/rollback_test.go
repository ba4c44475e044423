package orchestrator

import (
	"context"
	"os"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

func TestRollbackRules(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, config.Strategy{Type: config.StrategyAllAtOnce})
	e := f.start()
	ctx := context.Background()
	code := func(err error) string {
		if err == nil {
			return "ok"
		}
		if c := greenlight.ErrorCode(err); c != "" && c != greenlight.EINTERNAL {
			return c
		}
		return "internal: " + err.Error()
	}
	if _, err := e.Rollback(ctx, "hello", "production", 0); code(err) != greenlight.ECONFLICT {
		t.Fatalf("nothing deployed: got %v, want a conflict", err)
	}
	never := f.build("never", greenlight.Hooks{})
	gone := f.build("gone", greenlight.Hooks{})
	f.release(gone, greenlight.ReleaseReplaced)
	if err := os.Remove(f.artifacts.Path(gone.Artifact.SHA256)); err != nil {
		t.Fatal(err)
	}
	v1 := f.build("v1", greenlight.Hooks{})
	f.release(v1, greenlight.ReleaseReplaced)
	failed := f.build("failed", greenlight.Hooks{})
	f.release(failed, greenlight.ReleaseRolledBack)
	v2 := f.build("v2", greenlight.Hooks{})
	f.release(v2, greenlight.ReleaseLive)

	tests := []struct {
		name     string
		pipeline string
		env      string
		run      int64
		want     string
	}{
		{"unknown pipeline", "nope", "production", 0, greenlight.ENOTFOUND},
		{"unknown environment", "hello", "moon", 0, greenlight.ENOTFOUND},
		{"unknown run", "hello", "production", 9999, greenlight.ENOTFOUND},
		{"run never deployed there", "hello", "production", never.ID, greenlight.ECONFLICT},
		{"run whose deploy failed", "hello", "production", failed.ID, greenlight.ECONFLICT},
		{"artifact gone", "hello", "production", gone.ID, greenlight.ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Rollback(ctx, tt.pipeline, tt.env, tt.run)
			if got := code(err); got != tt.want {
				t.Errorf("got %s (%v), want %s", got, err, tt.want)
			}
		})
	}

	// A deploy under way refuses a rollback.
	busy := f.build("busy", greenlight.Hooks{})
	rel := f.release(busy, greenlight.ReleaseDeploying)
	if _, err := e.Rollback(ctx, "hello", "production", 0); code(err) != greenlight.ECONFLICT {
		t.Errorf("during a deploy: got %v, want a conflict", err)
	}
	rel.Status = greenlight.ReleaseFailed
	if err := f.db.UpdateRelease(ctx, rel); err != nil {
		t.Fatal(err)
	}

	// {} picks the release live before the current one (v1: the rolled-back
	// one never went live), and deploys it with a new run.
	run, err := e.Rollback(ctx, "hello", "production", 0)
	if err != nil {
		t.Fatal(err)
	}
	if run.Trigger != greenlight.TriggerRollback || run.Commit.SHA != v1.Commit.SHA || *run.Artifact != *v1.Artifact ||
		len(run.Stages) != 1 || run.Stages[0].Name != "production" {
		t.Fatalf("rollback run = %+v", run)
	}
	// A second request while that one is under way is refused.
	if _, err := e.Rollback(ctx, "hello", "production", 0); code(err) != greenlight.ECONFLICT {
		t.Errorf("while a rollback is under way: got %v, want a conflict", err)
	}
	if got := f.waitRun(run.ID); got.Status != greenlight.RunSucceeded {
		t.Fatalf("rollback run %s: %s\n%s", got.Status, got.Error, f.stageLog(run.ID, "production"))
	}
	if v := f.version(0); v != "v1" {
		t.Errorf("target serves %q after the rollback, want v1", v)
	}
	hist := f.history()
	if hist[0].RunID != run.ID || hist[0].Status != greenlight.ReleaseLive || hist[0].Artifact != v1.Artifact.SHA256 ||
		outcomes(hist[0]) != "target0=live" {
		t.Errorf("newest release = %+v, want the rollback run's, live on every target", hist[0])
	}

	// {"run": v2} deploys v2 again; then {} goes back to v1's bits.
	again, err := e.Rollback(ctx, "hello", "production", v2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.waitRun(again.ID); got.Status != greenlight.RunSucceeded || f.version(0) != "v2" {
		t.Fatalf("redeploy of v2: run %s (%s), target serves %q", got.Status, got.Error, f.version(0))
	}
	back, err := e.Rollback(ctx, "hello", "production", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.waitRun(back.ID); got.Status != greenlight.RunSucceeded || f.version(0) != "v1" {
		t.Fatalf("rollback after a redeploy: run %s (%s), target serves %q", got.Status, got.Error, f.version(0))
	}
	if rel := f.history()[0]; rel.RunID != back.ID || rel.Commit != v1.Commit.SHA {
		t.Errorf("history records the rollback as release of run %d (%s), want run %d with v1's commit", rel.RunID, rel.Commit, back.ID)
	}
}
