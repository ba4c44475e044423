package orchestrator

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/runner"
	"github.com/greenlight-cd/greenlight/webhook"
)

// sandbox makes te's builds run in bwrap, hiding the data dir as the server
// does; pull requests build only there. Call it before any run starts.
func (te *testEngine) sandbox() {
	te.t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") != "" {
			te.t.Fatalf("bwrap is required on CI: %v", err)
		}
		te.t.Skipf("bwrap not installed (apt-get install -y bubblewrap): %v", err)
	}
	r, err := runner.New(runner.Config{Sandbox: runner.SandboxBwrap, Hide: []string{te.dir}})
	if err != nil {
		te.t.Fatal(err)
	}
	te.Engine.cfg.Runner = r
}

// pushPR sends pull request n at head and returns its finished run.
func (te *testEngine) pushPR(n int, head, delivery string) *greenlight.Run {
	te.t.Helper()
	run, why, err := te.Push(context.Background(), "hello", &webhook.Push{After: head, DeliveryID: delivery,
		PullRequest: &greenlight.PullRequest{Number: n, BaseBranch: "main", HeadBranch: "feature",
			HeadRepo: "https://example.com/fork.git"}})
	if err != nil || run == nil {
		te.t.Fatalf("push pull request %d: %v %q %v", n, run, why, err)
	}
	return te.waitRun(run.ID)
}

// Without bwrap a pull request's steps never run: the build fails and says
// why, where an unconfined fork's step could read the server's secrets.
func TestPullRequestNeedsSandbox(t *testing.T) {
	outside := t.TempDir()
	marker := filepath.Join(outside, "ran")
	repo := newGitRepo(t, "steps:\n  - name: probe\n    run: touch "+marker+"\n")
	head := runGit(t, repo.dir, "rev-parse", "HEAD")
	te := newTestEngine(t, `
  - name: hello
    source: {repo: `+repo.dir+`, branch: main}
    stages: [{name: build, type: build}]
`, nil, true)
	run := te.pushPR(3, head, "pr-3")
	const want = "pull-request builds need the bubblewrap sandbox: install bubblewrap"
	if run.Status != greenlight.RunFailed || !strings.Contains(run.Stages[0].Error, want) {
		t.Fatalf("run %s, build %s (%q); want failed with %q", run.Status, run.Stages[0].Status, run.Stages[0].Error, want)
	}
	if log := te.log(run.ID, "build"); !strings.Contains(log, want) {
		t.Errorf("build log lacks the reason:\n%s", log)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the pull request's step ran without a sandbox")
	}
	// The same commit on the branch itself still builds without bwrap.
	id, err := te.Trigger(context.Background(), "hello", greenlight.TriggerRequest{Commit: head})
	if err != nil {
		t.Fatal(err)
	}
	if r := te.waitRun(id.ID); r.Status != greenlight.RunSucceeded {
		t.Fatalf("branch build: %s (%s)", r.Status, r.Error)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the branch build's step did not run: %v", err)
	}
}

// A pull request builds with an empty cache of its own, removed after: it
// neither reads what trusted builds cached nor leaves anything that the
// pipeline's next build would reuse.
func TestPullRequestCacheIsThrowaway(t *testing.T) {
	repo := newGitRepo(t, `steps:
  - name: cache
    run: |
      echo "cache=$XDG_CACHE_HOME"
      if [ -n "${GREENLIGHT_PULL_REQUEST:-}" ]; then
        if [ -e "$XDG_CACHE_HOME/trusted" ]; then echo pr-sees-trusted; fi
        touch "$XDG_CACHE_HOME/planted"
      else
        if [ -e "$XDG_CACHE_HOME/planted" ]; then echo trusted-sees-planted; fi
        touch "$XDG_CACHE_HOME/trusted"
      fi
`)
	head := runGit(t, repo.dir, "rev-parse", "HEAD")
	te := newTestEngine(t, `
  - name: hello
    mode: queued
    source: {repo: `+repo.dir+`, branch: main}
    stages: [{name: build, type: build}]
`, nil, true)
	te.sandbox()
	ctx := context.Background()
	trusted := func() string {
		t.Helper()
		id, err := te.Trigger(ctx, "hello", greenlight.TriggerRequest{Commit: head})
		if err != nil {
			t.Fatal(err)
		}
		if r := te.waitRun(id.ID); r.Status != greenlight.RunSucceeded {
			t.Fatalf("trusted build: %s (%s)\n%s", r.Status, r.Error, te.log(id.ID, "build"))
		}
		return te.log(id.ID, "build")
	}
	shared := filepath.Join(te.dir, "cache", "hello", "branch", "main")
	if log := trusted(); !strings.Contains(log, "cache="+shared) {
		t.Fatalf("trusted build does not use %s:\n%s", shared, log)
	}

	run := te.pushPR(4, head, "pr-4")
	log := te.log(run.ID, "build")
	if run.Status != greenlight.RunSucceeded {
		t.Fatalf("pull request build: %s (%s)\n%s", run.Status, run.Error, log)
	}
	if strings.Contains(log, "pr-sees-trusted") || strings.Contains(log, "cache="+shared) {
		t.Errorf("the pull request saw the pipeline's cache:\n%s", log)
	}
	i := strings.Index(log, "cache=")
	if i < 0 {
		t.Fatalf("no cache line:\n%s", log)
	}
	own := strings.Fields(log[i+len("cache="):])[0]
	if _, err := os.Stat(own); err == nil {
		t.Errorf("the pull request's cache %s is still there", own)
	}
	if _, err := os.Stat(filepath.Join(shared, "planted")); err == nil {
		t.Error("the pull request wrote into the pipeline's cache")
	}
	if log := trusted(); strings.Contains(log, "trusted-sees-planted") {
		t.Errorf("the next trusted build reused the pull request's cache:\n%s", log)
	}
}

