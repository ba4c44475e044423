package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestFirstDeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, err := New(nil).Deploy(context.Background(), e.request(t, "1", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	mustCurrent(t, e.dir, "1")
	waitAnswer(t, e.port, "v1")
	if len(res.Targets) != 1 || res.Targets[0].Status != StatusLive || res.Targets[0].Target != e.dir || res.RolledBack {
		t.Errorf("result = %+v, want one live target %s", res, e.dir)
	}
	info, ok, err := (&localHost{dir: e.dir}).Info(context.Background(), "1")
	if err != nil || !ok || info.Hooks != appHooks || info.RunID != 7 || info.Commit != "abc123" {
		t.Errorf("stored release info = %+v, %v, %v; want hooks %+v of run 7", info, ok, err, appHooks)
	}
	log := e.log.String()
	for _, want := range []string{
		"[" + e.dir + "] installing release 1 (previous: none)",
		"[" + e.dir + "] start (release 1): deploy/start.sh",
		"[" + e.dir + "] health check http://127.0.0.1:" + strconv.Itoa(e.port) + "/healthz: 200 (2/2)",
		"[" + e.dir + "] release 1 is live",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("stage log lacks %q:\n%s", want, log)
		}
	}
}

func TestSecondDeployStopsOldAndSwitches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), e.request(t, "1", "v1")); err != nil {
		t.Fatal(err)
	}
	oldPID := readPID(filepath.Join(e.dir, "releases", "1", "app.pid"))
	if _, err := d.Deploy(context.Background(), e.request(t, "2", "v2")); err != nil {
		t.Fatal(err)
	}
	mustCurrent(t, e.dir, "2")
	waitAnswer(t, e.port, "v2")
	if oldPID == 0 || alive(oldPID) {
		t.Errorf("old app (pid %d) still runs after the switch", oldPID)
	}
	if !strings.Contains(e.log.String(), "stop (release 1): deploy/stop.sh") {
		t.Errorf("stage log does not show release 1 stopped:\n%s", e.log)
	}
}

func TestRedeploySameRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := New(nil)
	for range 2 {
		if _, err := d.Deploy(context.Background(), e.request(t, "1", "v1")); err != nil {
			t.Fatal(err)
		}
	}
	mustCurrent(t, e.dir, "1")
	waitAnswer(t, e.port, "v1")
}

// TestRollback covers each way a deploy fails after touching the target: the
// previous release must be current and answering again.
func TestRollback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(*Request)
		wantErr string
		within  time.Duration
	}{
		{
			name:    "start hook fails",
			change:  func(r *Request) { r.Hooks.Start = "deploy/start.sh && exit 1" },
			wantErr: "hook start failed: exit status 1; rolled back to release 1",
			within:  5 * time.Second,
		},
		{
			name: "health never passes",
			change: func(r *Request) {
				r.Targets[0].Env["HEALTH"] = "fail"
				r.Health.Timeout = time.Second
			},
			wantErr: "/healthz did not pass within 1s: last answer 500; rolled back to release 1",
			within:  4 * time.Second,
		},
		{
			name: "hook hangs past its timeout",
			change: func(r *Request) {
				r.Hooks.Validate = "sleep 60 & echo $! > sleep.pid; wait"
				r.HookTimeout = 2 * time.Second // enough for the other hooks on a busy machine
			},
			wantErr: "hook validate timed out after 2s; rolled back to release 1",
			within:  6 * time.Second,
		},
		{
			name:    "before_install fails",
			change:  func(r *Request) { r.Hooks.BeforeInstall = "echo no disk space >&2; false" },
			wantErr: "hook before_install failed: exit status 1; rolled back to release 1",
			within:  3 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			d := New(nil)
			if _, err := d.Deploy(context.Background(), e.request(t, "1", "v1")); err != nil {
				t.Fatal(err)
			}
			req := e.request(t, "2", "v2")
			tt.change(&req)
			start := time.Now()
			res, err := d.Deploy(context.Background(), req)
			if took := time.Since(start); took > tt.within {
				t.Errorf("deploy took %s, want under %s", took, tt.within)
			}
			if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to end %q", err, tt.wantErr)
			}
			if !res.RolledBack || res.Targets[0].Status != StatusRolledBack || res.Targets[0].Error == "" {
				t.Errorf("result = %+v, want the target rolled-back with its reason", res)
			}
			mustCurrent(t, e.dir, "1")
			waitAnswer(t, e.port, "v1")
			if pid := readPID(filepath.Join(e.dir, "releases", "2", "sleep.pid")); pid != 0 && alive(pid) {
				t.Errorf("the timed-out hook's child (pid %d) still runs", pid)
			}
		})
	}
}

func TestFailedFirstDeployRemovesCurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := e.request(t, "1", "v1")
	req.Hooks.AfterInstall = "exit 3"
	_, err := New(nil).Deploy(context.Background(), req)
	if want := "hook after_install failed: exit status 3; rolled back (no previous release)"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	mustCurrent(t, e.dir, "")
}

func TestCancelDuringHealthCheckRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), e.request(t, "1", "v1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.log.onWrite = func(s string) {
		if strings.Contains(s, "/healthz: 500") {
			cancel() // the new app is up and failing its checks
		}
	}
	req := e.request(t, "2", "v2")
	req.Targets[0].Env["HEALTH"] = "fail"
	req.Health.Timeout = time.Minute
	start := time.Now()
	res, err := d.Deploy(ctx, req)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "rolled back to release 1") {
		t.Fatalf("error = %v, want a cancellation that rolled back to release 1", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cancelled deploy took %s", took)
	}
	if !res.RolledBack {
		t.Errorf("result = %+v, want rolled back", res)
	}
	mustCurrent(t, e.dir, "1")
	waitAnswer(t, e.port, "v1")
}

