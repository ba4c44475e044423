package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// decode unmarshals a JSON body or fails the test.
func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body is not the JSON expected: %v\n%s", err, body)
	}
	return v
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/healthz", "", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Fatalf("healthz = %d %s, want 200 {\"status\":\"ok\"}", resp.StatusCode, body)
	}
	e.store.Close() // a store that no longer answers
	resp, body = e.do("GET", "/healthz", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz with a closed store = %d %s, want 503", resp.StatusCode, body)
	}
}

func TestAPIAuth(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"token prefix", "Bearer " + adminToken[:10], 401},
		{"basic scheme", "Basic " + adminToken, 401},
		{"bare token", adminToken, 401},
		{"right token", "Bearer " + adminToken, 200},
		{"scheme is case-insensitive", "bearer " + adminToken, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.header != "" {
				h = []string{"Authorization", tt.header}
			}
			resp, body := e.do("GET", "/api/v1/runs", "", nil, h...)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q, want JSON", resp.Header.Get("Content-Type"))
			}
			if tt.want == 401 && decode[map[string]string](t, body)["error"] == "" {
				t.Errorf("401 body %s has no error", body)
			}
		})
	}
}

func TestAPIEmptyAdminTokenAdmitsNoOne(t *testing.T) {
	if tokenMatches("", "") || tokenMatches("x", "") || tokenMatches("", "x") {
		t.Fatal("an empty token matched")
	}
	if !tokenMatches("x", "x") {
		t.Fatal("equal tokens did not match")
	}
}

func TestAPIUnknownPath(t *testing.T) {
	e := newEnv(t)
	resp, body := e.api("GET", "/api/v1/nothing-here", "")
	if resp.StatusCode != 404 || decode[map[string]string](t, body)["error"] == "" {
		t.Fatalf("unknown API path = %d %s, want 404 JSON error", resp.StatusCode, body)
	}
}

func TestAPIPipelines(t *testing.T) {
	e := newEnv(t)
	run := e.run(greenlight.RunSucceeded, "Add login")
	resp, body := e.api("GET", "/api/v1/pipelines", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d %s", resp.StatusCode, body)
	}
	got := decode[[]pipelineJSON](t, body)
	if len(got) != 2 {
		t.Fatalf("got %d pipelines, want 2", len(got))
	}
	hello := got[0]
	if hello.Name != "hello" || hello.Mode != "superseded" || hello.Branch != "main" {
		t.Errorf("pipeline = %+v", hello)
	}
	if strings.Contains(body, "s3cr3t") || strings.Contains(body, hookSecret) {
		t.Errorf("secrets leaked: %s", body)
	}
	if want := "https://ci-bot:redacted@git.example.com/acme/hello.git"; hello.Repo != want {
		t.Errorf("repo = %q, want %q", hello.Repo, want)
	}
	if len(hello.Stages) != 4 || hello.Stages[1] != (stageJSON{"staging", "deploy", "staging"}) {
		t.Errorf("stages = %+v", hello.Stages)
	}
	if strings.Join(hello.Environments, ",") != "production,staging" {
		t.Errorf("environments = %v", hello.Environments)
	}
	if hello.LatestRun == nil || hello.LatestRun.ID != run.ID {
		t.Errorf("latest run = %+v, want run %d", hello.LatestRun, run.ID)
	}
	if got[1].LatestRun != nil || !strings.Contains(body, `"latest_run":null`) {
		t.Errorf("a pipeline without runs has latest_run %+v, want null", got[1].LatestRun)
	}
}

func TestAPITrigger(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, path, body string
		want             int
		wantErr          string
	}{
		{"empty body: branch head", "/api/v1/pipelines/hello/runs", "", 201, ""},
		{"empty object", "/api/v1/pipelines/hello/runs", "{}", 201, ""},
		{"commit and params", "/api/v1/pipelines/hello/runs", `{"commit":"` + sha2 + `","params":{"TARGET":"eu"}}`, 201, ""},
		{"unknown pipeline", "/api/v1/pipelines/nope/runs", "{}", 404, "no pipeline"},
		{"bad JSON", "/api/v1/pipelines/hello/runs", `{"commit":`, 400, "bad JSON"},
		{"unknown field", "/api/v1/pipelines/hello/runs", `{"sha":"` + sha2 + `"}`, 400, "unknown field"},
		{"two objects", "/api/v1/pipelines/hello/runs", `{} {}`, 400, "after the object"},
		{"array", "/api/v1/pipelines/hello/runs", `[]`, 400, "bad JSON"},
		{"short sha", "/api/v1/pipelines/hello/runs", `{"commit":"abc123"}`, 400, "40-character"},
		{"non-hex sha", "/api/v1/pipelines/hello/runs", `{"commit":"` + strings.Repeat("g", 40) + `"}`, 400, "40-character"},
		{"bad param name", "/api/v1/pipelines/hello/runs", `{"params":{"A-B":"x"}}`, 400, "param name"},
		{"oversized body", "/api/v1/pipelines/hello/runs", `{"params":{"X":"` + strings.Repeat("a", maxAPIBody) + `"}}`, 413, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.api("POST", tt.path, tt.body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.wantErr != "" {
				if msg := decode[map[string]string](t, body)["error"]; !strings.Contains(msg, tt.wantErr) {
					t.Errorf("error = %q, want it to mention %q", msg, tt.wantErr)
				}
				return
			}
			run := decode[greenlight.Run](t, body)
			if run.ID == 0 || run.Pipeline != "hello" || run.Trigger != greenlight.TriggerAPI || len(run.Stages) != 4 {
				t.Errorf("run = %+v", run)
			}
			stored, err := e.store.Run(context.Background(), run.ID)
			if err != nil {
				t.Fatalf("the run was not stored: %v", err)
			}
			if strings.Contains(tt.body, "TARGET") && stored.Params["TARGET"] != "eu" {
				t.Errorf("params = %v, want TARGET=eu", stored.Params)
			}
		})
	}
}

