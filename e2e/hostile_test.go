package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Builds whose repository is hostile: what the commit controls may fail its
// run, never the server.

// TestHostileNestedBuildFile: a 100 KB build file of "[" (which once ran the
// server out of memory at every start) fails its run with the file and line,
// while the server stays up with its memory bounded, and after a restart.
func TestHostileNestedBuildFile(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	sha := s.repo.commit("nest deeply", map[string]string{".greenlight.yml": strings.Repeat("[", 100_000)})
	id := s.pushRun(sha)
	r := s.waitRun(id, 60*time.Second, greenlight.RunFailed)
	if want := ".greenlight.yml:1:65: too deeply nested"; !strings.Contains(r.Error, want) {
		t.Errorf("run error %q, want it to contain %q", r.Error, want)
	}
	s.healthy()
	peak := s.peakRSS()
	t.Logf("the server's peak RSS: %d MB", peak>>20)
	if peak > maxServerRSS {
		t.Errorf("the server's peak RSS is %d MB, want at most %d MB", peak>>20, maxServerRSS>>20)
	}
	s.kill()
	s.boot()
	time.Sleep(2 * time.Second) // recovery would have resumed it by now
	if r := s.run(id); r.Status != greenlight.RunFailed {
		t.Errorf("after a restart the run is %s, want failed", r.Status)
	}
	s.healthy()
}

// TestHostileCrashTwice: a build step during which the server dies (here:
// kill -9, twice) is run again after the first restart, and given up on
// after the second, with the reason; the server is healthy.
func TestHostileCrashTwice(t *testing.T) {
	t.Parallel()
	// The step cannot write outside its workspace: it marks its start in its log.
	steps := "  - name: crash\n    run: echo crash-marker && sleep 120\n"
	s := start(t, options{steps: steps})
	id := s.pushRun(s.repo.head())
	starts := func() int { return strings.Count(s.stageLog(id, "build"), "crash-marker\n") }
	for n := 1; n <= 2; n++ {
		eventually(t, 60*time.Second, fmt.Sprintf("start %d of the step", n), func() bool { return starts() == n })
		s.kill()
		s.boot()
	}
	r := s.waitRun(id, 30*time.Second, greenlight.RunFailed)
	want := "build: the server stopped twice while running this stage (crashed or killed); not trying again: look at what its steps or hooks do to the machine (memory, processes) before starting a new run"
	if r.Error != want {
		t.Errorf("run error %q, want %q", r.Error, want)
	}
	if b := r.Stage("build"); b.Status != greenlight.StageFailed || !strings.Contains(b.Error, "stopped twice") {
		t.Errorf("build stage %+v, want failed, stopped twice", b)
	}
	if n := starts(); n != 2 {
		t.Errorf("the step started %d times, want 2", n)
	}
	s.healthy()
}

// TestHostileGreenlightSymlink: a committed .greenlight that links out of
// the checkout makes the server create nothing where it points; the run
// fails and says why.
func TestHostileGreenlightSymlink(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(s.repo.dir, ".greenlight")); err != nil {
		t.Fatal(err)
	}
	sha := s.repo.commit("link .greenlight out", nil)
	id := s.pushRun(sha)
	r := s.waitRun(id, 60*time.Second, greenlight.RunFailed, greenlight.RunWaiting, greenlight.RunSucceeded)
	if r.Status == greenlight.RunFailed && !strings.Contains(r.Error, ".greenlight") {
		t.Errorf("run failed with %q, want a reason naming .greenlight", r.Error)
	}
	if kids, err := os.ReadDir(outside); err != nil || len(kids) != 0 {
		var names []string
		for _, k := range kids {
			names = append(names, k.Name())
		}
		t.Errorf("the server created %v (%v) in the directory .greenlight links to", names, err)
	}
	s.healthy()
}

// maxServerRSS bounds the server's peak resident memory in these tests: the
// race detector's build peaks at about 60 MB through the whole test; before
// the build file's limits, 30,000 levels (under a third of the file) took
// 1.4 GB, and the whole one more than the machine had.
const maxServerRSS = 200 << 20

// healthy checks /healthz answers 200.
func (s *server) healthy() {
	s.t.Helper()
	if code, body := get(s.t, s.url+"/healthz"); code != 200 {
		s.t.Errorf("healthz: %d %s", code, body)
	}
}

// peakRSS is the server process's peak resident set size in bytes (VmHWM).
func (s *server) peakRSS() int64 {
	s.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		s.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				s.t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	s.t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}
