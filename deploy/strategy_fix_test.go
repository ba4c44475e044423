package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Without a health check nothing proves a kept blue-green group still runs
// its release (Retire may have stopped it): it is installed again, not
// switched to as it is.
func TestBlueGreenWithoutHealthReinstallsKeptGroup(t *testing.T) {
	t.Parallel()
	f, ngx := blueGreenFleet(t)
	d := New(nil)
	bg := func(release, version, active string) Request {
		req := f.blueGreen(t, ngx, release, version, active)
		req.Health = Health{}
		return req
	}
	if _, err := d.Deploy(context.Background(), bg("1", "v1", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deploy(context.Background(), bg("2", "v2", "blue")); err != nil {
		t.Fatal(err)
	}
	if err := d.Retire(context.Background(), retireOf(bg("1", "v1", ""), "blue")); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1} {
		if _, err := answer(f.envs[i].port); err == nil {
			t.Fatalf("blue host %d still answers after Retire", i)
		}
	}
	res, err := d.Deploy(context.Background(), bg("1", "v1", "green"))
	if err != nil || res.Active != "blue" {
		t.Fatalf("back to blue: %+v, %v", res, err)
	}
	if strings.Contains(f.log.String(), "release 1 is already live and healthy here") {
		t.Errorf("a blue host was skipped without a health check:\n%s", f.log)
	}
	f.mustRun(t, []string{"1", "1", "2", "2"}, []string{"v1", "v1", "v2", "v2"})
	waitFor(t, ngx.URL, "v1")
}

// Retire leaves alone a group that runs another release by now: a later
// deploy went to it before the retirement came due.
func TestRetireSkipsGroupRunningAnotherRelease(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	f.groups = []string{"blue", "green"}
	d := New(nil)
	deployAll(t, d, f)
	if _, err := d.Deploy(context.Background(), f.request(t, "3", "v3")); err != nil {
		t.Fatal(err)
	}
	err := d.Retire(context.Background(), retireOf(f.request(t, "1", "v1"), "blue"))
	if err != nil {
		t.Fatal(err)
	}
	log := f.log.String()
	if strings.Contains(log, "group blue retired") || !strings.Contains(log, "runs release 3, not 1: nothing to retire") {
		t.Errorf("retire of release 1 on a group running 3:\n%s", log)
	}
	f.mustRun(t, repeat("3", 2), repeat("v3", 2))
}

// A traffic step below 100% keeps at least one host on the old release:
// 75% of two hosts is one host weighted 3 to 1, not all traffic new.
func TestCanaryTrafficStepBelowAllKeepsAnOldHost(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	d := New(nil)
	deployAll(t, d, f)
	out := filepath.Join(t.TempDir(), "weights")
	req := f.request(t, "2", "v2")
	req.Router = &Router{Type: RouterCommand, Switch: `echo "$GREENLIGHT_WEIGHTS" >> ` + out}
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{
		{Traffic: Amount{N: 75, Percent: true}}, {Traffic: Amount{N: 100, Percent: true}}}}
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	a, c := f.server(0), f.server(1)
	if want := a + "=3," + c + "=1\n" + a + "=1," + c + "=1\n"; string(b) != want {
		t.Errorf("switch command saw:\n%s\nwant:\n%s", b, want)
	}
	f.mustRun(t, repeat("2", 2), repeat("v2", 2))
}

