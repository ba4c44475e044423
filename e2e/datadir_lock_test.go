package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestDataDirLockServe: a second `greenlight serve` on a data directory in
// use (same configuration, another listen address) exits at once, naming the
// first one's pid, and leaves the first one and its data alone. After the
// first is killed with -9 its lock file is stale, and a new server starts.
func TestDataDirLockServe(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	id := s.pushRun(s.repo.head())
	// Waiting: the staging app the deploy's start hook left running is
	// still there when the server is killed below, and must not hold the lock.
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	eventually(t, 30*time.Second, "both approval mails sent", func() bool { return len(s.smtp.Messages()) == 2 })
	before, mails := s.runList(), len(s.smtp.Messages())

	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	listen := regexp.MustCompile(`(?m)^  listen: .*$`)
	second := filepath.Join(s.dir, "second.yml")
	if err := os.WriteFile(second, listen.ReplaceAll(cfg, fmt.Appendf(nil, "  listen: 127.0.0.1:%d", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--config", second, "--drain", "2s")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir, "GREENLIGHT_ADMIN_TOKEN=" + adminToken,
		"HOOK_SECRET=" + hookSecret}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := exitWithin(t, cmd, 15*time.Second)
	msg := out.String()
	data := filepath.Join(s.dir, "data")
	if code == 0 || !strings.Contains(msg, data) || !strings.Contains(msg, fmt.Sprintf("pid %d", s.cmd.Process.Pid)) {
		t.Fatalf("second serve on %s exited %d, printed:\n%s\nwant a non-zero exit naming the data directory and pid %d",
			data, code, msg, s.cmd.Process.Pid)
	}
	if code, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port)); code != 0 {
		t.Errorf("the second server answered on its listen address: %d", code)
	}
	if code, body := get(t, s.url+"/healthz"); code != 200 {
		t.Errorf("first server after the second was refused: healthz %d %q", code, body)
	}
	if after := s.runList(); after != before {
		t.Errorf("runs changed by the refused server:\nbefore %s\nafter  %s", before, after)
	}
	if n := len(s.smtp.Messages()); n != mails {
		t.Errorf("%d mails sent while the second server was refused, want %d", n, mails)
	}

	// kill -9 leaves greenlight.lock behind, naming a dead pid: not a lock.
	dead := s.cmd.Process.Pid
	s.kill()
	s.boot()
	if r := s.run(id); r.Status != greenlight.RunWaiting {
		t.Errorf("after the restart on the stale lock file, run %d is %s, want waiting", id, r.Status)
	}
	b, _ := os.ReadFile(filepath.Join(data, "greenlight.lock"))
	if !strings.Contains(string(b), fmt.Sprintf("pid: %d\n", s.cmd.Process.Pid)) {
		t.Errorf("lock file after the restart (killed pid %d, new pid %d):\n%s", dead, s.cmd.Process.Pid, b)
	}
}

// TestDataDirLockQuickstart: `greenlight quickstart` run again on a
// directory whose quickstart still runs says where that one is and starts
// nothing: its configuration (ports, webhook secret) is not rewritten.
func TestDataDirLockQuickstart(t *testing.T) {
	t.Parallel()
	dir := passable(t, t.TempDir())
	qs := filepath.Join(dir, "qs")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	first := exec.Command(binary, "quickstart", "--dir", qs, "--port", fmt.Sprint(freePort(t)))
	first.Env = env
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	first.Stderr = &stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		first.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, stdout); first.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			first.Process.Kill()
			<-done
		}
		killUnder(dir)
		if t.Failed() {
			t.Logf("first quickstart's stderr:\n%s", stderr.String())
		}
	})
	running := regexp.MustCompile(`^Greenlight is running at (\S+) `)
	url := ""
	sc := bufio.NewScanner(stdout)
	for url == "" && sc.Scan() {
		if m := running.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("the first quickstart did not say where it runs; stderr:\n%s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	cfg, err := os.ReadFile(filepath.Join(qs, "greenlight.yml"))
	if err != nil {
		t.Fatal(err)
	}

	second := exec.Command(binary, "quickstart", "--dir", qs, "--port", fmt.Sprint(freePort(t)))
	second.Env = env
	var out syncBuffer
	second.Stdout, second.Stderr = &out, &out
	code := exitWithin(t, second, 15*time.Second)
	msg := out.String()
	if code == 0 || !strings.Contains(msg, url) || !strings.Contains(msg, fmt.Sprintf("pid %d", first.Process.Pid)) {
		t.Fatalf("second quickstart exited %d, printed:\n%s\nwant a non-zero exit naming %s and pid %d", code, msg, url, first.Process.Pid)
	}
	if now, _ := os.ReadFile(filepath.Join(qs, "greenlight.yml")); string(now) != string(cfg) {
		t.Errorf("the second quickstart rewrote the configuration:\nwas\n%s\nnow\n%s", cfg, now)
	}
	if code, body := get(t, url+"/healthz"); code != 200 {
		t.Errorf("first quickstart after the second was refused: healthz %d %q", code, body)
	}
}

// exitWithin runs cmd and returns its exit status; a process still running
// after timeout is killed and fails the test.
func exitWithin(t *testing.T, cmd *exec.Cmd, timeout time.Duration) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		t.Fatalf("%s still ran after %s, want it refused at once", strings.Join(cmd.Args, " "), timeout)
		return -1
	}
}

// runList is every run's id, status and stages' statuses and attempts.
func (s *server) runList() string {
	s.t.Helper()
	code, body := s.api("GET", "/api/v1/runs", nil)
	var runs []greenlight.Run
	if code != 200 || json.Unmarshal(body, &runs) != nil {
		s.t.Fatalf("GET runs: %d %s", code, body)
	}
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "#%d %s", r.ID, r.Status)
		for _, st := range r.Stages {
			fmt.Fprintf(&b, " %s:%s/%d", st.Name, st.Status, st.Attempts)
		}
		b.WriteString("; ")
	}
	return b.String()
}
