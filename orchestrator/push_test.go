package orchestrator

import (
	"context"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/webhook"
)

const buildOK = "steps:\n  - name: test\n    run: echo ok\n"

func TestPushFilters(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	te := newTestEngine(t, `
  - name: hello
    source:
      repo: `+repo.dir+`
      branches: [main, "feature-*", "release/*", "!release/old-*"]
      tags: ["v*", "!v*-rc*"]
    stages: [{name: build, type: build}, {name: staging, type: deploy, environment: staging}]
    environments:
      staging: {targets: [{local: /tmp/gl-never}], health: {url: "http://127.0.0.1:1/"}}
  - name: notags
    source: {repo: `+repo.dir+`, branch: main}
    stages: [{name: build, type: build}]
`, nil, false)
	a := strings.Repeat("a", 40)
	b := strings.Repeat("b", 40)
	c := strings.Repeat("c", 40)
	tests := []struct {
		name     string
		pipeline string
		push     webhook.Push
		want     string // the reason; "" = a run starts
		branch   string
		tag      string
	}{
		{"main", "hello", webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: a, After: b, By: "ada@example.com"}, "", "main", ""},
		{"glob", "hello", webhook.Push{Ref: "refs/heads/feature-login", Branch: "feature-login", Before: a, After: b}, "", "feature-login", ""},
		{"glob with slash", "hello", webhook.Push{Ref: "refs/heads/release/1.2", Branch: "release/1.2", Before: a, After: b}, "", "release/1.2", ""},
		{"excluded", "hello", webhook.Push{Ref: "refs/heads/release/old-1", Branch: "release/old-1", Before: a, After: b}, "branch release/old-1 does not match main, feature-*, release/*, !release/old-*", "", ""},
		{"star stops at slash", "hello", webhook.Push{Ref: "refs/heads/feature-x/y", Branch: "feature-x/y", Before: a, After: b}, "branch feature-x/y does not match main, feature-*, release/*, !release/old-*", "", ""},
		{"other branch, literal", "notags", webhook.Push{Ref: "refs/heads/dev", Branch: "dev", Before: a, After: b}, "branch dev is not main", "", ""},
		{"tag", "hello", webhook.Push{Ref: "refs/tags/v1.0.0", Tag: "v1.0.0", Before: strings.Repeat("0", 40), After: b, Created: true}, "", "", "v1.0.0"},
		{"excluded tag", "hello", webhook.Push{Ref: "refs/tags/v1.0.0-rc1", Tag: "v1.0.0-rc1", After: b}, "tag v1.0.0-rc1 does not match v*, !v*-rc*", "", ""},
		{"tags not built", "notags", webhook.Push{Ref: "refs/tags/v1", Tag: "v1", After: b}, "tag v1: the pipeline builds no tags (source.tags is not set)", "", ""},
		{"deleted branch", "hello", webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: a, After: strings.Repeat("0", 40), Deleted: true}, "branch main was deleted", "", ""},
		{"deleted tag", "hello", webhook.Push{Ref: "refs/tags/v2", Tag: "v2", Before: a, After: strings.Repeat("0", 40), Deleted: true}, "tag v2 was deleted", "", ""},
		{"no new commit", "hello", webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: b, After: b}, "the push has no new commit", "", ""},
		{"skip ci", "hello", webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: a, After: b, Message: "Fix typo [skip ci]"}, "the head commit's message says [skip ci]", "", ""},
		{"ci skip", "hello", webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: a, After: b, Message: "Docs\n\n[CI SKIP]"}, "the head commit's message says [ci skip]", "", ""},
		{"forced push runs", "hello", webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: b, After: c, Forced: true}, "", "main", ""},
		{"already built", "hello", webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: a, After: c}, "commit ccccccc of branch main was already built by run #", "", ""},
		{"not a branch", "hello", webhook.Push{Ref: "refs/notes/x", After: b}, "refs/notes/x is not a branch or a tag", "", ""},
		{"ping", "hello", webhook.Push{Ping: true}, "a ping starts nothing", "", ""},
		{"pull request to another base", "hello", webhook.Push{After: b, PullRequest: &greenlight.PullRequest{Number: 7, BaseBranch: "dev", HeadBranch: "x"}}, "pull request #7 targets branch dev does not match main, feature-*, release/*, !release/old-*", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, why, err := te.Push(context.Background(), tt.pipeline, &tt.push)
			if err != nil {
				t.Fatal(err)
			}
			if why != tt.want && (!strings.HasSuffix(tt.want, "#") || !strings.HasPrefix(why, tt.want)) {
				t.Fatalf("reason %q, want %q", why, tt.want)
			}
			if tt.want != "" {
				if run != nil {
					t.Fatalf("ignored push started run %d", run.ID)
				}
				return
			}
			if run == nil {
				t.Fatal("no run")
			}
			stored, err := te.db.Run(context.Background(), run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Commit.Branch != tt.branch || stored.Commit.Tag != tt.tag || stored.Trigger != greenlight.TriggerWebhook {
				t.Errorf("run commit %+v trigger %s, want branch %q tag %q", stored.Commit, stored.Trigger, tt.branch, tt.tag)
			}
			if stored.TriggeredBy != tt.push.By {
				t.Errorf("triggered_by %q, want the pusher %q", stored.TriggeredBy, tt.push.By)
			}
		})
	}
	// A delivery seen before starts nothing.
	p := webhook.Push{Ref: "refs/heads/main", Branch: "main", Before: c, After: strings.Repeat("d", 40), DeliveryID: "d-1"}
	if run, why, err := te.Push(context.Background(), "hello", &p); err != nil || run == nil || why != "" {
		t.Fatalf("first delivery: %v %q %v", run, why, err)
	}
	if run, why, err := te.Push(context.Background(), "hello", &p); err != nil || run != nil || why != "delivery d-1 was already handled" {
		t.Fatalf("second delivery: %v %q %v", run, why, err)
	}
}