// A failed reload puts the old file back and reloads again, so nginx does
// not keep whatever half of the new file the failed reload applied.
func TestNginxFailedReloadReloadsOldFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file, calls := filepath.Join(dir, "upstream.conf"), filepath.Join(dir, "reloads")
	if err := os.WriteFile(file, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	stage := newStageLog(&log)
	// The first reload fails, the next ones succeed; each records the file it saw.
	counter := filepath.Join(dir, "count")
	reload := `cat ` + file + ` >> ` + calls + `; echo x >> ` + counter + `; [ "$(wc -l < ` + counter + `)" -ge 2 ]`
	n := &nginxRouter{file: file, upstream: "app", test: "true", reload: reload,
		run: &shell{timeout: 10 * time.Second, log: stage.target("router")}, log: stage.target("router")}
	err := n.Set(context.Background(), []weight{{"127.0.0.1:1", 1}})
	if err == nil || !strings.Contains(err.Error(), "reload failed") {
		t.Fatalf("Set error = %v, want the failed reload", err)
	}
	if got, _ := os.ReadFile(file); string(got) != "old\n" {
		t.Errorf("file after the failed reload = %q, want the old one", got)
	}
	got, _ := os.ReadFile(calls)
	if want := upstreamConf("app", []weight{{"127.0.0.1:1", 1}}) + "old\n"; string(got) != want {
		t.Errorf("reloads saw:\n%s\nwant the new file, then the old one reloaded:\n%s", got, want)
	}

	// When the second reload fails too, the error says so.
	if err := os.WriteFile(calls, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n.reload = `echo x >> ` + calls + `; exit 1`
	err = n.Set(context.Background(), []weight{{"127.0.0.1:1", 1}})
	if err == nil || !strings.Contains(err.Error(), "reloading the restored file") {
		t.Errorf("Set error = %v, want the failed reload of the restored file reported", err)
	}
}

// A target whose previous release cannot be read does not stop the rollback
// of the others: it is reported failed, the rest go back.
func TestRollbackGoesOnPastAFailedTarget(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	d := New(nil)
	deployAll(t, d, f)
	interrupted(t, d, f, 2)
	if err := os.WriteFile(filepath.Join(f.envs[0].dir, "releases", "1", infoFile), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	req := f.request(t, "2", "v2")
	req.Archive, req.Digest = "", ""
	req.Resume = []TargetState{
		{Target: f.envs[0].dir, Phase: PhaseLive, Previous: "1"},
		{Target: f.envs[1].dir, Phase: PhaseLive, Previous: "1"},
	}
	rec := &recorder{}
	req.Progress = rec.progress
	res, err := d.Rollback(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "target "+f.envs[0].dir+": cannot roll back") {
		t.Fatalf("error = %v, want t0's failure", err)
	}
	mustCurrent(t, f.envs[0].dir, "2")
	mustCurrent(t, f.envs[1].dir, "1")
	waitAnswer(t, f.envs[1].port, "v1")
	if len(res.Targets) != 2 || res.Targets[0].Status != StatusFailed || res.Targets[1].Status != StatusRolledBack {
		t.Errorf("result = %+v, want t0 failed and t1 rolled back", res)
	}
	if got := rec.phases(f); !slices.Contains(got, "t0:failed") || !slices.Contains(got, "t1:rolled-back") {
		t.Errorf("phases = %v, want t0 failed and t1 rolled back", got)
	}
}

// A resumed deploy that fails restores the weights of before the deploy, not
// the upstream file as the crash left it (mid-canary).
func TestResumedCanaryFailureRestoresInitialWeights(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	f.fail[1] = "v2"
	d := New(nil)
	deployAll(t, d, f)
	file := filepath.Join(t.TempDir(), "upstream.conf")
	atCrash := upstreamConf("app", []weight{{f.server(0), 1}, {f.server(1), 9}})
	if err := os.WriteFile(file, []byte(atCrash), 0o644); err != nil {
		t.Fatal(err)
	}
	req := f.request(t, "2", "v2")
	req.Router = &Router{Type: RouterNginx, UpstreamFile: file, Upstream: "app", Test: "true", Reload: "true"}
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{
		{Traffic: Amount{N: 10, Percent: true}}, {Traffic: Amount{N: 100, Percent: true}}}}
	req.Resume = []TargetState{{Target: f.envs[0].dir, Phase: PhaseInstalling, Previous: "1"}, {Target: f.envs[1].dir, Phase: PhasePending}}
	if _, err := d.Deploy(context.Background(), req); err == nil {
		t.Fatal("deploy succeeded, want the second host's failure")
	}
	got, _ := os.ReadFile(file)
	if want := upstreamConf("app", []weight{{f.server(0), 1}, {f.server(1), 1}}); string(got) != want {
		t.Errorf("upstream file after the rollback:\n%s\nwant the weights of before the deploy:\n%s", got, want)
	}
	f.mustRun(t, repeat("1", 2), repeat("v1", 2))
}

// A resumed deploy that fails before reaching the targets the interrupted
// attempt changed rolls those back too: the environment runs one release.
func TestResumedDeployFailureRollsBackUnreachedTargets(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3)
	d := New(nil)
	deployAll(t, d, f)
	interrupted(t, d, f, 3)
	f.fail[0] = "v2" // this time the first host fails
	req := f.request(t, "2", "v2")
	req.Strategy = Strategy{Type: Rolling}
	req.Resume = []TargetState{
		{Target: f.envs[0].dir, Phase: PhaseInstalling, Previous: "1"},
		{Target: f.envs[1].dir, Phase: PhaseLive, Previous: "1"},
		{Target: f.envs[2].dir, Phase: PhaseRollingBack, Previous: "1"},
	}
	rec := &recorder{}
	req.Progress = rec.progress
	res, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "hook start failed") {
		t.Fatalf("error = %v, want the first host's start failure", err)
	}
	f.mustRun(t, repeat("1", 3), repeat("v1", 3))
	if len(res.Targets) != 3 || !res.RolledBack {
		t.Fatalf("result = %+v, want all three targets", res)
	}
	for i, o := range res.Targets {
		if o.Status != StatusRolledBack {
			t.Errorf("target %d: outcome %+v, want rolled back", i, o)
		}
	}
	got := rec.phases(f)
	for _, want := range []string{"t1:rolled-back", "t2:rolled-back"} {
		if !slices.Contains(got, want) {
			t.Errorf("phases = %v, want %s", got, want)
		}
	}
	if strings.Contains(f.log.String(), "["+f.envs[1].dir+"] installing") {
		t.Errorf("an unreached target was installed:\n%s", f.log)
	}
}

