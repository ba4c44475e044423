package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// interrupted puts release 2 on the first n targets of f only, as a deploy
// cut off after them would have left them.
func interrupted(t *testing.T, d *Deployer, f *fleet, n int) {
	t.Helper()
	req := f.request(t, "2", "v2")
	req.Targets = req.Targets[:n]
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatalf("partial deploy: %v", err)
	}
	f.log.mu.Lock()
	f.log.buf.Reset()
	f.log.mu.Unlock()
}

func TestResumeFromStoredStates(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3)
	d := New(nil)
	deployAll(t, d, f)
	interrupted(t, d, f, 2)
	req := f.request(t, "2", "v2")
	// t0 was stored live; t1 got as far as switching `current` (it says 2
	// now) but was stored installing; t2 was not reached.
	req.Resume = []TargetState{
		{Target: f.envs[0].dir, Phase: PhaseLive, Previous: "1"},
		{Target: f.envs[1].dir, Phase: PhaseInstalling, Previous: "1"},
		{Target: f.envs[2].dir, Phase: PhasePending},
	}
	rec := &recorder{}
	req.Progress = rec.progress
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	f.mustRun(t, repeat("2", 3), repeat("v2", 3))
	log := f.log.String()
	for _, want := range []string{
		"[" + f.envs[0].dir + "] release 2 is already live and healthy here",
		"[" + f.envs[1].dir + "] installing release 2 (previous: release 1)",
		"[" + f.envs[2].dir + "] installing release 2 (previous: release 1)",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("stage log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "["+f.envs[0].dir+"] installing") {
		t.Errorf("the target stored live was installed again:\n%s", log)
	}
	for _, s := range rec.states {
		if s.Phase != PhasePending && s.Previous != "1" {
			t.Errorf("state %+v, want Previous 1 for every target", s)
		}
	}
	if got := rec.phases(f); !slices.Contains(got, "t2:pending") || slices.Contains(got, "t0:pending") {
		t.Errorf("phases = %v, want pending reported for the unreached target only", got)
	}
}

// A resumed target stored live whose app is gone is installed again.
func TestResumeRedoesUnhealthyLiveTarget(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1)
	d := New(nil)
	deployAll(t, d, f)
	interrupted(t, d, f, 1)
	killProcess(readPID(filepath.Join(f.envs[0].dir, "releases", "2", "app.pid")))
	req := f.request(t, "2", "v2")
	req.Health.Timeout = 500_000_000
	req.Resume = []TargetState{{Target: f.envs[0].dir, Phase: PhaseLive, Previous: "1"}}
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, f.envs[0].port, "v2")
	if !strings.Contains(f.log.String(), "installing release 2 (previous: release 1)") {
		t.Errorf("the unhealthy target was not installed again:\n%s", f.log)
	}
}

func TestRollbackFromStoredStates(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3)
	d := New(nil)
	deployAll(t, d, f)
	untouchedPID := readPID(filepath.Join(f.envs[2].dir, "releases", "1", "app.pid"))
	interrupted(t, d, f, 2)
	out := filepath.Join(t.TempDir(), "weights")
	req := f.request(t, "2", "v2")
	req.Archive, req.Digest, req.Hooks = "", "", appHooks
	req.Router = &Router{Type: RouterCommand, Switch: `echo "$GREENLIGHT_WEIGHTS" >> ` + out}
	req.Parallel = 1
	req.Resume = []TargetState{
		{Target: f.envs[0].dir, Phase: PhaseLive, Previous: "1"},
		{Target: f.envs[1].dir, Phase: PhaseInstalling, Previous: "1"},
		{Target: f.envs[2].dir, Phase: PhasePending},
	}
	rec := &recorder{}
	req.Progress = rec.progress
	res, err := d.Rollback(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	f.mustRun(t, repeat("1", 3), repeat("v1", 3))
	if len(res.Targets) != 2 || res.Targets[0].Status != StatusRolledBack || res.Targets[1].Status != StatusRolledBack || !res.RolledBack {
		t.Errorf("result = %+v, want the two changed targets rolled back", res)
	}
	if want := []string{"t1:rolling-back", "t1:rolled-back", "t0:rolling-back", "t0:rolled-back"}; !slices.Equal(rec.phases(f), want) {
		t.Errorf("phases = %v, want %v (the last target first)", rec.phases(f), want)
	}
	if !alive(untouchedPID) || strings.Contains(f.log.String(), f.envs[2].dir) {
		t.Errorf("the pending target was touched:\n%s", f.log)
	}
	b, _ := os.ReadFile(out)
	if want := f.server(0) + "=1," + f.server(1) + "=1," + f.server(2) + "=1\n"; string(b) != want {
		t.Errorf("router got %q, want all-previous weights %q", b, want)
	}
}
