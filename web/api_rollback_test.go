package web

import (
	"context"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// Rollback stands in for the orchestrator's (whose rules are tested in
// package orchestrator and end to end): the release of run fromRun, or the
// replaced release before the live one; it creates the rollback run.
func (e *testEngine) Rollback(ctx context.Context, pipeline, env string, fromRun int64) (*greenlight.Run, error) {
	if fromRun > 0 {
		if _, err := e.store.Run(ctx, fromRun); err != nil {
			return nil, err
		}
	}
	rels, err := e.store.Releases(ctx, pipeline, env, 0)
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if (fromRun == 0 && r.Status == greenlight.ReleaseReplaced) || (fromRun > 0 && r.RunID == fromRun) {
			run := &greenlight.Run{Pipeline: pipeline, Status: greenlight.RunQueued, Trigger: greenlight.TriggerRollback,
				Commit: greenlight.Commit{SHA: r.Commit}, Artifact: &greenlight.ArtifactRef{SHA256: r.Artifact},
				CreatedAt: e.now(), Stages: []greenlight.Stage{{Name: env, Type: greenlight.StageDeploy,
					Environment: env, Status: greenlight.StagePending}}}
			return run, e.store.CreateRun(ctx, run)
		}
	}
	return nil, greenlight.Errorf(greenlight.ECONFLICT, "nothing to roll back to")
}

func TestAPIRollback(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	path := "/api/v1/pipelines/hello/environments/production/rollback"

	// Nothing deployed yet: nothing to roll back to.
	if resp, body := e.api("POST", path, "{}"); resp.StatusCode != 409 || !strings.Contains(body, `"error"`) {
		t.Fatalf("rollback of an empty environment = %d %s, want 409", resp.StatusCode, body)
	}
	first, second := e.run(greenlight.RunSucceeded, "First"), e.run(greenlight.RunSucceeded, "Second")
	for _, r := range []*greenlight.Release{
		{Pipeline: "hello", Environment: "production", RunID: first.ID, Commit: sha1, Artifact: strings.Repeat("a", 64),
			Status: greenlight.ReleaseReplaced, DeployedAt: e.clock.Now()},
		{Pipeline: "hello", Environment: "production", RunID: second.ID, Commit: sha2, Artifact: strings.Repeat("b", 64),
			Status: greenlight.ReleaseLive, DeployedAt: e.clock.Now()},
	} {
		if err := e.store.CreateRelease(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, path, body string
		status           int
		commit           string // of the rollback run, on 202
	}{
		{"previous release", path, "{}", 202, sha1},
		{"empty body is {}", path, "", 202, sha1},
		{"a run's release", path, `{"run": ` + itoa(second.ID) + `}`, 202, sha2},
		{"unknown run", path, `{"run": 999}`, 404, ""},
		{"negative run", path, `{"run": -1}`, 400, ""},
		{"run as a string", path, `{"run": "1"}`, 400, ""},
		{"unknown field", path, `{"commit": "abc"}`, 400, ""},
		{"not JSON", path, `{"run": 1`, 400, ""},
		{"trailing data", path, `{} {}`, 400, ""},
		{"unknown pipeline", "/api/v1/pipelines/nope/environments/production/rollback", "{}", 404, ""},
		{"unknown environment", "/api/v1/pipelines/hello/environments/moon/rollback", "{}", 404, ""},
		{"environment of another pipeline", "/api/v1/pipelines/nosecret/environments/production/rollback", "{}", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.api("POST", tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("POST %s %s = %d %s, want %d", tt.path, tt.body, resp.StatusCode, body, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content type %q, want JSON", ct)
			}
			if tt.status != 202 {
				if !strings.Contains(body, `"error":`) {
					t.Errorf("error answer without an error field: %s", body)
				}
				return
			}
			run := decode[greenlight.Run](t, body)
			if run.ID == 0 || run.Trigger != greenlight.TriggerRollback || run.Commit.SHA != tt.commit ||
				len(run.Stages) != 1 || run.Stages[0].Environment != "production" {
				t.Errorf("rollback run = %+v, want a rollback run of %s deploying to production", run, tt.commit)
			}
		})
	}

	if resp, _ := e.do("POST", path, "", strings.NewReader("{}")); resp.StatusCode != 401 {
		t.Errorf("rollback without a token = %d, want 401", resp.StatusCode)
	}
	if resp, _ := e.api("GET", path, ""); resp.StatusCode != 405 && resp.StatusCode != 404 {
		t.Errorf("GET rollback = %d, want 404 or 405", resp.StatusCode)
	}
}
