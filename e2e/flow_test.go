package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// decide posts a decision to an approval link, as the page's form does.
func decide(t *testing.T, link, decision, comment string) (int, string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery = ""
	resp, err := http.PostForm(u.String(), url.Values{"decision": {decision}, "comment": {comment}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestApprovePath is the whole flow: push, build, staging, approval mail,
// the decision page, approve, and the same artifact in production.
func TestApprovePath(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg})
		title := `Add <script>alert("x")</script> banner`
		sha := s.repo.commit(title, map[string]string{"README": "hello\n"})
		id := s.pushRun(sha)

		r := s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		if r.Commit.Title != title || r.Commit.AuthorName != "Ada Lovelace" || r.Artifact == nil {
			t.Fatalf("run commit/artifact = %+v %+v", r.Commit, r.Artifact)
		}
		if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.staging)); code != 200 || !strings.Contains(body, sha) {
			t.Fatalf("staging answers %d %q, want version %s", code, body, sha)
		}

		m := s.mailTo("pm@example.com", "Approve", 30*time.Second)
		approve := m.Link("decision=approve")
		if approve == "" || !strings.HasPrefix(approve, s.url+"/approvals/") {
			t.Fatalf("no approve link in mail:\n%s", m.Text)
		}
		if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
			t.Errorf("commit title not escaped in the mail's HTML:\n%s", m.HTML)
		}
		if !strings.Contains(m.Text, fmt.Sprintf("http://127.0.0.1:%d/", s.staging)) {
			t.Errorf("mail does not link the staging site (review_url):\n%s", m.Text)
		}

		// Opening the link (as a mail scanner would) decides nothing.
		for range 2 {
			code, page := get(t, approve)
			if code != 200 || !strings.Contains(page, "&lt;script&gt;") || strings.Contains(page, "<script>alert") {
				t.Fatalf("decision page: %d\n%s", code, page)
			}
			// Nothing is in production yet: every commit so far is a change.
			if !strings.Contains(page, "First version") {
				t.Errorf("decision page does not list the changes since production:\n%s", page)
			}
		}
		if r := s.run(id); r.Status != greenlight.RunWaiting {
			t.Fatalf("GET changed the run to %s", r.Status)
		}

		if code, page := decide(t, approve, "approve", "Looks good on staging"); code != 200 {
			t.Fatalf("approve: %d\n%s", code, page)
		}
		r = s.waitRun(id, 60*time.Second, greenlight.RunSucceeded)
		if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.prod)); code != 200 || !strings.Contains(body, sha) {
			t.Fatalf("production answers %d %q", code, body)
		}

		// The link is single use; the other approver's link is dead too, saying who decided.
		if code, page := decide(t, approve, "approve", ""); code != http.StatusGone || !strings.Contains(page, "used") {
			t.Errorf("second use: %d\n%s", code, page)
		}
		other := s.mailTo("cto@example.com", "Approve", 10*time.Second).Link("decision=reject")
		if code, page := get(t, other); code != http.StatusGone || !strings.Contains(page, "pm@example.com") {
			t.Errorf("other approver's link after the decision: %d\n%s", code, page)
		}

		// Production got the very artifact staging got.
		code, body := s.api("GET", "/api/v1/pipelines/hello/environments/production", nil)
		if code != 200 || !strings.Contains(string(body), r.Artifact.SHA256) || !strings.Contains(string(body), `"live"`) {
			t.Errorf("production environment: %d %s", code, body)
		}
		code, body = s.api("GET", "/api/v1/pipelines/hello/environments/staging", nil)
		if code != 200 || !strings.Contains(string(body), r.Artifact.SHA256) {
			t.Errorf("staging environment: %d %s", code, body)
		}
	})
}

// TestRejectPath: one rejection ends the run, production stays untouched, and
// the author and the notify list hear why.
func TestRejectPath(t *testing.T) {
	t.Parallel()
	s := start(t, options{required: 2})
	id := s.pushRun(s.repo.commit("Risky change", nil))
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	link := s.mailTo("cto@example.com", "Approve", 30*time.Second).Link("decision=reject")
	if code, page := decide(t, link, "reject", "The banner is broken on staging"); code != 200 {
		t.Fatalf("reject: %d\n%s", code, page)
	}
	r := s.waitRun(id, 30*time.Second, greenlight.RunRejected)
	if !strings.Contains(r.Error, "cto@example.com") || r.Stage("production").Status != greenlight.StageSkipped {
		t.Errorf("rejected run: error %q, production %s", r.Error, r.Stage("production").Status)
	}
	m := s.mailTo("ada@example.com", "rejected", 30*time.Second)
	if !strings.Contains(m.Text, "The banner is broken on staging") {
		t.Errorf("rejection mail lacks the comment:\n%s", m.Text)
	}
	s.mailTo("dev-team@example.com", "rejected", 10*time.Second)
	if code, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.prod)); code == 200 {
		t.Errorf("production answers after a rejection")
	}
}

// TestFailingBuild: a failing step fails the run, its output is readable,
// and the author is told.
func TestFailingBuild(t *testing.T) {
	t.Parallel()
	s := start(t, options{steps: "  - name: test\n    run: \"echo 'FAIL: TestBanner' && exit 3\"\n"})
	id := s.pushRun(s.repo.head())
	r := s.waitRun(id, 60*time.Second, greenlight.RunFailed)
	if b := r.Stage("build"); b.Status != greenlight.StageFailed || !strings.Contains(b.Error, "test") {
		t.Errorf("build stage = %+v", b)
	}
	if r.Stage("staging").Status != greenlight.StageSkipped {
		t.Errorf("staging stage = %s, want skipped", r.Stage("staging").Status)
	}
	code, logs := s.api("GET", fmt.Sprintf("/api/v1/runs/%d/logs?stage=build", id), nil)
	if code != 200 || !strings.Contains(string(logs), "FAIL: TestBanner") {
		t.Errorf("logs: %d %s", code, logs)
	}
	s.mailTo("ada@example.com", "failed", 30*time.Second)
}

// TestHealthCheckRollback: a release whose health check never passes is
// rolled back and the previous release keeps serving.
func TestHealthCheckRollback(t *testing.T) {
	t.Parallel()
	s := start(t, options{health: "3s"})
	good := s.repo.head()
	s.waitRun(s.pushRun(good), 90*time.Second, greenlight.RunWaiting)
	bad := s.repo.commit("Break health", map[string]string{"deploy/unhealthy": "yes\n"})
	id := s.pushRun(bad)
	r := s.waitRun(id, 90*time.Second, greenlight.RunFailed)
	if st := r.Stage("staging"); st.Status != greenlight.StageFailed || !strings.Contains(st.Error, "health") {
		t.Errorf("staging stage = %+v", st)
	}
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.staging)); code != 200 || !strings.Contains(body, good) {
		t.Errorf("after rollback staging answers %d %q, want the good version %s", code, body, good)
	}
	code, body := s.api("GET", "/api/v1/pipelines/hello/environments/staging", nil)
	if code != 200 || !strings.Contains(string(body), `"rolled-back"`) {
		t.Errorf("staging history: %d %s", code, body)
	}
}