// A pull request's submodules are fetched as an untrusted commit's: here a
// submodule on the server's disk, which the pipeline's own commits may use,
// fails the pull request's checkout.
func TestPullRequestSubmodulesUntrusted(t *testing.T) {
	lib := newGitRepo(t, buildOK)
	repo := newGitRepo(t, buildOK)
	runGit(t, repo.dir, "-c", "protocol.file.allow=always", "submodule", "--quiet", "add", lib.dir, "vendor/lib")
	runGit(t, repo.dir, "commit", "-q", "-m", "add lib")
	head := runGit(t, repo.dir, "rev-parse", "HEAD")
	te := newTestEngine(t, `
  - name: hello
    mode: queued
    source: {repo: `+repo.dir+`, branch: main, submodules: true}
    stages: [{name: build, type: build}]
`, nil, true)
	te.sandbox()
	id, err := te.Trigger(context.Background(), "hello", greenlight.TriggerRequest{Commit: head})
	if err != nil {
		t.Fatal(err)
	}
	if r := te.waitRun(id.ID); r.Status != greenlight.RunSucceeded {
		t.Fatalf("branch build: %s (%s)\n%s", r.Status, r.Error, te.log(id.ID, "build"))
	}
	run := te.pushPR(5, head, "pr-5")
	if run.Status != greenlight.RunFailed || !strings.Contains(run.Stages[0].Error, "untrusted commit") {
		t.Fatalf("pull request with a local submodule: %s (%q), want failed as untrusted", run.Status, run.Stages[0].Error)
	}
}

// Each branch builds with a cache of its own: what a feature branch's build
// writes there, main's next build never reads. `cache: shared` opts into
// one cache for every branch.
func TestBranchCaches(t *testing.T) {
	repo := newGitRepo(t, `steps:
  - name: cache
    run: |
      echo "branch=$GREENLIGHT_BRANCH cache=$XDG_CACHE_HOME"
      if [ -e "$XDG_CACHE_HOME/planted" ]; then echo "sees-planted"; fi
      if [ "$GREENLIGHT_BRANCH" != main ]; then touch "$XDG_CACHE_HOME/planted"; fi
`)
	head := runGit(t, repo.dir, "rev-parse", "HEAD")
	runGit(t, repo.dir, "branch", "feature/x", head)
	for _, tt := range []struct {
		cache      string
		mainSeesIt bool
	}{{"branch", false}, {"shared", true}} {
		t.Run(tt.cache, func(t *testing.T) {
			te := newTestEngine(t, `
  - name: hello
    mode: queued
    source: {repo: `+repo.dir+`, branches: [main, "feature/*"]}
    stages: [{name: build, type: build, cache: `+tt.cache+`}]
`, nil, true)
			te.sandbox()
			build := func(branch string) string {
				t.Helper()
				id, err := te.Trigger(context.Background(), "hello", greenlight.TriggerRequest{Commit: head, Branch: branch})
				if err != nil {
					t.Fatal(err)
				}
				if r := te.waitRun(id.ID); r.Status != greenlight.RunSucceeded {
					t.Fatalf("%s build: %s (%s)\n%s", branch, r.Status, r.Error, te.log(id.ID, "build"))
				}
				return te.log(id.ID, "build")
			}
			build("feature/x")
			if log := build("main"); strings.Contains(log, "sees-planted") != tt.mainSeesIt {
				t.Errorf("cache: %s: main's build sees what feature/x wrote: %v, want %v\n%s", tt.cache, !tt.mainSeesIt, tt.mainSeesIt, log)
			}
		})
	}
}
