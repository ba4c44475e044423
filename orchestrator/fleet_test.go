package orchestrator

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/artifact"
	"github.com/greenlight-cd/greenlight/config"
)

// hangingStart is a start hook that says it began, then waits forever.
var hangingStart = greenlight.Hooks{Start: "touch started; while :; do sleep 0.05; done"}

// TestCancelDuringDeploy: cancelling a run mid-deploy rolls every target
// back; the run ends cancelled and the release says what each target did.
func TestCancelDuringDeploy(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3, config.Strategy{Type: config.StrategyAllAtOnce})
	e := f.start()
	v1 := f.deploy("v1", greenlight.Hooks{})
	if r := f.waitRun(v1.ID); r.Status != greenlight.RunSucceeded {
		t.Fatalf("v1: %s %s", r.Status, r.Error)
	}
	v2 := f.deploy("v2", hangingStart)
	// Cancelled once every target runs the start hook: each was changed.
	eventually(t, "v2's start hook runs on every target", func() bool {
		for _, tg := range f.env.Targets {
			if _, err := os.Stat(filepath.Join(tg.Local, "releases", strconv.FormatInt(v2.ID, 10), "started")); err != nil {
				return false
			}
		}
		return true
	})
	// Meanwhile the release shows the fleet's progress.
	if rel := f.history()[0]; rel.Status != greenlight.ReleaseDeploying || len(rel.Targets) != 3 {
		t.Errorf("release during the deploy = %s %+v, want deploying with 3 targets", rel.Status, rel.Targets)
	}
	if _, err := e.Cancel(context.Background(), v2.ID); err != nil {
		t.Fatal(err)
	}
	run := f.waitRun(v2.ID)
	if run.Status != greenlight.RunCancelled {
		t.Errorf("run is %s, want cancelled", run.Status)
	}
	var rel *greenlight.Release
	eventually(t, "the release is recorded rolled back", func() bool {
		rel = f.history()[0]
		return rel.Status != greenlight.ReleaseDeploying
	})
	if rel.RunID != v2.ID || rel.Status != greenlight.ReleaseRolledBack {
		t.Errorf("release = run %d %s (%s), want run %d rolled-back", rel.RunID, rel.Status, rel.Error, v2.ID)
	}
	if got := outcomes(rel); got != "target0=rolled-back target1=rolled-back target2=rolled-back" {
		t.Errorf("target outcomes = %s: %+v\n%s", got, rel.Targets, f.stageLog(v2.ID, "production"))
	}
	for i := range 3 {
		if v := f.version(i); v != "v1" {
			t.Errorf("target %d serves %q, want v1", i, v)
		}
	}
	if live := f.history()[1]; live.RunID != v1.ID || live.Status != greenlight.ReleaseLive {
		t.Errorf("v1's release = %s, want still live", live.Status)
	}
	if log := f.stageLog(v2.ID, "production"); !strings.Contains(log, "target "+f.env.Targets[0].Local+": rolled-back") {
		t.Errorf("the stage log does not say what happened on each target:\n%s", log)
	}
}