// A hook that leaves a process holding its stdout must not hang the deploy,
// and an app started with nohup (stdout still the hook's) must go on
// serving, and logging, long after its hook returned.
func TestBackgroundProcessHoldingOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req := e.request(t, "1", "v1")
	req.Hooks.AfterInstall = "sleep 30 & echo $! > sleep.pid; echo started sleeper"
	start := time.Now()
	if _, err := New(nil).Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second+waitDelay/2 {
		t.Errorf("deploy took %s: it waited for a background process", took)
	}
	if !strings.Contains(e.log.String(), "started sleeper") {
		t.Errorf("hook output missing from the stage log:\n%s", e.log)
	}
	pid := readPID(filepath.Join(e.dir, "releases", "1", "sleep.pid"))
	if pid == 0 || !alive(pid) {
		t.Errorf("background process of a successful hook (pid %d) was killed", pid)
	}
	time.Sleep(waitDelay + 500*time.Millisecond)
	for range 3 {
		waitAnswer(t, e.port, "v1") // each request makes the app write to its stdout
	}
}

func TestAllAtOnceRollsBackEveryTarget(t *testing.T) {
	t.Parallel()
	a, b := newEnv(t), newEnv(t)
	b.log = a.log
	d := New(nil)
	two := func(release, version string) Request {
		req := a.request(t, release, version)
		req.Targets = append(req.Targets, b.request(t, release, version).Targets...)
		return req
	}
	if _, err := d.Deploy(context.Background(), two("1", "v1")); err != nil {
		t.Fatal(err)
	}
	req := two("2", "v2")
	req.Targets[1].Env["HEALTH"] = "fail"
	req.Health.Timeout = 3 * time.Second
	res, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.HasPrefix(err.Error(), "target "+b.dir+": health check") || strings.Contains(err.Error(), a.dir) {
		t.Fatalf("error = %v, want only target %s's health check", err, b.dir)
	}
	want := []greenlight.TargetOutcome{
		{Target: a.dir, Status: StatusRolledBack, Error: errOtherTarget.Error()},
		{Target: b.dir, Status: StatusRolledBack},
	}
	if len(res.Targets) != 2 || res.Targets[0] != want[0] || res.Targets[1].Status != want[1].Status || res.Targets[1].Target != b.dir {
		t.Errorf("outcomes = %+v, want %+v", res.Targets, want)
	}
	for _, e := range []*env{a, b} {
		mustCurrent(t, e.dir, "1")
		waitAnswer(t, e.port, "v1")
	}
}

func TestRefusedBeforeTouchingTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Request)
	}{
		{"digest mismatch", func(r *Request) { r.Digest = strings.Repeat("0", 64) }},
		{"digest not hex sha256", func(r *Request) { r.Digest = "abc" }},
		{"release with slash", func(r *Request) { r.Release = "1/../../etc" }},
		{"release dot dot", func(r *Request) { r.Release = ".." }},
		{"release dot", func(r *Request) { r.Release = "." }},
		{"release hidden", func(r *Request) { r.Release = ".tmp-1" }},
		{"release empty", func(r *Request) { r.Release = "" }},
		{"release with space", func(r *Request) { r.Release = "1 2" }},
		{"no targets", func(r *Request) { r.Targets = nil }},
		{"health url env missing", func(r *Request) { r.Health.URL = "http://{host}:{env.HTTP_PORT}/" }},
		{"health url placeholder unknown", func(r *Request) { r.Health.URL = "http://{hots}:80/" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			req := e.request(t, "1", "v1")
			tt.change(&req)
			_, err := New(nil).Deploy(context.Background(), req)
			if code := greenlight.ErrorCode(err); code != greenlight.EINVALID {
				t.Fatalf("error = %v (code %q), want code %q", err, code, greenlight.EINVALID)
			}
			if _, err := os.Stat(e.dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("target directory was touched (stat: %v)", err)
			}
		})
	}
}

func TestKeepsFiveReleases(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := New(nil)
	for i := 1; i <= 7; i++ {
		req := e.request(t, strconv.Itoa(i), "v")
		req.Hooks = greenlight.Hooks{}
		req.Health = Health{}
		if _, err := d.Deploy(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(e.dir, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := "3 4 5 6 7"; strings.Join(got, " ") != want {
		t.Errorf("releases = %v, want %s", got, want)
	}
}

// An archive the unpacker refuses fails the deploy before anything changes:
// no hook runs, current stays, and there is nothing to roll back.
func TestUnsafeArchiveChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), e.request(t, "1", "v1")); err != nil {
		t.Fatal(err)
	}
	req := e.request(t, "2", "v2")
	req.Archive, req.Digest = makeArchive(t, map[string]string{"VERSION": "v2", "../escape": "x"})
	res, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.HasPrefix(err.Error(), "install release 2: ") || strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("error = %v, want the install refused and no rollback", err)
	}
	if res.RolledBack || res.Targets[0].Status != StatusFailed {
		t.Errorf("result = %+v, want the target failed, not rolled back", res)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "releases", "escape")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an entry escaped its release directory (stat: %v)", err)
	}
	if strings.Contains(e.log.String(), "stop (release 1)") {
		t.Errorf("release 1 was stopped for an archive that never installed:\n%s", e.log)
	}
	mustCurrent(t, e.dir, "1")
	waitAnswer(t, e.port, "v1")
}
