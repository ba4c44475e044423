package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// showEnv is build steps that show what they were given, then build.
const showEnv = `  - name: env
    run: 'echo "branch=$GREENLIGHT_BRANCH tag=${GREENLIGHT_TAG:-} param=${GREENLIGHT_PARAM_TARGET:-} pr=${GREENLIGHT_PULL_REQUEST:-}"; if [ -n "${API_TOKEN:-}" ]; then echo "secret-set token=$API_TOKEN"; else echo secret-unset; fi'
  - name: build
    run: mkdir -p dist && cp bin/app dist/app
`

// TestTriggerFilters: branch globs and excludes, tag globs, [skip ci],
// deletions, pushes with no new commit, forced pushes, and a paths filter,
// through signed GitHub webhooks to the built server.
func TestTriggerFilters(t *testing.T) {
	t.Parallel()
	r := newRepo(t, showEnv, false)
	s := startPipelines(t, r, `
  - name: hello
    source:
      repo: {{REPO}}
      branches: [main, "feature-*", "!feature-wip*"]
      tags: ["v*"]
      webhook_secret: ${HOOK_SECRET}
    stages: [{name: build, type: build, timeout: 2m}]
  - name: docs
    source:
      repo: {{REPO}}
      branch: main
      paths: ["docs/**", "!docs/drafts/**"]
      webhook_secret: ${HOOK_SECRET}
    stages: [{name: build, type: build, timeout: 2m}]
`)
	base := r.head()
	c1 := r.commit("Code change", map[string]string{"src/a.txt": "a"})
	c2 := r.commit("Skip me [skip ci]", map[string]string{"src/b.txt": "b"})
	// A commit main never had: a push heard before is not built twice.
	c3 := r.commit("Rewritten history", map[string]string{"src/c.txt": "c"})
	tests := []struct {
		name, pipeline, ref, before, after, message string
		forced                                      bool
		want                                        string // reason; "" = a run
	}{
		{"main", "hello", "refs/heads/main", base, c1, "Code change", false, ""},
		{"feature glob", "hello", "refs/heads/feature-login", zeros, c1, "Code change", false, ""},
		{"excluded glob", "hello", "refs/heads/feature-wip-x", zeros, c1, "Code change", false, "branch feature-wip-x does not match main, feature-*, !feature-wip*"},
		{"other branch", "hello", "refs/heads/dev", zeros, c1, "Code change", false, "branch dev does not match main, feature-*, !feature-wip*"},
		{"tag", "hello", "refs/tags/v1.0.0", zeros, c1, "Code change", false, ""},
		{"other tag", "hello", "refs/tags/nightly", zeros, c1, "Code change", false, "tag nightly does not match v*"},
		{"skip ci", "hello", "refs/heads/main", c1, c2, "Skip me [skip ci]", false, "the head commit's message says [skip ci]"},
		{"deleted", "hello", "refs/heads/feature-login", c1, zeros, "", false, "branch feature-login was deleted"},
		{"no new commit", "hello", "refs/heads/main", c1, c1, "Code change", false, "the push has no new commit"},
		{"forced", "hello", "refs/heads/main", c2, c3, "Rewritten history", true, ""},
		{"paths: code only", "docs", "refs/heads/main", base, c1, "Code change", false, "no changed file matches paths"},
	}
	started := map[string]int64{}
	for i, tt := range tests {
		id, why := s.send(tt.pipeline, "push", fmt.Sprintf("filters-%d", i), pushEvent(tt.ref, tt.before, tt.after, tt.message, tt.forced))
		if why != tt.want || (tt.want == "") != (id != 0) {
			t.Errorf("%s: run %d, reason %q; want reason %q", tt.name, id, why, tt.want)
		}
		if id != 0 {
			started[tt.name] = id
		}
	}
	// Paths: a draft only starts nothing; a page under docs/ does, compared
	// with the last built commit (none yet: the push's before).
	draft := r.commit("Draft", map[string]string{"docs/drafts/x.md": "x"})
	if id, why := s.send("docs", "push", "docs-1", pushEvent("refs/heads/main", c2, draft, "Draft", false)); id != 0 || why != "no changed file matches paths" {
		t.Errorf("draft: run %d, reason %q", id, why)
	}
	page := r.commit("Page", map[string]string{"docs/index.md": "hello"})
	if id, why := s.send("docs", "push", "docs-2", pushEvent("refs/heads/main", draft, page, "Page", false)); id == 0 {
		t.Errorf("page: %s", why)
	} else {
		started["docs page"] = id
	}

	for name, id := range started {
		run := s.waitRun(id, 2*time.Minute, greenlight.RunSucceeded, greenlight.RunFailed)
		if run.Status != greenlight.RunSucceeded {
			t.Errorf("%s: run %d %s: %s", name, id, run.Status, run.Error)
		}
	}
	tag := s.run(started["tag"])
	if tag.Commit.Tag != "v1.0.0" || tag.Commit.Branch != "" {
		t.Errorf("tag run commit %+v", tag.Commit)
	}
	if log := s.stageLog(tag.ID, "build"); !strings.Contains(log, "branch= tag=v1.0.0") {
		t.Errorf("tag build log:\n%s", log)
	}
	var raw map[string]any
	_, body := s.api("GET", fmt.Sprintf("/api/v1/runs/%d", started["feature glob"]), nil)
	json.Unmarshal(body, &raw)
	if c, _ := raw["commit"].(map[string]any); c["branch"] != "feature-login" || c["tag"] != nil {
		t.Errorf("branch run's commit JSON: %v", c)
	}
	if n := len(s.runs("hello")); n != 4 {
		t.Errorf("pipeline hello has %d runs, want 4", n)
	}
	if n := len(s.runs("docs")); n != 1 {
		t.Errorf("pipeline docs has %d runs, want 1", n)
	}
}

