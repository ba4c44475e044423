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
		if os.Getenv("CI") == "true" {
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
