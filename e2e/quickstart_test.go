package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuickstart runs `greenlight quickstart` as a new user would and follows
// what it prints: the staging site, the approval link, production.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	dir := passable(t, t.TempDir())
	cmd := exec.Command(binary, "quickstart", "--dir", filepath.Join(dir, "qs"), "--port", fmt.Sprint(freePort(t)))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	var printed syncBuffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			printed.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, stdout); cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("quickstart did not stop within 20s of Ctrl-C")
		}
		killUnder(dir)
		if t.Failed() {
			t.Logf("quickstart printed:\n%s\nstderr:\n%s", printed.String(), stderr.String())
			logs, _ := filepath.Glob(filepath.Join(dir, "qs", "*", "releases", "*", "*.log"))
			more, _ := filepath.Glob(filepath.Join(dir, "qs", "*", "releases", "*", ".greenlight-*.log"))
			for _, l := range append(logs, more...) {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
		}
	})
	// The sample is a real Go program built with a cold cache: allow for it.
	expect := func(re string, timeout time.Duration) []string {
		t.Helper()
		pattern := regexp.MustCompile(re)
		deadline := time.After(timeout)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("quickstart exited before printing %q", re)
				}
				if m := pattern.FindStringSubmatch(l); m != nil {
					return m
				}
				if strings.Contains(l, " ended ") {
					t.Fatalf("quickstart's run ended before %q: %s", re, l)
				}
			case <-deadline:
				t.Fatalf("quickstart did not print %q within %s", re, timeout)
			}
		}
	}
	staging := expect(`Staging is live:\s+(\S+)`, 4*time.Minute)[1]
	link := expect(`Approve it here:\s+(\S+)`, 10*time.Second)[1]
	if code, body := get(t, staging); code != 200 || !strings.Contains(body, "Hello from Greenlight") {
		t.Fatalf("staging site: %d %q", code, body)
	}
	if code, page := get(t, link); code != 200 || !strings.Contains(page, "Sample app: hello from Greenlight") {
		t.Fatalf("decision page: %d\n%s", code, page)
	}
	if code, page := decide(t, link, "approve", "ship it"); code != 200 {
		t.Fatalf("approve: %d\n%s", code, page)
	}
	prod := expect(`Production is live:\s+(\S+)`, time.Minute)[1]
	if code, body := get(t, prod); code != 200 || !strings.Contains(body, "production") {
		t.Fatalf("production site: %d %q", code, body)
	}
	if !strings.Contains(printed.String(), "To ship a change: commit it in "+filepath.Join(dir, "qs", "app")) {
		t.Errorf("quickstart did not say how to ship a change:\n%s", printed.String())
	}

	// Shipping a change as it says: a commit in the sample repository is
	// polled, built and put on staging.
	repo := filepath.Join(dir, "qs", "app")
	main, _ := os.ReadFile(filepath.Join(repo, "main.go"))
	os.WriteFile(filepath.Join(repo, "main.go"), bytes.Replace(main, []byte("Hello from Greenlight!"), []byte("Hello again!"), 1), 0o644)
	git := exec.Command("git", "-c", "user.name=Q", "-c", "user.email=q@example.com", "commit", "-qam", "Say hello again")
	git.Dir = repo
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("commit: %v: %s", err, out)
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if _, body := get(t, staging); strings.Contains(body, "Hello again!") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the committed change did not reach staging within 90s")
		}
	}

	// Stopping: the sample apps outlive the server, and it says how to stop them.
	cmd.Process.Signal(syscall.SIGINT)
	hint := expect(`^\s+(kill .*)$`, 20*time.Second)[1]
	if out, err := exec.Command("sh", "-c", hint).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", hint, err, out)
	}
	for _, site := range []string{staging, prod} {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, err := http.Get(site); err != nil {
				break // refused: stopped
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still answers after %q", site, hint)
			}
		}
	}
}

// TestQuickstartKeepsWhatTheUserChose: an explicit --port is used as given
// or refused, and an existing configuration is never written again.
func TestQuickstartKeepsWhatTheUserChose(t *testing.T) {
	t.Parallel()
	dir := passable(t, t.TempDir())
	qs := filepath.Join(dir, "qs")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}

	// A taken --port is an error naming it, not another port.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	cmd := exec.Command(binary, "quickstart", "--dir", qs, "--port", fmt.Sprint(port))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), fmt.Sprintf("--port %d", port)) {
		t.Fatalf("quickstart on a taken --port: err %v, printed:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(qs, "greenlight.yml")); !os.IsNotExist(err) {
		t.Fatalf("a refused quickstart wrote its configuration: %v", err)
	}

	// An existing configuration is the user's: kept byte for byte, and a
	// --port that disagrees with it is refused.
	own := freePort(t)
	cfg := fmt.Sprintf("# mine\nserver:\n  listen: 127.0.0.1:%d\n  data_dir: ./data\npipelines:\n  - name: hello\n    source: {repo: %s, branch: main}\n    stages:\n      - {name: build, type: build}\n",
		own, filepath.Join(qs, "app"))
	os.MkdirAll(qs, 0o755)
	if err := os.WriteFile(filepath.Join(qs, "greenlight.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(binary, "quickstart", "--dir", qs, "--port", fmt.Sprint(freePort(t)))
	cmd.Env = env
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "greenlight.yml listens on 127.0.0.1:"+fmt.Sprint(own)) {
		t.Fatalf("quickstart with a --port its configuration does not use: err %v, printed:\n%s", err, out)
	}
	cmd = exec.Command(binary, "quickstart", "--dir", qs)
	cmd.Env = env
	var printed syncBuffer
	cmd.Stdout, cmd.Stderr = &printed, &printed
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer killUnder(dir)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(printed.String(), "Greenlight is running at"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("quickstart did not start:\n%s", printed.String())
		}
	}
	if !strings.Contains(printed.String(), fmt.Sprintf("http://127.0.0.1:%d", own)) {
		t.Errorf("quickstart is not where its configuration says:\n%s", printed.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if got, _ := os.ReadFile(filepath.Join(qs, "greenlight.yml")); string(got) != cfg {
		t.Fatalf("quickstart rewrote the configuration:\n%s", got)
	}
}