// TestTriggerPullRequestAndSecrets: a pull request builds without the
// pipeline's secrets and deploys nothing; the branch build gets the secret,
// masked in its log; manual runs take params.
func TestTriggerPullRequestAndSecrets(t *testing.T) {
	t.Parallel()
	r := newRepo(t, showEnv, false)
	git(t, r.dir, "checkout", "-q", "-b", "feature")
	head := r.commit("Feature", map[string]string{"f.txt": "f"})
	git(t, r.dir, "update-ref", "refs/pull/5/head", head) // as GitHub keeps it
	git(t, r.dir, "checkout", "-q", "main")
	s := startPipelines(t, r, `
  - name: hello
    source: {repo: "{{REPO}}", branch: main, webhook_secret: "${HOOK_SECRET}"}
    secrets: {API_TOKEN: "tok-e2e-0123456789"}
    stages:
      - {name: build, type: build, timeout: 2m}
      - {name: staging, type: deploy, environment: staging}
      - {name: approval, type: approval, approvers: [pm@example.com]}
    environments:
      staging:
        targets: [{local: "{{DIR}}/staging", env: {PORT: "{{PORT}}"}}]
        health: {url: "http://127.0.0.1:{{PORT}}/healthz", timeout: 20s}
`)
	id, why := s.send("hello", "pull_request", "pr-1", pullEvent("opened", 5, head, "feature", "main"))
	if id == 0 {
		t.Fatalf("pull request started nothing: %s", why)
	}
	run := s.waitRun(id, 2*time.Minute, greenlight.RunSucceeded, greenlight.RunFailed)
	if run.Status != greenlight.RunSucceeded || run.PullRequest == nil || run.PullRequest.Number != 5 {
		t.Fatalf("pull request run: %s (%s), %+v", run.Status, run.Error, run.PullRequest)
	}
	for _, st := range run.Stages[1:] {
		if st.Status != greenlight.StageSkipped || st.Error != "pull request: build only" {
			t.Errorf("stage %s: %s %q", st.Name, st.Status, st.Error)
		}
	}
	if log := s.stageLog(id, "build"); !strings.Contains(log, "secret-unset") || !strings.Contains(log, "branch=feature tag= param= pr=5") {
		t.Errorf("pull request build log:\n%s", log)
	}
	if id, why := s.send("hello", "pull_request", "pr-2", pullEvent("closed", 5, head, "feature", "main")); id != 0 {
		t.Errorf("a closed pull request started run %d (%s)", id, why)
	}

	// A manual run with params: the secret is there, and masked.
	code, body := s.api("POST", "/api/v1/pipelines/hello/runs", map[string]any{"params": map[string]string{"TARGET": "eu-west"}})
	if code != 201 {
		t.Fatalf("manual run: %d %s", code, body)
	}
	var manual greenlight.Run
	json.Unmarshal(body, &manual)
	s.waitRun(manual.ID, 2*time.Minute, greenlight.RunWaiting, greenlight.RunFailed)
	log := s.stageLog(manual.ID, "build")
	if !strings.Contains(log, "param=eu-west") || !strings.Contains(log, "secret-set token=***") || strings.Contains(log, "tok-e2e-0123456789") {
		t.Errorf("manual build log:\n%s", log)
	}
	if strings.Contains(s.out.String(), "tok-e2e-0123456789") {
		t.Error("the secret is in the server's log")
	}
	for _, bad := range []map[string]any{
		{"params": map[string]string{"target": "x"}},
		{"params": map[string]string{"X": strings.Repeat("v", 4097)}},
		{"branch": "-x"},
	} {
		if code, body := s.api("POST", "/api/v1/pipelines/hello/runs", bad); code != 400 || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%v: %d %s", bad, code, body)
		}
	}
}
