package orchestrator

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// fleet is one engine over a real SQLite store, a real deployer and local
// targets, with a pipeline "hello" whose production environment has
// len(targets) directories. Runs are made in the store directly: these tests
// are about deploys, not builds.
type fleet struct {
	t         *testing.T
	dir       string
	db        *store.DB
	logs      *store.Logs
	artifacts *artifact.Store
	srv       *config.Server
	env       *config.Environment
	clock     *testClock
	engine    *Engine

	// wrap, if set, wraps the store the engine is given (to break it).
	wrap func(greenlight.Store) greenlight.Store
}

var commits atomic.Int64 // makes each test commit's sha

type testClock struct {
	mu   sync.Mutex
	t    time.Time
	wall bool // follow the wall clock (tests of how long loops sleep)
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		return time.Now().UTC()
	}
	return c.t
}
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFleet(t *testing.T, targets int, strategy config.Strategy) *fleet {
	t.Helper()
	dir := t.TempDir()
	// As root, deploy hooks run as an unprivileged uid that must reach the
	// targets under dir: t.TempDir's parent is 0700.
	os.Chmod(filepath.Dir(dir), 0o711)
	db, err := store.Open(context.Background(), "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fleet{t: t, dir: dir, db: db, logs: &store.Logs{Dir: filepath.Join(dir, "logs")},
		artifacts: &artifact.Store{Dir: filepath.Join(dir, "artifacts")},
		clock:     &testClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}}
	f.env = &config.Environment{Name: "production", Strategy: strategy, Parallel: 10}
	for i := range targets {
		f.env.Targets = append(f.env.Targets, config.Target{Local: filepath.Join(dir, fmt.Sprintf("target%d", i))})
	}
	f.srv = &config.Server{DataDir: dir, Pipelines: []*config.Pipeline{{
		Name: "hello", Mode: config.ModeSuperseded,
		Source: config.Source{Repo: filepath.Join(dir, "no-repo"), Branch: "main"},
		Stages: []config.Stage{
			{Name: "build", Type: greenlight.StageBuild},
			{Name: "production", Type: greenlight.StageDeploy, Environment: "production"},
		},
		Environments: map[string]*config.Environment{"production": f.env},
	}}}
	return f
}

// start starts an engine on the fleet's store (again, after a "crash").
func (f *fleet) start() *Engine {
	f.t.Helper()
	e := f.newEngine()
	if err := e.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return e
}

// newEngine makes an engine on the fleet's store without starting it.
func (f *fleet) newEngine() *Engine {
	f.t.Helper()
	run, err := runner.New(runner.Config{Sandbox: runner.SandboxNone})
	if err != nil {
		f.t.Fatal(err)
	}
	var st greenlight.Store = f.db
	if f.wrap != nil {
		st = f.wrap(st)
	}
	e, err := New(Config{Server: f.srv, Store: st, Logs: f.logs, Git: source.New(filepath.Join(f.dir, "git"), nil),
		Runner: run, Artifacts: f.artifacts, Deployer: deploy.New(nil), Approvals: approval.New(f.db, f.clock.Now),
		WorkDir: f.dir, Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.engine = e
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return e
}

// build packs an artifact whose VERSION file says version, and stores a
// succeeded run of it with hooks.
func (f *fleet) build(version string, hooks greenlight.Hooks) *greenlight.Run {
	f.t.Helper()
	now := f.clock.Now()
	return f.store(&greenlight.Run{Pipeline: "hello", Status: greenlight.RunSucceeded, Trigger: greenlight.TriggerAPI,
		Commit:   greenlight.Commit{SHA: fmt.Sprintf("%040x", commits.Add(1)), Branch: "main", Title: version},
		Artifact: f.pack(version), Hooks: hooks, CreatedAt: now, FinishedAt: &now,
		Stages: []greenlight.Stage{
			{Name: "build", Type: greenlight.StageBuild, Status: greenlight.StageSucceeded},
			{Index: 1, Name: "production", Type: greenlight.StageDeploy, Environment: "production", Status: greenlight.StageSucceeded},
		}})
}

// deploy stores a run of a new build that has only the production stage,
// and starts it.
func (f *fleet) deploy(version string, hooks greenlight.Hooks) *greenlight.Run {
	f.t.Helper()
	run := f.store(&greenlight.Run{Pipeline: "hello", Status: greenlight.RunQueued, Trigger: greenlight.TriggerAPI,
		Commit:   greenlight.Commit{SHA: fmt.Sprintf("%040x", commits.Add(1)), Branch: "main", Title: version},
		Artifact: f.pack(version), Hooks: hooks, CreatedAt: f.clock.Now(),
		Stages: []greenlight.Stage{{Name: "production", Type: greenlight.StageDeploy, Environment: "production",
			Status: greenlight.StagePending}}})
	f.engine.launch(run.ID)
	return run
}

func (f *fleet) store(run *greenlight.Run) *greenlight.Run {
	f.t.Helper()
	if err := f.db.CreateRun(context.Background(), run); err != nil {
		f.t.Fatal(err)
	}
	return run
}

// pack stores an artifact whose VERSION file says version.
func (f *fleet) pack(version string) *greenlight.ArtifactRef {
	f.t.Helper()
	ws := f.t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "VERSION"), []byte(version), 0o644); err != nil {
		f.t.Fatal(err)
	}
	ref, err := f.artifacts.Pack(context.Background(), ws, []string{"VERSION"})
	if err != nil {
		f.t.Fatal(err)
	}
	return &ref
}

// release records run's release of production with status.
func (f *fleet) release(run *greenlight.Run, status greenlight.ReleaseStatus) *greenlight.Release {
	f.t.Helper()
	r := &greenlight.Release{Pipeline: "hello", Environment: "production", RunID: run.ID, Commit: run.Commit.SHA,
		Artifact: run.Artifact.SHA256, Status: status, DeployedAt: f.clock.Now()}
	if err := f.db.CreateRelease(context.Background(), r); err != nil {
		f.t.Fatal(err)
	}
	return r
}

// waitRun waits for the run to reach a terminal status.
func (f *fleet) waitRun(id int64) *greenlight.Run {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		run, err := f.db.Run(context.Background(), id)
		if err != nil {
			f.t.Fatal(err)
		}
		if run.Status.Terminal() {
			return run
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("run %d still %s after 60s; log:\n%s", id, run.Status, f.stageLog(id, "production"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// version is what target i serves: the VERSION of its current release.
func (f *fleet) version(i int) string {
	b, err := os.ReadFile(filepath.Join(f.env.Targets[i].Local, "current", "VERSION"))
	if err != nil {
		return "(none: " + err.Error() + ")"
	}
	return string(b)
}

func (f *fleet) stageLog(id int64, stage string) string {
	r, err := f.logs.Open(id, stage)
	if err != nil {
		return ""
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

func (f *fleet) history() []*greenlight.Release {
	f.t.Helper()
	rels, err := f.db.Releases(context.Background(), "hello", "production", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	return rels
}

// eventually polls cond until it holds, or fails the test after a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func outcomes(r *greenlight.Release) string {
	var parts []string
	for _, t := range r.Targets {
		parts = append(parts, filepath.Base(t.Target)+"="+t.Status)
	}
	return strings.Join(parts, " ")
}
