package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Lock, Unlock, DeployGate and Override stand in for the orchestrator's
// (whose rules are tested there and end to end): locks in the real store, a
// fixed next window for production (when windows is set), and an override
// of a waiting run.
func (e *testEngine) Lock(ctx context.Context, pipeline, env, by, reason string) (*greenlight.EnvironmentLock, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, greenlight.Errorf(greenlight.EINVALID, "a lock needs a reason")
	}
	l := &greenlight.EnvironmentLock{Pipeline: pipeline, Environment: env, Reason: reason, By: by, At: e.now()}
	ok, err := e.store.LockEnvironment(ctx, l)
	if err == nil && !ok {
		err = greenlight.Errorf(greenlight.ECONFLICT, "%s is locked already", env)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (e *testEngine) Unlock(ctx context.Context, pipeline, env, by string) error {
	ok, err := e.store.UnlockEnvironment(ctx, pipeline, env)
	if err == nil && !ok {
		err = greenlight.Errorf(greenlight.ECONFLICT, "%s is not locked", env)
	}
	return err
}

var testNextWindow = time.Date(2026, 1, 5, 9, 0, 0, 0, time.FixedZone("CET", 3600))

func (e *testEngine) DeployGate(ctx context.Context, pipeline, env string) (*greenlight.DeployGate, error) {
	g := &greenlight.DeployGate{}
	if env == "production" && e.windows {
		g.Next, g.Hold = &testNextWindow, "outside the deploy windows; the next opens Mon 09:00 Europe/Berlin"
	}
	l, err := e.store.EnvironmentLock(ctx, pipeline, env)
	if err == nil {
		g.Lock, g.Hold = l, l.Hold()
	}
	return g, nil
}

func (e *testEngine) Override(ctx context.Context, id int64, by, reason string) (*greenlight.Run, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, greenlight.Errorf(greenlight.EINVALID, "an override needs a reason")
	}
	run, err := e.store.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Status != greenlight.RunWaiting {
		return nil, greenlight.Errorf(greenlight.ECONFLICT, "run %d is %s: there is nothing to override", id, run.Status)
	}
	run.Status, run.Reason = greenlight.RunRunning, ""
	return run, e.store.UpdateRun(ctx, run)
}

func TestAPILock(t *testing.T) {
	e := newEnv(t)
	e.eng.windows = true
	const base = "/api/v1/pipelines/hello/environments/production"
	tests := []struct {
		method, path, token, body string
		status                    int
		want                      string // in the body
	}{
		{"POST", base + "/lock", "", `{"reason": "incident 123"}`, 401, `"error"`},
		{"POST", base + "/lock", "wrong", `{"reason": "incident 123"}`, 401, `"error"`},
		{"DELETE", base + "/lock", "", ``, 401, `"error"`},
		{"POST", "/api/v1/pipelines/nope/environments/production/lock", adminToken, `{"reason": "x"}`, 404, `{"error":"no pipeline named nope"}`},
		{"POST", "/api/v1/pipelines/hello/environments/nope/lock", adminToken, `{"reason": "x"}`, 404, `{"error":"pipeline hello has no environment named nope"}`},
		{"DELETE", "/api/v1/pipelines/hello/environments/nope/lock", adminToken, ``, 404, `"error"`},
		{"POST", base + "/lock", adminToken, `{}`, 400, `{"error":"a lock needs a reason"}`},
		{"POST", base + "/lock", adminToken, `{"reason": 5}`, 400, `"error":"bad JSON body`},
		{"POST", base + "/lock", adminToken, `{"reason": "x", "by": "mallory"}`, 400, `unknown field`},
		{"DELETE", base + "/lock", adminToken, ``, 409, `{"error":"production is not locked"}`},
		{"POST", base + "/lock", adminToken, `{"reason": "incident 123"}`, 201, `{"reason":"incident 123","by":"admin","at":"2026-01-02T03:04:05Z"}`},
		{"POST", base + "/lock", adminToken, `{"reason": "again"}`, 409, `{"error":"production is locked already"}`},
		{"GET", base, adminToken, ``, 200, `"lock":{"reason":"incident 123","by":"admin","at":"2026-01-02T03:04:05Z"},"next_window":"2026-01-05T09:00:00+01:00","hold":"production is locked by admin: incident 123"`},
		{"GET", "/api/v1/pipelines/hello/environments/staging", adminToken, ``, 200, `"lock":null,"next_window":null,"hold":""`},
		{"DELETE", base + "/lock", adminToken, ``, 200, `"lock":null,"next_window":"2026-01-05T09:00:00+01:00","hold":"outside the deploy windows; the next opens Mon 09:00 Europe/Berlin"`},
		{"GET", base, "", ``, 401, `"error"`},
	}
	for _, tt := range tests {
		var body *strings.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		} else {
			body = strings.NewReader("")
		}
		resp, got := e.do(tt.method, tt.path, tt.token, body, "Content-Type", "application/json")
		if resp.StatusCode != tt.status || !strings.Contains(got, tt.want) {
			t.Errorf("%s %s %s: %d %s\nwant %d with %s", tt.method, tt.path, tt.body, resp.StatusCode, got, tt.status, tt.want)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: Content-Type %q, want JSON", tt.method, tt.path, ct)
		}
	}
}

