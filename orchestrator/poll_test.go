package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/webhook"
)

func TestPollBranchesAndTags(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	runGit(t, repo.dir, "tag", "v0.9")           // exists before the start: noted, not built
	runGit(t, repo.dir, "branch", "feature-old") // likewise
	te := newTestEngine(t, `
  - name: hello
    source: {repo: `+repo.dir+`, branches: [main, "feature-*"], tags: ["v*"], poll: 1s}
    stages: [{name: build, type: build}]
`, nil, true)
	find := func(match func(r *greenlight.Run) bool) *greenlight.Run {
		for _, r := range te.runs("hello") {
			if match(r) {
				return r
			}
		}
		return nil
	}
	head := runGit(t, repo.dir, "rev-parse", "HEAD")
	te.waitFor("the fresh server's build of main", func() bool {
		return find(func(r *greenlight.Run) bool { return r.Commit.Branch == "main" && r.Commit.SHA == head }) != nil
	})
	runGit(t, repo.dir, "checkout", "-q", "-b", "feature-new")
	fsha := repo.commit("Feature", nil)
	runGit(t, repo.dir, "checkout", "-q", "main")
	runGit(t, repo.dir, "tag", "-a", "-m", "Release 1", "v1.0", fsha)
	runGit(t, repo.dir, "tag", "other", fsha)
	te.waitFor("the new branch and the new tag", func() bool {
		return find(func(r *greenlight.Run) bool { return r.Commit.Branch == "feature-new" && r.Commit.SHA == fsha }) != nil &&
			find(func(r *greenlight.Run) bool { return r.Commit.Tag == "v1.0" && r.Commit.SHA == fsha }) != nil
	})
	skip := repo.commit("Docs only [skip ci]", nil)
	next := repo.commit("Next", nil)
	te.waitFor("main's new head", func() bool {
		return find(func(r *greenlight.Run) bool { return r.Commit.SHA == next }) != nil
	})
	for _, r := range te.runs("hello") {
		switch {
		case r.Trigger != greenlight.TriggerPoll:
			t.Errorf("run %d has trigger %s, want poll", r.ID, r.Trigger)
		case r.Commit.Tag == "v0.9" || r.Commit.Tag == "other" || r.Commit.Branch == "feature-old":
			t.Errorf("run %d built %+v, which existed before the start or is not wanted", r.ID, r.Commit)
		case r.Commit.SHA == skip:
			t.Errorf("run %d built a [skip ci] commit", r.ID)
		}
	}
	if n := len(te.runs("hello")); n != 4 {
		t.Errorf("%d runs, want 4 (main twice, feature-new, v1.0)", n)
	}
}

// TestWebhookAndPollBuildOnce: a pipeline with a webhook and polling hears
// of each push twice; whichever comes first builds it, the other says why
// not, even when they race.
func TestWebhookAndPollBuildOnce(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	te := newTestEngine(t, `
  - name: hello
    source: {repo: `+repo.dir+`, branch: main, poll: 1m}
    stages: [{name: build, type: build}]
`, nil, false)
	ctx := context.Background()
	p, err := te.pipeline("hello")
	if err != nil {
		t.Fatal(err)
	}
	before := strings.Repeat("a", 40)
	push := func(sha, delivery string) (*greenlight.Run, string) {
		t.Helper()
		run, why, err := te.Push(ctx, "hello", &webhook.Push{Ref: "refs/heads/main", Branch: "main",
			Before: before, After: sha, DeliveryID: delivery})
		if err != nil {
			t.Fatalf("push %s: %v", delivery, err)
		}
		return run, why
	}
	count := func(sha string) int {
		n := 0
		for _, r := range te.runs("hello") {
			if r.Commit.SHA == sha {
				n++
			}
		}
		return n
	}

	// The webhook first, then the poll and another delivery of the push.
	first := runGit(t, repo.dir, "rev-parse", "HEAD")
	run, why := push(first, "d1")
	if run == nil {
		t.Fatalf("webhook: no run (%s)", why)
	}
	if !te.pollRef(ctx, p, "refs/heads/main", "", first) {
		t.Error("poll: the commit was not dealt with")
	}
	_, why = push(first, "d2")
	if want := fmt.Sprintf("commit %s of branch main was already built by run #%d", first[:7], run.ID); why != want {
		t.Errorf("second delivery: reason %q, want %q", why, want)
	}
	if n := count(first); n != 1 {
		t.Errorf("%d runs of the first commit, want 1", n)
	}

	// The poll first, then the webhook.
	second := repo.commit("Second", nil)
	if !te.pollRef(ctx, p, "refs/heads/main", first, second) || count(second) != 1 {
		t.Fatalf("poll: %d runs of the second commit, want 1", count(second))
	}
	polled := te.runs("hello")[len(te.runs("hello"))-1]
	if run, why = push(second, "d3"); run != nil || !strings.Contains(why, fmt.Sprintf("by run #%d", polled.ID)) {
		t.Errorf("webhook after poll: run %v, reason %q", run, why)
	}
	// Through Trigger, a webhook's request for a built commit is a conflict.
	if _, err := te.Trigger(ctx, "hello", greenlight.TriggerRequest{Commit: second, Trigger: greenlight.TriggerWebhook}); greenlight.ErrorCode(err) != greenlight.ECONFLICT {
		t.Errorf("Trigger(webhook) of a built commit: %v, want a conflict", err)
	}
	// A manual run rebuilds on purpose.
	if _, err := te.Trigger(ctx, "hello", greenlight.TriggerRequest{Commit: second}); err != nil || count(second) != 2 {
		t.Errorf("manual rebuild: %v, %d runs", err, count(second))
	}

	// Both at once, several times over: one run.
	third := repo.commit("Third", nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() { defer wg.Done(); te.pollRef(ctx, p, "refs/heads/main", second, third) }()
		go func() {
			defer wg.Done()
			te.Push(ctx, "hello", &webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: second, After: third,
				DeliveryID: fmt.Sprintf("race-%d", i)})
		}()
	}
	wg.Wait()
	if n := count(third); n != 1 {
		t.Errorf("racing webhooks and polls: %d runs of the third commit, want 1", n)
	}
}
