package orchestrator

import (
	"context"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/webhook"
)

func TestPathsFilter(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	te := newTestEngine(t, `
  - name: hello
    source: {repo: `+repo.dir+`, branches: [main, "feature-*"], paths: ["src/**", "!src/**/*.md"]}
    stages: [{name: build, type: build}]
`, nil, false)
	ctx := context.Background()
	push := func(branch, before, after string) (*greenlight.Run, string) {
		t.Helper()
		run, why, err := te.Push(ctx, "hello", &webhook.Push{Ref: "refs/heads/" + branch, Branch: branch, Before: before, After: after})
		if err != nil {
			t.Fatal(err)
		}
		return run, why
	}
	base := runGit(t, repo.dir, "rev-parse", "HEAD")
	src1 := repo.commit("Code", map[string]string{"src/a.go": "package a"})
	if run, why := push("main", base, src1); run == nil {
		t.Fatalf("a change under src/ started nothing: %s", why)
	}
	docs := repo.commit("Docs", map[string]string{"docs/x.md": "x", "src/README.md": "read me"})
	if run, why := push("main", src1, docs); run != nil || why != "no changed file matches paths" {
		t.Fatalf("docs only: run %v, reason %q", run, why)
	}
	// The next push is compared with the last built commit (src1), not with
	// its own "before": here a forced push whose before is unrelated.
	code := repo.commit("More code", map[string]string{"src/b.go": "package b"})
	runGit(t, repo.dir, "reset", "-q", "--soft", src1)
	both := repo.commit("Squashed", map[string]string{})
	if run, why := push("main", code, both); run == nil {
		t.Fatalf("forced push with a change under src/ since the last build started nothing: %s", why)
	}
	if last, err := te.db.LastBuilt(ctx, "hello", "refs/heads/main"); err != nil || last != both {
		t.Fatalf("last built %s, %v; want %s", last, err, both)
	}
	// A new branch: nothing built there yet; its "before" is all zeros, so
	// every file of the commit counts.
	runGit(t, repo.dir, "checkout", "-q", "-b", "feature-x")
	fx := repo.commit("Feature docs", map[string]string{"docs/y.md": "y"})
	if run, why := push("feature-x", zeroSHA, fx); run == nil {
		t.Fatalf("a new branch with code in it started nothing: %s", why)
	}
	fx2 := repo.commit("More feature docs", map[string]string{"docs/z.md": "z"})
	if run, why := push("feature-x", fx, fx2); run != nil || why != "no changed file matches paths" {
		t.Fatalf("feature docs: run %v, reason %q", run, why)
	}
}

func TestQueuedRunsGoInCommitOrder(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	te := newTestEngine(t, `
  - name: hello
    mode: queued
    source: {repo: `+repo.dir+`, branch: main}
    stages: [{name: build, type: build}]
`, nil, false)
	ctx := context.Background()
	c1 := repo.commit("One", nil)
	c2 := repo.commit("Two", nil)
	c3 := repo.commit("Three", nil)
	// Deliveries arrive out of order: Three, One, Two.
	var runs []*greenlight.Run
	for _, sha := range []string{c3, c1, c2} {
		r, err := te.Trigger(ctx, "hello", greenlight.TriggerRequest{Commit: sha, Trigger: greenlight.TriggerWebhook})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	p := te.cfg.Server.Pipeline("hello")
	order := []string{}
	for len(runs) > 0 {
		next := te.firstInCommitOrder(ctx, p, runs)
		order = append(order, next.Commit.SHA)
		for i, r := range runs {
			if r.ID == next.ID {
				runs = append(runs[:i], runs[i+1:]...)
				break
			}
		}
	}
	want := []string{c1, c2, c3}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestLiveIsNewerFollowsCommits(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	te := newTestEngine(t, `
  - name: hello
    source: {repo: `+repo.dir+`, branch: main}
    stages: [{name: build, type: build}]
`, nil, false)
	c1 := repo.commit("One", nil)
	c2 := repo.commit("Two", nil)
	runGit(t, repo.dir, "checkout", "-q", "-b", "side", c1)
	side := repo.commit("Side", nil)
	p := te.cfg.Server.Pipeline("hello")
	tests := []struct {
		name       string
		runID      int64
		runCommit  string
		liveRun    int64
		liveCommit string
		want       bool
	}{
		{"older commit, later run: live is newer", 5, c1, 4, c2, true},
		{"newer commit, earlier run: live is older", 4, c2, 5, c1, false},
		{"same commit: by run", 4, c1, 5, c1, true},
		{"unrelated commits: by run", 4, side, 5, c2, true},
		{"unrelated commits: by run, other way", 6, side, 5, c2, false},
	}
	for _, tt := range tests {
		run := &greenlight.Run{ID: tt.runID, Commit: greenlight.Commit{SHA: tt.runCommit}}
		if got := te.liveIsNewer(context.Background(), p, run, tt.liveRun, tt.liveCommit); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