func TestAPIRuns(t *testing.T) {
	e := newEnv(t)
	old := e.run(greenlight.RunFailed, "Old")
	waiting := e.run(greenlight.RunWaiting, "Waiting")
	newest := e.run(greenlight.RunSucceeded, "New")

	ids := func(body string) []int64 {
		var out []int64
		for _, r := range decode[[]greenlight.Run](t, body) {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		name  string
		query string
		want  int
		ids   []int64
	}{
		{"all, newest first", "", 200, []int64{newest.ID, waiting.ID, old.ID}},
		{"by status", "?status=waiting", 200, []int64{waiting.ID}},
		{"several statuses", "?status=failed,succeeded", 200, []int64{newest.ID, old.ID}},
		{"by pipeline", "?pipeline=nosecret", 200, nil},
		{"limit", "?limit=2", 200, []int64{newest.ID, waiting.ID}},
		{"bad status", "?status=done", 400, nil},
		{"limit zero", "?limit=0", 400, nil},
		{"limit too big", "?limit=501", 400, nil},
		{"limit not a number", "?limit=ten", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.api("GET", "/api/v1/runs"+tt.query, "")
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.want != 200 {
				return
			}
			if got := ids(body); !equalIDs(got, tt.ids) {
				t.Errorf("ids = %v, want %v", got, tt.ids)
			}
			if tt.ids == nil && strings.TrimSpace(body) != "[]" {
				t.Errorf("empty list is %s, want []", body)
			}
		})
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAPIRun(t *testing.T) {
	e := newEnv(t)
	run := e.run(greenlight.RunWaiting, "Show me")
	tests := []struct {
		path string
		want int
	}{
		{"/api/v1/runs/" + itoa(run.ID), 200},
		{"/api/v1/runs/abc", 400},
		{"/api/v1/runs/-1", 400},
		{"/api/v1/runs/99999999999999999999", 400},
		{"/api/v1/runs/4242", 404},
	}
	for _, tt := range tests {
		resp, body := e.api("GET", tt.path, "")
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s = %d, want %d (%s)", tt.path, resp.StatusCode, tt.want, body)
			continue
		}
		if tt.want != 200 {
			if decode[map[string]string](t, body)["error"] == "" {
				t.Errorf("GET %s: no error in %s", tt.path, body)
			}
			continue
		}
		// The SPEC's field names.
		raw := decode[map[string]any](t, body)
		for _, k := range []string{"id", "pipeline", "status", "trigger", "commit", "created_at", "finished_at", "artifact", "stages"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("run JSON has no %q: %s", k, body)
			}
		}
		if got := decode[greenlight.Run](t, body); got.Commit.Title != "Show me" || got.Status != greenlight.RunWaiting {
			t.Errorf("run = %+v", got)
		}
	}
}

func TestAPICancel(t *testing.T) {
	e := newEnv(t)
	run := e.run(greenlight.RunWaiting, "Cancel me")
	resp, body := e.api("POST", "/api/v1/runs/"+itoa(run.ID)+"/cancel", "")
	if resp.StatusCode != 200 || decode[greenlight.Run](t, body).Status != greenlight.RunCancelled {
		t.Fatalf("cancel = %d %s, want 200 and a cancelled run", resp.StatusCode, body)
	}
	resp, body = e.api("POST", "/api/v1/runs/"+itoa(run.ID)+"/cancel", "")
	if resp.StatusCode != 409 || !strings.Contains(body, "already cancelled") {
		t.Fatalf("second cancel = %d %s, want 409", resp.StatusCode, body)
	}
	for path, want := range map[string]int{"/api/v1/runs/abc/cancel": 400, "/api/v1/runs/777/cancel": 404} {
		if resp, body := e.api("POST", path, ""); resp.StatusCode != want {
			t.Errorf("POST %s = %d, want %d (%s)", path, resp.StatusCode, want, body)
		}
	}
}