func TestAPIOverride(t *testing.T) {
	e := newEnv(t)
	waiting := e.run(greenlight.RunWaiting, "held")
	done := e.run(greenlight.RunSucceeded, "done")
	path := func(id int64) string { return "/api/v1/runs/" + itoa(id) + "/override" }
	tests := []struct {
		path, token, body string
		status            int
		want              string
	}{
		{path(waiting.ID), "", `{"reason": "hotfix"}`, 401, `"error"`},
		{path(999), adminToken, `{"reason": "hotfix"}`, 404, `"error"`},
		{"/api/v1/runs/abc/override", adminToken, `{"reason": "hotfix"}`, 400, `run id must be a positive integer`},
		{path(waiting.ID), adminToken, ``, 400, `{"error":"an override needs a reason"}`},
		{path(waiting.ID), adminToken, `[1]`, 400, `bad JSON body`},
		{path(done.ID), adminToken, `{"reason": "hotfix"}`, 409, `nothing to override`},
		{path(waiting.ID), adminToken, `{"reason": "hotfix"}`, 200, `"status":"running"`},
	}
	for _, tt := range tests {
		resp, got := e.do("POST", tt.path, tt.token, strings.NewReader(tt.body), "Content-Type", "application/json")
		if resp.StatusCode != tt.status || !strings.Contains(got, tt.want) {
			t.Errorf("POST %s %s: %d %s\nwant %d with %s", tt.path, tt.body, resp.StatusCode, got, tt.status, tt.want)
		}
		if resp.StatusCode != 200 {
			var v map[string]any
			if err := json.Unmarshal([]byte(got), &v); err != nil || v["error"] == nil {
				t.Errorf("POST %s: %d body %s is not a JSON error", tt.path, resp.StatusCode, got)
			}
		}
	}
}

// A deploy waiting for its environment says why on the run's page.
func TestRunPageShowsWhyADeployWaits(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	run := e.run(greenlight.RunWaiting, "Held")
	const why = "frozen until 2027-01-04 00:00 +01:00: holidays & <more>"
	for i := range run.Stages {
		if run.Stages[i].Name == "production" {
			run.Stages[i].Status, run.Stages[i].Reason = greenlight.StageWaiting, why
		}
	}
	run.Reason = why
	if err := e.store.UpdateRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	resp, body := e.page(c, "/runs/"+itoa(run.ID))
	if resp.StatusCode != 200 || !strings.Contains(body, `<p class="hint reason">Frozen until 2027-01-04 00:00 &#43;01:00: holidays &amp; &lt;more&gt;.</p>`) {
		t.Errorf("run page = %d, without the stage's reason:\n%s", resp.StatusCode, body)
	}
}