// TestResumeAfterCrash: a deploy cut off with some targets live and one
// installing is resumed by the next start, as the same release.
func TestResumeAfterCrash(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyAllAtOnce})
	ctx := context.Background()
	now := f.clock.Now()
	run := f.store(&greenlight.Run{Pipeline: "hello", Status: greenlight.RunRunning, Trigger: greenlight.TriggerAPI,
		Commit: greenlight.Commit{SHA: strings.Repeat("c", 40)}, Artifact: f.pack("v1"), CreatedAt: now,
		Stages: []greenlight.Stage{{Name: "production", Type: greenlight.StageDeploy, Environment: "production",
			Status: greenlight.StageRunning, StartedAt: &now, Attempts: 1}}})
	rel := f.release(run, greenlight.ReleaseDeploying)
	for i, phase := range []string{greenlight.PhaseLive, greenlight.PhaseInstalling} {
		if err := f.db.SetTargetState(ctx, &greenlight.TargetState{ReleaseID: rel.ID, Target: f.env.Targets[i].Local,
			Position: i, Phase: phase, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	f.start()
	got := f.waitRun(run.ID)
	if got.Status != greenlight.RunSucceeded || got.Stages[0].Attempts != 2 {
		t.Fatalf("run %s (%s), attempts %d; log:\n%s", got.Status, got.Error, got.Stages[0].Attempts, f.stageLog(run.ID, "production"))
	}
	hist := f.history()
	if len(hist) != 1 || hist[0].ID != rel.ID || hist[0].Status != greenlight.ReleaseLive || outcomes(hist[0]) != "target0=live target1=live" {
		t.Errorf("history = %d releases, first %+v; want the one release, live on both targets", len(hist), hist[0])
	}
	if log := f.stageLog(run.ID, "production"); !strings.Contains(log, "resuming the deploy") || !strings.Contains(log, "1 installing, 1 live") {
		t.Errorf("stage log does not say the deploy was resumed from its states:\n%s", log)
	}
	for i := range 2 {
		if v := f.version(i); v != "v1" {
			t.Errorf("target %d serves %q, want v1", i, v)
		}
	}
}

// TestRetirementSkippedWhenActiveAgain: a due retirement of the group that
// serves again (after a rollback) does nothing; one of an environment no
// longer configured is closed too.
func TestRetirementSkippedWhenActiveAgain(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyBlueGreen, KeepOld: time.Minute})
	f.env.Targets[0].Group, f.env.Targets[1].Group = "blue", "green"
	ctx := context.Background()
	run := f.build("v1", greenlight.Hooks{})
	rel := f.release(run, greenlight.ReleaseLive)
	for i, t0 := range f.env.Targets {
		phase := greenlight.PhasePending
		if t0.Group == "blue" {
			phase = greenlight.PhaseLive
		}
		if err := f.db.SetTargetState(ctx, &greenlight.TargetState{ReleaseID: rel.ID, Target: t0.Local, Position: i,
			Group: t0.Group, Phase: phase, UpdatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	blue := &greenlight.Retirement{Pipeline: "hello", Environment: "production", Group: "blue", ReleaseID: rel.ID,
		DueAt: f.clock.Now().Add(time.Minute)}
	gone := &greenlight.Retirement{Pipeline: "hello", Environment: "staging", Group: "blue", ReleaseID: rel.ID,
		DueAt: f.clock.Now().Add(time.Minute)}
	for _, r := range []*greenlight.Retirement{blue, gone} {
		if err := f.db.CreateRetirement(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	f.start()
	time.Sleep(2 * retireInterval)
	if due, _ := f.db.Retirements(ctx, "hello", "production"); len(due) != 1 {
		t.Fatalf("a retirement ran before it was due: %d left", len(due))
	}
	f.clock.Add(time.Minute)
	eventually(t, "both retirements are closed", func() bool {
		due, err := f.db.DueRetirements(ctx, f.clock.Now(), 10)
		return err == nil && len(due) == 0
	})
	if log := f.stageLog(run.ID, "production"); strings.Contains(log, "retiring group") {
		t.Errorf("the active group was retired:\n%s", log)
	}
}

// interrupt stores run v2 as cut off mid-deploy on targets that ran v1:
// target 0 already switched to v2 (on disk too) with the given phase,
// target 1 in phase1. It returns the run and its release.
func (f *fleet) interrupt(v1 *greenlight.Run, status greenlight.RunStatus, phase0, phase1, err1 string) (*greenlight.Run, *greenlight.Release) {
	f.t.Helper()
	ctx := context.Background()
	now := f.clock.Now()
	stage := greenlight.Stage{Name: "production", Type: greenlight.StageDeploy, Environment: "production",
		Status: greenlight.StageRunning, StartedAt: &now, Attempts: 1}
	if status.Terminal() {
		stage.Status, stage.FinishedAt = greenlight.StageCancelled, &now
	}
	v2 := f.store(&greenlight.Run{Pipeline: "hello", Status: status, Trigger: greenlight.TriggerAPI,
		Commit: greenlight.Commit{SHA: strings.Repeat("d", 40)}, Artifact: f.pack("v2"), CreatedAt: now,
		Stages: []greenlight.Stage{stage}})
	name := strconv.FormatInt(v2.ID, 10)
	t0 := f.env.Targets[0].Local
	if err := artifact.Unpack(f.artifacts.Path(v2.Artifact.SHA256), v2.Artifact.SHA256, filepath.Join(t0, "releases", name)); err != nil {
		f.t.Fatal(err)
	}
	os.Remove(filepath.Join(t0, "current"))
	if err := os.Symlink(filepath.Join("releases", name), filepath.Join(t0, "current")); err != nil {
		f.t.Fatal(err)
	}
	if f.version(0) != "v2" {
		f.t.Fatalf("target 0 serves %q, want v2", f.version(0))
	}
	rel := f.release(v2, greenlight.ReleaseDeploying)
	prev := strconv.FormatInt(v1.ID, 10)
	for i, st := range []greenlight.TargetState{{Phase: phase0}, {Phase: phase1, Error: err1}} {
		st.ReleaseID, st.Target, st.Position, st.Previous, st.UpdatedAt = rel.ID, f.env.Targets[i].Local, i, prev, now
		if err := f.db.SetTargetState(ctx, &st); err != nil {
			f.t.Fatal(err)
		}
	}
	return v2, rel
}

// TestRollbackAfterCrash: a deploy cut off while it was failing is rolled
// back by the next start, not resumed; so is one whose run was cancelled.
// Either way every target is back on v1 and the release says so per target.
func TestRollbackAfterCrash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		status         greenlight.RunStatus
		phase1, err1   string
		wantRun        greenlight.RunStatus
		wantRunError   string
		wantReleaseErr string
	}{
		{"failing", greenlight.RunRunning, greenlight.PhaseFailed, "health check: 503 Service Unavailable",
			greenlight.RunFailed, "health check: 503", "while failing (target "},
		{"cancelled", greenlight.RunCancelled, greenlight.PhaseInstalling, "",
			greenlight.RunCancelled, "", "cut off by a server restart; rolled back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFleet(t, 2, config.Strategy{Type: config.StrategyAllAtOnce})
			e := f.start()
			v1 := f.deploy("v1", greenlight.Hooks{})
			if r := f.waitRun(v1.ID); r.Status != greenlight.RunSucceeded {
				t.Fatalf("v1: %s %s", r.Status, r.Error)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			e.Shutdown(ctx) // the "crash": nothing runs while the states are written
			cancel()
			v2, rel := f.interrupt(v1, tt.status, greenlight.PhaseLive, tt.phase1, tt.err1)
			f.start()
			var got *greenlight.Release
			eventually(t, "the interrupted release is rolled back", func() bool {
				got = f.history()[0]
				return got.Status != greenlight.ReleaseDeploying
			})
			run := f.waitRun(v2.ID)
			if run.Status != tt.wantRun || !strings.Contains(run.Error, tt.wantRunError) {
				t.Errorf("run %s (%q), want %s with %q", run.Status, run.Error, tt.wantRun, tt.wantRunError)
			}
			if got.ID != rel.ID || got.Status != greenlight.ReleaseRolledBack || !strings.Contains(got.Error, tt.wantReleaseErr) {
				t.Errorf("release %d %s (%q), want %d rolled-back with %q", got.ID, got.Status, got.Error, rel.ID, tt.wantReleaseErr)
			}
			if o := outcomes(got); !strings.Contains(o, "target0=rolled-back") {
				t.Errorf("target outcomes %s, want target0 rolled back", o)
			}
			for i := range 2 {
				if v := f.version(i); v != "v1" {
					t.Errorf("target %d serves %q, want v1", i, v)
				}
			}
			if live := f.history()[1]; live.RunID != v1.ID || live.Status != greenlight.ReleaseLive {
				t.Errorf("v1's release is %s, want live", live.Status)
			}
		})
	}
}