func TestPullRequestRunIsBuildOnly(t *testing.T) {
	repo := newGitRepo(t, "steps:\n  - name: env\n    run: 'if [ -n \"${API_TOKEN:-}\" ]; then echo secret-set; else echo secret-unset; fi; echo pr=$GREENLIGHT_PULL_REQUEST branch=$GREENLIGHT_BRANCH'\nartifacts: [.greenlight.yml]\n")
	runGit(t, repo.dir, "checkout", "-q", "-b", "feature")
	head := repo.commit("Feature work", map[string]string{"f.txt": "x"})
	// GitHub publishes a pull request's head in the base repository.
	runGit(t, repo.dir, "update-ref", "refs/pull/9/head", head)
	runGit(t, repo.dir, "checkout", "-q", "main")
	runGit(t, repo.dir, "branch", "-D", "feature")
	te := newTestEngine(t, `
  - name: hello
    mode: queued
    source: {repo: `+repo.dir+`, branch: main}
    secrets: {API_TOKEN: tok-0123456789}
    stages:
      - {name: build, type: build}
      - {name: staging, type: deploy, environment: staging}
      - {name: approval, type: approval, approvers: [pm@example.com]}
    environments:
      staging: {targets: [{local: `+t.TempDir()+`/staging}], health: {url: "http://127.0.0.1:1/"}}
`, nil, true)
	te.sandbox() // pull requests build only in bwrap
	run, why, err := te.Push(context.Background(), "hello", &webhook.Push{After: head, DeliveryID: "pr-1",
		PullRequest: &greenlight.PullRequest{Number: 9, Title: "Feature", BaseBranch: "main", HeadBranch: "feature",
			HeadRepo: "https://example.com/fork.git"}})
	if err != nil || run == nil {
		t.Fatalf("push: %v %q %v", run, why, err)
	}
	got := te.waitRun(run.ID)
	if got.Status != greenlight.RunSucceeded || got.PullRequest == nil || got.PullRequest.Number != 9 {
		t.Fatalf("run %s (%s), pull request %+v", got.Status, got.Error, got.PullRequest)
	}
	want := map[string]greenlight.StageStatus{"build": greenlight.StageSucceeded, "staging": greenlight.StageSkipped, "approval": greenlight.StageSkipped}
	for _, s := range got.Stages {
		if s.Status != want[s.Name] {
			t.Errorf("stage %s is %s, want %s", s.Name, s.Status, want[s.Name])
		}
		if s.Name != "build" && s.Error != "pull request: build only" {
			t.Errorf("stage %s reason %q", s.Name, s.Error)
		}
	}
	log := te.log(run.ID, "build")
	if !strings.Contains(log, "secret-unset") || !strings.Contains(log, "pr=9 branch=feature") {
		t.Errorf("build log:\n%s", log)
	}
	if rel, err := te.db.Releases(context.Background(), "hello", "staging", 0); err != nil || len(rel) != 0 {
		t.Errorf("a pull request deployed: %v %v", rel, err)
	}

	// The same pipeline's own commit gets the secret, masked in the log.
	id, err := te.Trigger(context.Background(), "hello", greenlight.TriggerRequest{Commit: runGit(t, repo.dir, "rev-parse", "HEAD")})
	if err != nil {
		t.Fatal(err)
	}
	te.waitFor("the branch build", func() bool {
		r, _ := te.db.Run(context.Background(), id.ID)
		return r != nil && r.Stages[0].Status.Terminal()
	})
	if log := te.log(id.ID, "build"); !strings.Contains(log, "secret-set") {
		t.Errorf("branch build log:\n%s", log)
	}
}

func TestPullRequestNewHeadSupersedesOlder(t *testing.T) {
	repo := newGitRepo(t, buildOK)
	te := newTestEngine(t, `
  - name: hello
    source: {repo: `+repo.dir+`, branch: main}
    stages: [{name: build, type: build}]
`, nil, false)
	ctx := context.Background()
	pr := func(n int, head, delivery string) *greenlight.Run {
		t.Helper()
		run, why, err := te.Push(ctx, "hello", &webhook.Push{After: head, DeliveryID: delivery,
			PullRequest: &greenlight.PullRequest{Number: n, BaseBranch: "main", HeadBranch: "x"}})
		if err != nil || run == nil {
			t.Fatalf("pull request %d: %v %q", n, err, why)
		}
		return run
	}
	first := pr(3, strings.Repeat("a", 40), "d1")
	other := pr(4, strings.Repeat("b", 40), "d2")
	branch, err := te.Trigger(ctx, "hello", greenlight.TriggerRequest{Commit: strings.Repeat("c", 40)})
	if err != nil {
		t.Fatal(err)
	}
	second := pr(3, strings.Repeat("d", 40), "d3")
	want := map[int64]greenlight.RunStatus{first.ID: greenlight.RunSuperseded, other.ID: greenlight.RunQueued,
		branch.ID: greenlight.RunQueued, second.ID: greenlight.RunQueued}
	for id, status := range want {
		r, err := te.db.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != status {
			t.Errorf("run %d is %s, want %s (%s)", id, r.Status, status, r.Error)
		}
	}
	if r, _ := te.db.Run(ctx, first.ID); !strings.Contains(r.Error, "a newer head of pull request #3") {
		t.Errorf("reason %q", r.Error)
	}
}
