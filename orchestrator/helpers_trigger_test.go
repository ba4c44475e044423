package orchestrator

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/artifact"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
	"github.com/greenlight-cd/greenlight/runner"
	"github.com/greenlight-cd/greenlight/source"
	"github.com/greenlight-cd/greenlight/store"
)

// gitRepo is a real repository in a temporary directory.
type gitRepo struct {
	t   *testing.T
	dir string
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newGitRepo(t *testing.T, buildFile string) *gitRepo {
	t.Helper()
	r := &gitRepo{t: t, dir: filepath.Join(t.TempDir(), "repo")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	runGit(t, r.dir, "init", "-q", "-b", "main")
	r.commit("First", map[string]string{".greenlight.yml": buildFile})
	return r
}

// commit writes files and commits them on the current branch.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, body := range files {
		p := filepath.Join(r.dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	runGit(r.t, r.dir, "add", "-A")
	runGit(r.t, r.dir, "commit", "-q", "--allow-empty", "-m", msg)
	return runGit(r.t, r.dir, "rev-parse", "HEAD")
}

// testEngine is an engine on real parts: SQLite, git, processes.
type testEngine struct {
	*Engine
	t     *testing.T
	db    *store.DB
	dir   string
	clock *fakeClock
}

// newTestEngine parses the pipelines section (YAML, indented as under
// "pipelines:") and builds an engine. start: run Start (runs execute).
func newTestEngine(t *testing.T, pipelines string, clock *fakeClock, start bool) *testEngine {
	t.Helper()
	dir := t.TempDir()
	// As root, deploy hooks run as an unprivileged uid that must reach the
	// targets under dir: t.TempDir's parent is 0700.
	os.Chmod(filepath.Dir(dir), 0o711)
	cfgText := "server: {data_dir: " + dir + "}\npipelines:\n" + pipelines
	srv, err := config.Parse(filepath.Join(dir, "greenlight.yml"), []byte(cfgText), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, cfgText)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx := context.Background()
	db, err := store.Open(ctx, "", dir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	run, err := runner.New(runner.Config{Sandbox: runner.SandboxNone, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Now().UTC() }
	cfg := Config{Server: srv, Store: db, Logs: &store.Logs{Dir: filepath.Join(dir, "logs")},
		Git: source.New(filepath.Join(dir, "git"), log), Runner: run,
		Artifacts: &artifact.Store{Dir: filepath.Join(dir, "artifacts")}, Deployer: deploy.New(log),
		Approvals: approval.New(db, now), WorkDir: dir, Now: now, Log: log}
	if clock != nil {
		cfg.Clock = clock
		cfg.Now = func() time.Time { return clock.Now().UTC() }
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	te := &testEngine{Engine: e, t: t, db: db, dir: dir, clock: clock}
	if start {
		if err := e.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			e.Shutdown(ctx)
		})
	}
	return te
}

// runs lists the pipeline's runs, oldest first.
func (te *testEngine) runs(pipeline string) []*greenlight.Run {
	te.t.Helper()
	runs, err := te.db.Runs(context.Background(), greenlight.RunFilter{Pipeline: pipeline, Limit: 1000})
	if err != nil {
		te.t.Fatal(err)
	}
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs
}

// waitFor polls cond until it holds or a minute has passed (a generous
// bound for slow machines, not a speed claim).
func (te *testEngine) waitFor(what string, cond func() bool) {
	te.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			te.t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitRun waits until run id is terminal and returns it.
func (te *testEngine) waitRun(id int64) *greenlight.Run {
	te.t.Helper()
	var run *greenlight.Run
	te.waitFor("run to finish", func() bool {
		r, err := te.db.Run(context.Background(), id)
		run = r
		return err == nil && r.Status.Terminal()
	})
	return run
}

func (te *testEngine) log(id int64, stage string) string {
	b, _ := os.ReadFile(filepath.Join(te.dir, "logs", strconv.FormatInt(id, 10), stage+".log"))
	return string(b)
}

// fakeClock is a Clock that moves only when the test says.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// set moves the clock to t and wakes the sleepers due by then.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// sleepers is how many After calls wait.
func (c *fakeClock) sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}