// The same in a resumed canary that fails before moving traffic: the router
// still gets the weights of before the deploy (the crash left others).
func TestResumedCanaryFailureRestoresRouterAndUnreached(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3)
	d := New(nil)
	deployAll(t, d, f)
	interrupted(t, d, f, 3)
	f.fail[0] = "v2"
	out := filepath.Join(t.TempDir(), "weights")
	req := f.request(t, "2", "v2")
	req.Router = &Router{Type: RouterCommand, Switch: `echo "$GREENLIGHT_WEIGHTS" >> ` + out}
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{
		{Hosts: Amount{N: 1}}, {Traffic: Amount{N: 50, Percent: true}}, {Traffic: Amount{N: 100, Percent: true}}}}
	req.Resume = []TargetState{
		{Target: f.envs[0].dir, Phase: PhaseLive, Previous: "1"},
		{Target: f.envs[1].dir, Phase: PhaseLive, Previous: "1"},
		{Target: f.envs[2].dir, Phase: PhaseInstalling, Previous: "1"},
	}
	killProcess(readPID(filepath.Join(f.envs[0].dir, "releases", "2", "app.pid")))
	req.Health.Timeout = 500_000_000
	res, err := d.Deploy(context.Background(), req)
	if err == nil {
		t.Fatal("deploy succeeded, want the first host's failure")
	}
	f.mustRun(t, repeat("1", 3), repeat("v1", 3))
	if len(res.Targets) != 3 {
		t.Errorf("result = %+v, want all three targets", res)
	}
	b, _ := os.ReadFile(out)
	if want := f.server(0) + "=1," + f.server(1) + "=1," + f.server(2) + "=1\n"; string(b) != want {
		t.Errorf("router got %q, want the weights of before the deploy %q", b, want)
	}
}
