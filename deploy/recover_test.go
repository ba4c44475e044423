package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A crash in release 2's start hook, after the app started: the target is
// stored installing. The resumed deploy must stop that app (release 2's own
// stop hook) before running start again; otherwise the second app cannot
// bind the port, its pid replaces the first's in app.pid, and the first,
// which no stop hook knows any more, answers every later health check.
func TestResumeStopsReleaseBeforeStartingItAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), e.request(t, "1", "v1")); err != nil {
		t.Fatal(err)
	}
	// The interrupted attempt: it got through start (and further) before
	// the crash, but its target was stored installing.
	if _, err := d.Deploy(context.Background(), e.request(t, "2", "v2")); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(e.dir, "releases", "2", "app.pid")
	first := readPID(pidFile)
	if !alive(first) {
		t.Fatalf("app of the interrupted attempt (pid %d) is not running", first)
	}
	e.log.mu.Lock()
	e.log.buf.Reset()
	e.log.mu.Unlock()

	req := e.request(t, "2", "v2")
	req.Resume = []TargetState{{Target: e.dir, Phase: PhaseInstalling, Previous: "1"}}
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	log := e.log.String()
	stop := strings.Index(log, "stop (release 2): deploy/stop.sh")
	start := strings.Index(log, "start (release 2): deploy/start.sh")
	if stop < 0 || start < 0 || stop > start {
		t.Errorf("want release 2's stop before its start again:\n%s", log)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(first) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(first) {
		killProcess(first)
		t.Errorf("the interrupted attempt's app (pid %d) still runs beside the new one", first)
	}
	second := readPID(pidFile)
	if second == first || !alive(second) {
		t.Errorf("app.pid = %d (first %d): want the running app of the resumed attempt", second, first)
	}
	waitAnswer(t, e.port, "v2")
}

// A hook the crashed server was running (noted in the target's directory)
// is killed with its group before the resume; a noted pid that now names
// another process is left alone.
func TestReapKillsCutOffHook(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	l := &localHost{dir: dir}
	run := func() *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", "sleep 60 & wait")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
		return cmd
	}
	note := func(pid int, start string) {
		if err := os.WriteFile(l.running(), fmt.Appendf(nil, "%d %s\n", pid, start), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(cmd *exec.Cmd) bool {
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
			return true
		case <-time.After(3 * time.Second):
			return false
		}
	}

	other := run()
	note(other.Process.Pid, "1") // not its start time: a reused pid
	var log strings.Builder
	if err := l.Reap(context.Background(), &log); err != nil {
		t.Fatal(err)
	}
	if !alive(other.Process.Pid) || log.Len() > 0 {
		t.Fatalf("a process that reused the noted pid was killed: %q", log.String())
	}

	hook := run()
	start, err := procStart(hook.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	note(hook.Process.Pid, start)
	if err := l.Reap(context.Background(), &log); err != nil {
		t.Fatal(err)
	}
	if !gone(hook) || !strings.Contains(log.String(), "killed process group") {
		t.Errorf("the cut-off hook was not killed; log %q", log.String())
	}
	if _, err := os.Stat(l.running()); !os.IsNotExist(err) {
		t.Errorf("the note is still there: %v", err)
	}
}

// The same over SSH: the resumed deploy stops the release before starting
// it again, a running hook is noted in the target's directory, and Reap
// kills a cut-off one there.
func TestSSHResumeStopsAndReaps(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	d := New(nil)
	var log syncBuffer
	request := func(release, version string) Request {
		archive, digest := appArchive(t, version)
		return Request{Pipeline: "app", Environment: "staging", Release: release, Archive: archive, Digest: digest,
			Hooks: appHooks, Targets: []Target{e.target()}, HookTimeout: 10 * time.Second, Log: &log,
			Health: Health{URL: "http://{host}:{env.PORT}/healthz", Timeout: 10 * time.Second,
				Interval: 50 * time.Millisecond, Passes: 2}}
	}
	for _, r := range []string{"1", "2"} {
		if _, err := d.Deploy(context.Background(), request(r, "v"+r)); err != nil {
			t.Fatal(err)
		}
	}
	pidFile := filepath.Join(e.h.Dir, "releases", "2", "app.pid")
	first := readPID(pidFile)
	req := request("2", "v2")
	req.Resume = []TargetState{{Target: e.name(), Phase: PhaseInstalling, Previous: "1"}}
	before := len(log.String())
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	resumed := log.String()[before:]
	stop := strings.Index(resumed, "stop (release 2): deploy/stop.sh")
	start := strings.Index(resumed, "start (release 2): deploy/start.sh")
	if stop < 0 || start < 0 || stop > start {
		t.Errorf("want release 2's stop before its start again:\n%s", resumed)
	}
	if alive(first) {
		killProcess(first)
		t.Errorf("the interrupted attempt's app (pid %d) still runs", first)
	}
	waitAnswer(t, e.port, "v2")

	pool := newConnPool()
	defer pool.Close()
	target, err := e.target().checked()
	if err != nil {
		t.Fatal(err)
	}
	h := &sshHost{t: target.SSH, name: target.Name(), pool: pool}
	var out strings.Builder
	if err := h.Run(context.Background(), "2", "probe", `sleep 0.5; cat "$GREENLIGHT_RELEASE_DIR/../../.greenlight-hook.pid"`, nil, 10*time.Second, &out); err != nil || !strings.Contains(out.String(), " ") {
		t.Errorf("a running hook is not noted: %q, %v", out.String(), err)
	}
	cmd := exec.Command("/bin/sh", "-c", "sleep 60 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	st, err := procStart(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.h.Dir, ".greenlight-hook.pid"), fmt.Appendf(nil, "%d %s\n", cmd.Process.Pid, st), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := h.Reap(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Errorf("Reap over SSH did not kill the cut-off hook; it said %q", out.String())
	}
}

// A rollback cut off in (or after) the previous release's start: resuming
// it stops that release before starting it again.
func TestRollbackFromStoredStopsPreviousBeforeStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := New(nil)
	// 1, then 2, then 1 again: release 1's app runs and `current` says 1,
	// as a rollback cut off after starting it would have left the target.
	for _, r := range []struct{ release, version string }{{"1", "v1"}, {"2", "v2"}, {"1", "v1"}} {
		if _, err := d.Deploy(context.Background(), e.request(t, r.release, r.version)); err != nil {
			t.Fatal(err)
		}
	}
	pidFile := filepath.Join(e.dir, "releases", "1", "app.pid")
	first := readPID(pidFile)
	req := e.request(t, "2", "v2")
	req.Archive, req.Digest = "", ""
	req.Resume = []TargetState{{Target: e.dir, Phase: PhaseRollingBack, Previous: "1"}}
	if _, err := d.Rollback(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(first) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(first) {
		killProcess(first)
		t.Errorf("release 1's app started before the rollback (pid %d) still runs\n%s", first, e.log)
	}
	if second := readPID(pidFile); second == first || !alive(second) {
		t.Errorf("app.pid = %d (first %d): want the app the rollback started", second, first)
	}
	waitAnswer(t, e.port, "v1")
}
