package orchestrator

import (
	"testing"

	"github.com/greenlight-cd/greenlight"
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
