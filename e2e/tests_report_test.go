package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// testScript is what a build's test step does: write a JUnit report with two
// passing tests and one failure, plant a link out of the workspace among the
// reports, and exit with $1.
const testScript = `#!/bin/sh
mkdir -p reports
cat > reports/unit.xml <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="calc" tests="3" failures="1">
  <testcase classname="calc" name="TestAdd"/>
  <testcase classname="calc" name="TestSub"/>
  <testcase classname="calc" name="TestDiv"><failure message="Div(4, 2) = 1, want 2">calc_test.go:14</failure></testcase>
</testsuite></testsuites>
XML
ln -sf /etc/passwd reports/passwd.xml
exit "$1"
`

// A build's JUnit report ends up in the run's JSON and on its page, whether
// the build passes or fails; the run says who started it and how, and who
// committed.
func TestTestsSummaryAndTriggeredBy(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg})
		build := "steps:\n  - name: test\n    run: sh test.sh $EXIT\n  - name: build\n    run: mkdir -p dist && cp bin/app dist/app\n" +
			"artifacts: [dist/, deploy/]\nreports: {junit: [\"reports/*.xml\"]}\n" +
			"deploy: {hooks: {stop: deploy/stop.sh, start: deploy/start.sh}}\n"

		// A failing build, pushed by Grace, authored by Bob, committed by Ada.
		s.repo.commit("Add tests", map[string]string{"test.sh": testScript,
			".greenlight.yml": "env: {EXIT: \"1\"}\n" + build})
		git(t, s.repo.dir, "commit", "-q", "--amend", "--no-edit", "--author=Bob <bob@example.com>")
		failing := s.repo.head()
		id := s.pushAs(failing, "grace@example.com")
		r := s.waitRun(id, 60*time.Second, greenlight.RunFailed)
		want := &greenlight.TestSummary{Passed: 2, Failed: 1, Failures: []greenlight.TestFailure{
			{Name: "calc.TestDiv", Message: "Div(4, 2) = 1, want 2\ncalc_test.go:14"}}}
		if fmt.Sprint(r.Tests) != fmt.Sprint(want) {
			t.Errorf("failed build: tests %+v, want %+v", r.Tests, want)
		}
		if r.TriggeredBy != "grace@example.com" || r.Trigger != greenlight.TriggerWebhook {
			t.Errorf("triggered_by %q via %s, want grace@example.com via webhook", r.TriggeredBy, r.Trigger)
		}
		if r.Commit.AuthorEmail != "bob@example.com" || r.Commit.CommitterEmail != "ada@example.com" {
			t.Errorf("author %q committer %q, want bob@ and ada@", r.Commit.AuthorEmail, r.Commit.CommitterEmail)
		}
		log := s.stageLog(id, "build")
		for _, line := range []string{"==> test report reports/passwd.xml left out: it is a link out of the workspace\n",
			"==> tests: 2 passed, 1 failed, 0 skipped (1 report)\n"} {
			if !strings.Contains(log, line) {
				t.Errorf("build log lacks %q", line)
			}
		}
		code, page := s.page(fmt.Sprintf("/runs/%d", id))
		if code != 200 || !strings.Contains(page, "Tests: 2 passed, 1 failed, 0 skipped") ||
			!strings.Contains(page, "started by grace@example.com via webhook") {
			t.Errorf("run page (%d) lacks the summary or who started the run", code)
		}

		// The same tests in a passing build, started through the API.
		s.repo.commit("Tests pass", map[string]string{".greenlight.yml": "env: {EXIT: \"0\"}\n" + build})
		code, body := s.api("POST", "/api/v1/pipelines/hello/runs", map[string]any{})
		if code != http.StatusCreated {
			t.Fatalf("trigger: %d %s", code, body)
		}
		var started greenlight.Run
		mustJSON(t, body, &started)
		eventually(t, 60*time.Second, "build stage done", func() bool {
			r = s.run(started.ID)
			return r.Status.Terminal() || r.Stages[0].Status == greenlight.StageSucceeded
		})
		if r.Stages[0].Status != greenlight.StageSucceeded || fmt.Sprint(r.Tests) != fmt.Sprint(want) || r.TriggeredBy != "admin" {
			t.Errorf("passing build: stage %s, tests %+v, triggered_by %q; want succeeded, %+v, admin", r.Stages[0].Status, r.Tests, r.TriggeredBy, want)
		}
		s.api("POST", fmt.Sprintf("/api/v1/runs/%d/cancel", started.ID), nil)
	})
}

// pushAs sends a signed GitHub push of sha whose pusher is email, and
// returns the run it started.
func (s *server) pushAs(sha, email string) int64 {
	s.t.Helper()
	delivery := fmt.Sprintf("delivery-%s-%d", sha[:8], time.Now().UnixNano())
	body := fmt.Sprintf(`{"ref":"refs/heads/main","before":"%s","after":"%s","head_commit":{"id":"%s"},"pusher":{"name":"someone","email":%q},"sender":{"login":"someone"}}`,
		strings.Repeat("0", 40), sha, sha, email)
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", s.url+"/hooks/hello", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		s.t.Fatalf("push: %d", resp.StatusCode)
	}
	return s.deliveryRun(delivery)
}

// page logs in with the admin token and fetches a UI page.
func (s *server) page(path string) (int, string) {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(s.url+"/login", url.Values{"token": {adminToken}})
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}
