package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestFleetManualRollback: the rollback API puts the release live before the
// current one back on every target, and then any earlier run's release, as
// runs of their own recorded in the environment's history.
func TestFleetManualRollback(t *testing.T) {
	t.Parallel()
	dir := passable(t, t.TempDir())
	t.Cleanup(func() { killUnder(dir) })
	p := ports(t, 2)
	s := startFleet(t, newRepo(t, "", false), fmt.Sprintf(`        targets:
          - local: %s
            env: {PORT: "%d"}
          - local: %s
            env: {PORT: "%d"}
        health: {url: "http://{host}:{env.PORT}/healthz", timeout: 20s}
`, filepath.Join(dir, "a"), p[0], filepath.Join(dir, "b"), p[1]))
	rollback := func(body string) (int, *greenlight.Run, string) {
		req, _ := http.NewRequest("POST", s.url+"/api/v1/pipelines/hello/environments/production/rollback", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		json.NewDecoder(resp.Body).Decode(&raw)
		var run greenlight.Run
		json.Unmarshal(raw, &run)
		return resp.StatusCode, &run, string(raw)
	}

	v1 := s.repo.head()
	first := s.pushRun(v1)
	if r := s.waitRun(first, 90*time.Second, greenlight.RunSucceeded, greenlight.RunFailed); r.Status != greenlight.RunSucceeded {
		t.Fatalf("first run %s: %s", r.Status, r.Error)
	}
	allServe(t, p, v1)
	if code, _, body := rollback(`{}`); code != 409 {
		t.Errorf("rollback with one release: %d %s, want 409", code, body)
	}
	v2 := s.repo.commit("Second version", nil)
	second := s.pushRun(v2)
	if r := s.waitRun(second, 90*time.Second, greenlight.RunSucceeded, greenlight.RunFailed); r.Status != greenlight.RunSucceeded {
		t.Fatalf("second run %s: %s", r.Status, r.Error)
	}
	allServe(t, p, v2)

	code, run, body := rollback(`{}`)
	if code != 202 || run.Trigger != greenlight.TriggerRollback || run.Commit.SHA != v1 || len(run.Stages) != 1 {
		t.Fatalf("rollback: %d %s, want 202 and a rollback run of %s", code, body, v1)
	}
	if r := s.waitRun(run.ID, 60*time.Second, greenlight.RunSucceeded, greenlight.RunFailed); r.Status != greenlight.RunSucceeded {
		t.Fatalf("rollback run %s: %s", r.Status, r.Error)
	}
	allServe(t, p, v1)
	env := s.production()
	if c := env.Current; c == nil || c.RunID != run.ID || c.Commit != v1 || targetStatuses(c) != "live live" {
		t.Errorf("current release after the rollback = %+v, want run %d with %s live on both targets", c, run.ID, v1)
	}
	if len(env.History) != 3 || env.History[1].Status != greenlight.ReleaseReplaced {
		t.Errorf("history = %+v, want 3 releases, the second replaced", env.History)
	}

	// {"run": ID} redeploys that run's release.
	code, again, body := rollback(fmt.Sprintf(`{"run": %d}`, second))
	if code != 202 || again.Commit.SHA != v2 {
		t.Fatalf("redeploy of run %d: %d %s", second, code, body)
	}
	if r := s.waitRun(again.ID, 60*time.Second, greenlight.RunSucceeded, greenlight.RunFailed); r.Status != greenlight.RunSucceeded {
		t.Fatalf("redeploy run %s: %s", r.Status, r.Error)
	}
	allServe(t, p, v2)

	for _, tt := range []struct {
		body string
		want int
	}{{`{"run": 9999}`, 404}, {`{"run": "x"}`, 400}, {`{"run": 1`, 400}, {`{"colour": 1}`, 400}} {
		if code, _, body := rollback(tt.body); code != tt.want {
			t.Errorf("rollback %s: %d %s, want %d", tt.body, code, body, tt.want)
		}
	}
	if code, _ := s.api("POST", "/api/v1/pipelines/hello/environments/moon/rollback", map[string]any{}); code != 404 {
		t.Errorf("rollback of an unknown environment: %d, want 404", code)
	}
}
