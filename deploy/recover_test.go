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
