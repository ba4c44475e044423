package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

// TestDeployHolds drives one run through three deploy stages, each held
// for another reason: staging by its windows (open only on a day three
// days from now), qa by a freeze, production by a lock. Each reason shows
// in the run's JSON; overrides start the first two, an unlock the third.
func TestDeployHolds(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		r := newRepo(t, "", false)
		// Deploys that only copy files: no app to start.
		r.commit("No hooks", map[string]string{".greenlight.yml": "steps:\n  - name: build\n    run: mkdir -p dist && echo $GREENLIGHT_COMMIT > dist/VERSION\nartifacts: [dist/]\n"})
		now := time.Now().UTC()
		day := now.AddDate(0, 0, 3)
		frozenUntil := now.Add(30 * 24 * time.Hour).Truncate(time.Minute)
		s := &server{t: t, dir: passable(t, t.TempDir()), repo: r}
		port := freePort(t)
		s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
		s.config = filepath.Join(s.dir, "greenlight.yml")
		database := ""
		if pg {
			database = storetest.PostgresDatabase(t)
		}
		s.launch(fmt.Sprintf(`server:
  listen: 127.0.0.1:%d
  public_url: %s
  data_dir: ./data
  admin_token: ${GREENLIGHT_ADMIN_TOKEN}
database: "%s"
pipelines:
  - name: hello
    source: {repo: %s, branch: main}
    stages:
      - {name: build, type: build, timeout: 2m}
      - {name: staging, type: deploy, environment: staging}
      - {name: qa, type: deploy, environment: qa}
      - {name: production, type: deploy, environment: production}
    environments:
      staging:
        targets: [{local: %s/staging}]
        windows: [{days: [%s], from: "00:00", to: "24:00", timezone: UTC}]
      qa:
        targets: [{local: %s/qa}]
        freezes: [{from: "%s", to: "%s", reason: "holidays"}]
      production:
        targets: [{local: %s/production}]
`, port, s.url, database, r.dir, s.dir, strings.ToLower(day.Weekday().String()[:3]), s.dir,
			now.Add(-time.Hour).Format(time.RFC3339), frozenUntil.Format(time.RFC3339), s.dir))

		code, body := s.api("POST", "/api/v1/pipelines/hello/environments/production/lock", map[string]string{"reason": "incident 123"})
		if code != 201 || !strings.Contains(string(body), `"by":"admin"`) {
			t.Fatalf("lock: %d %s", code, body)
		}
		code, body = s.api("POST", "/api/v1/pipelines/hello/runs", map[string]string{})
		if code != 201 {
			t.Fatalf("trigger: %d %s", code, body)
		}
		var run greenlight.Run
		json.Unmarshal(body, &run)

		windowed := "outside the deploy windows; the next opens " + day.Format("Mon") + " 00:00 UTC"
		s.waitHeld(run.ID, "staging", windowed)
		var env struct {
			Lock       *greenlight.EnvironmentLock `json:"lock"`
			NextWindow string                      `json:"next_window"`
			Hold       string                      `json:"hold"`
		}
		code, body = s.api("GET", "/api/v1/pipelines/hello/environments/staging", nil)
		json.Unmarshal(body, &env)
		if want := day.Format("2006-01-02") + "T00:00:00Z"; code != 200 || env.NextWindow != want || env.Hold != windowed || env.Lock != nil {
			t.Errorf("staging: %d %s; want next_window %s", code, body, want)
		}
		s.override(run.ID, "release train")

		s.waitHeld(run.ID, "qa", "frozen until "+frozenUntil.Format("2006-01-02 15:04")+" +00:00: holidays")
		s.override(run.ID, "the fix the holidays need")

		s.waitHeld(run.ID, "production", "production is locked by admin: incident 123")
		code, body = s.api("GET", "/api/v1/pipelines/hello/environments/production", nil)
		if !strings.Contains(string(body), `"lock":{"reason":"incident 123","by":"admin"`) || !strings.Contains(string(body), `"next_window":null`) {
			t.Errorf("production while locked: %d %s", code, body)
		}
		if code, body = s.api("DELETE", "/api/v1/pipelines/hello/environments/production/lock", nil); code != 200 || !strings.Contains(string(body), `"lock":null`) {
			t.Errorf("unlock: %d %s", code, body)
		}
		done := s.waitRun(run.ID, 60*time.Second, greenlight.RunSucceeded, greenlight.RunFailed)
		if done.Status != greenlight.RunSucceeded || done.Reason != "" {
			t.Fatalf("run ended %s (%s), reason %q", done.Status, done.Error, done.Reason)
		}
		if log := s.stageLog(run.ID, "staging"); !strings.Contains(log, "admin overrode the hold ("+windowed+"): release train") {
			t.Errorf("staging's log does not record the override:\n%s", log)
		}
		if code, body = s.api("POST", fmt.Sprintf("/api/v1/runs/%d/override", run.ID), map[string]string{"reason": "again"}); code != 409 {
			t.Errorf("override of a finished run: %d %s, want 409", code, body)
		}
	})
}

// waitHeld waits until run id waits at stage with reason, in the run's JSON.
func (s *server) waitHeld(id int64, stage, reason string) {
	s.t.Helper()
	var r *greenlight.Run
	eventually(s.t, 60*time.Second, "run waits at "+stage, func() bool {
		r = s.run(id)
		if r.Status.Terminal() {
			s.t.Fatalf("run %d ended %s: %s", id, r.Status, r.Error)
		}
		st := r.Stage(stage)
		return r.Status == greenlight.RunWaiting && st != nil && st.Status == greenlight.StageWaiting
	})
	if st := r.Stage(stage); r.Reason != reason || st.Reason != reason {
		s.t.Fatalf("run %d waits at %s: run reason %q, stage reason %q; want %q", id, stage, r.Reason, st.Reason, reason)
	}
}

// override starts the run's held deploy.
func (s *server) override(id int64, reason string) {
	s.t.Helper()
	code, body := s.api("POST", fmt.Sprintf("/api/v1/runs/%d/override", id), map[string]string{})
	if code != 400 || !strings.Contains(string(body), "needs a reason") {
		s.t.Errorf("override without a reason: %d %s, want 400", code, body)
	}
	if code, body = s.api("POST", fmt.Sprintf("/api/v1/runs/%d/override", id), map[string]string{"reason": reason}); code != 200 {
		s.t.Fatalf("override: %d %s", code, body)
	}
}
