package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestRecoverStopsCutOffStart: kill -9 while staging's start hook runs. The
// cut-off hook goes on in its own session and would start its app a moment
// later; the resumed deploy must kill it and run the release's stop before
// its start again. Staging then runs exactly one app, the one in app.pid,
// which serves the run's commit, and the next run's deploy replaces it.
// Without that, the second app died on "address already in use", app.pid
// named it, and the orphan served staging through every later deploy.
func TestRecoverStopsCutOffStart(t *testing.T) {
	t.Parallel()
	s := start(t, options{slowStart: true})
	id := s.pushRun(s.repo.head())
	eventually(t, 60*time.Second, "the deploy reaches its start hook", func() bool {
		return strings.Contains(s.stageLog(id, "staging"), "starting slowly")
	})
	s.kill()
	s.boot()
	r := s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	if st := r.Stage("staging"); st.Status != greenlight.StageSucceeded {
		t.Fatalf("staging after restart = %+v, want succeeded", st)
	}
	// Long enough for the cut-off hook's sleep to have ended, had it lived.
	time.Sleep(4 * time.Second)
	staging := filepath.Join(s.dir, "staging")
	apps := stagingApps(staging)
	pid := appPID(t, staging)
	if len(apps) != 1 || apps[0] != pid {
		t.Errorf("staging runs apps %v, want only the one in app.pid (%d)\n%s", apps, pid, s.stageLog(id, "staging"))
	}
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.staging)); code != 200 || !strings.Contains(body, r.Commit.SHA) {
		t.Errorf("staging answers %d %q, want commit %s", code, body, r.Commit.SHA)
	}

	// The next run's deploy stops that app through app.pid and really
	// replaces it.
	later := s.pushRun(s.repo.commit("Later version", nil))
	r2 := s.waitRun(later, 90*time.Second, greenlight.RunWaiting)
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.staging)); code != 200 || !strings.Contains(body, r2.Commit.SHA) {
		t.Errorf("after the later run staging answers %d %q, want commit %s", code, body, r2.Commit.SHA)
	}
	if apps := stagingApps(staging); len(apps) != 1 || apps[0] != appPID(t, staging) {
		t.Errorf("after the later run staging runs apps %v, want only the one in app.pid", apps)
	}
}

// appPID is the pid in app.pid of the target's current release; it fails
// the test unless that process runs.
func appPID(t *testing.T, target string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(target, "current", "app.pid"))
	if err != nil {
		t.Fatalf("read app.pid: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("app.pid names %d, which does not run", pid)
	}
	return pid
}

// stagingApps lists the app processes (./dist/app) running in a release of
// target.
func stagingApps(target string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cwd")
	for _, p := range procs {
		cwd, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(cwd, target+"/") {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
		if !bytes.HasPrefix(cmdline, []byte("./dist/app\x00")) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
		if _, after, _ := strings.Cut(string(stat), ") "); strings.HasPrefix(after, "Z") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		pids = append(pids, pid)
	}
	return pids
}
