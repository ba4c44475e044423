package e2e

import (
	"bufio"
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
}
