package runner

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// modes are the sandboxes a behaviour is checked under; bwrap only where it
// exists (see requireBwrap).
var modes = []string{SandboxNone, SandboxBwrap, bwrapPerStep}

// bwrapPerStep is bwrap without the executor: one sandbox per step, the
// path taken when this program cannot serve as the executor.
const bwrapPerStep = "bwrap-per-step"

// requireBwrap fails on CI and skips elsewhere when bwrap is missing.
func requireBwrap(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("bwrap is required on CI: %v", err)
		}
		t.Skipf("bwrap not installed (apt-get install -y bubblewrap): %v", err)
	}
}

func newRunner(t testing.TB, sandbox string, hide ...string) *Runner {
	t.Helper()
	perStep := sandbox == bwrapPerStep
	if perStep {
		sandbox = SandboxBwrap
	}
	if sandbox == SandboxBwrap {
		requireBwrap(t)
	}
	r, err := New(Config{Sandbox: sandbox, Hide: hide, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New(%s): %v", sandbox, err)
	}
	if got, want := r.Isolated(), sandbox == SandboxBwrap; got != want {
		t.Fatalf("Isolated() = %v, want %v", got, want)
	}
	// TestMain called RunExecutorIfRequested, so bwrap runs the executor.
	if got, want := r.exec, sandbox == SandboxBwrap; got != want {
		t.Fatalf("executor usable = %v, want %v", got, want)
	}
	if perStep {
		r.exec = false
	}
	return r
}

// logFile is a real stage log file in a temp dir.
func logFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stage.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// run runs steps in a fresh workspace and returns the log and Run's error.
func run(t *testing.T, r *Runner, ctx context.Context, job Job) (string, error) {
	t.Helper()
	if job.Workspace == "" {
		job.Workspace = t.TempDir()
	}
	f := logFile(t)
	job.Log = f
	err := r.Run(ctx, job)
	b, rerr := os.ReadFile(f.Name())
	if rerr != nil {
		t.Fatal(rerr)
	}
	return string(b), err
}

// alive lists pids of processes whose command line contains token.
func alive(token string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if strings.Contains(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), token) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zombies lists this process's children that are zombies: what a sweep that
// forgot to reap would leave.
func zombies() []int {
	var z []int
	for _, pid := range children(os.Getpid()) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			z = append(z, pid)
		}
	}
	return z
}

// noneLeft fails if any process with one of the tokens outlived the step, or
// a zombie is left to this process.
func noneLeft(t *testing.T, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		if p := alive(tok); len(p) > 0 {
			t.Errorf("processes %v (%q) outlived the step", p, tok)
			for _, pid := range p {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if z := zombies(); len(z) > 0 {
		for _, pid := range z {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			t.Errorf("zombie child left unreaped: %s", b)
		}
	}
}

// The bounds are loose on purpose (a busy CI machine is slow); the steps they
// end sleep for days, so a step that was not stopped is still told apart.
func within(t *testing.T, what string, took, max time.Duration) {
	t.Helper()
	if took > max {
		t.Errorf("%s took %s, want at most %s", what, took, max)
	}
}