func TestAPILogs(t *testing.T) {
	e := newEnv(t)
	run := e.run(greenlight.RunRunning, "Logs")
	e.writeLog(run.ID, "build", "go test ./...\nok\n")
	e.writeLog(run.ID, "staging", "deployed\n")
	base := "/api/v1/runs/" + itoa(run.ID) + "/logs"
	tests := []struct {
		name, path string
		want       int
		contains   []string
	}{
		{"one stage", base + "?stage=build", 200, []string{"go test ./...\nok\n"}},
		{"all stages", base, 200, []string{"==> build (succeeded) <==\ngo test ./...\nok\n", "==> staging (succeeded) <==\ndeployed\n"}},
		{"no such stage", base + "?stage=nope", 404, []string{"no stage named"}},
		{"stage without a log", base + "?stage=production", 404, []string{"no log yet"}},
		{"bad id", "/api/v1/runs/abc/logs", 400, nil},
		{"unknown run", "/api/v1/runs/999/logs", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.api("GET", tt.path, "")
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.want, body)
			}
			if tt.want == 200 && resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/plain", resp.Header.Get("Content-Type"))
			}
			for _, c := range tt.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body %q does not contain %q", body, c)
				}
			}
		})
	}
}

func TestAPIEnvironment(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	run := e.run(greenlight.RunSucceeded, "Live")
	path := "/api/v1/pipelines/hello/environments/production"

	resp, body := e.api("GET", path, "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"current":null,"history":[],"lock":null,"next_window":null,"hold":""}` {
		t.Fatalf("empty environment = %d %s", resp.StatusCode, body)
	}
	old := &greenlight.Release{Pipeline: "hello", Environment: "production", RunID: run.ID, Commit: sha1,
		Artifact: strings.Repeat("a", 64), Status: greenlight.ReleaseReplaced, DeployedAt: e.clock.Now()}
	live := &greenlight.Release{Pipeline: "hello", Environment: "production", RunID: run.ID, Commit: sha2,
		Artifact: strings.Repeat("b", 64), Status: greenlight.ReleaseLive, DeployedAt: e.clock.Now()}
	for _, r := range []*greenlight.Release{old, live} {
		if err := e.store.CreateRelease(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	resp, body = e.api("GET", path, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d %s", resp.StatusCode, body)
	}
	got := decode[environmentJSON](t, body)
	if got.Current == nil || got.Current.Commit != sha2 || got.Current.Status != greenlight.ReleaseLive {
		t.Errorf("current = %+v, want the live release", got.Current)
	}
	if len(got.History) != 2 || got.History[0].Commit != sha2 || got.History[1].Commit != sha1 {
		t.Errorf("history = %+v, want newest first", got.History)
	}
	for _, p := range []string{"/api/v1/pipelines/nope/environments/production", "/api/v1/pipelines/hello/environments/moon"} {
		if resp, body := e.api("GET", p, ""); resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404 (%s)", p, resp.StatusCode, body)
		}
	}
}

func TestAPIApprovalsAndOutbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.gate("Pending one", 1, "pm@example.com")
	resp, body := e.api("GET", "/api/v1/approvals?status=pending", "")
	if resp.StatusCode != 200 {
		t.Fatalf("approvals = %d %s", resp.StatusCode, body)
	}
	if list := decode[[]greenlight.Approval](t, body); len(list) != 1 || list[0].Status != greenlight.ApprovalPending {
		t.Errorf("pending approvals = %+v", list)
	}
	if resp, body := e.api("GET", "/api/v1/approvals?status=approved", ""); resp.StatusCode != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("approved approvals = %d %s, want []", resp.StatusCode, body)
	}
	if resp, body := e.api("GET", "/api/v1/approvals", ""); resp.StatusCode != 200 || len(decode[[]greenlight.Approval](t, body)) != 1 {
		t.Errorf("all approvals = %d %s, want one", resp.StatusCode, body)
	}
	if resp, _ := e.api("GET", "/api/v1/approvals?status=maybe", ""); resp.StatusCode != 400 {
		t.Errorf("bad approval status = %d, want 400", resp.StatusCode)
	}

	if _, err := e.store.EnqueueMail(ctx, &greenlight.Mail{Key: "k1", To: []string{"pm@example.com"}, Subject: "Approve hello #1",
		Text: "Approve: http://x/approvals/abc", HTML: "<p>hi</p>", CreatedAt: e.clock.Now(), NextAttempt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	resp, body = e.api("GET", "/api/v1/outbox", "")
	if resp.StatusCode != 200 {
		t.Fatalf("outbox = %d %s", resp.StatusCode, body)
	}
	mails := decode[[]map[string]any](t, body)
	if len(mails) != 1 || mails[0]["subject"] != "Approve hello #1" || mails[0]["html"] != "<p>hi</p>" {
		t.Fatalf("outbox = %s", body)
	}
	for _, k := range []string{"to", "subject", "text", "html", "created_at"} {
		if _, ok := mails[0][k]; !ok {
			t.Errorf("outbox mail has no %q", k)
		}
	}
}
