package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestSupersede: a newer run reaching staging supersedes the older run that
// waits for approval; the older links die and its approvers are told.
func TestSupersede(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	first := s.pushRun(s.repo.head())
	s.waitRun(first, 90*time.Second, greenlight.RunWaiting)
	oldLink := s.mailTo("pm@example.com", "#1", 30*time.Second).Link("decision=approve")

	second := s.pushRun(s.repo.commit("Second version", nil))
	s.waitRun(second, 90*time.Second, greenlight.RunWaiting)
	r := s.waitRun(first, 10*time.Second, greenlight.RunSuperseded)
	if !strings.Contains(r.Error, fmt.Sprintf("#%d", second)) {
		t.Errorf("superseded run error = %q, want it to name run #%d", r.Error, second)
	}
	if code, page := get(t, oldLink); code != http.StatusGone || !strings.Contains(page, "no longer needs a decision") {
		t.Errorf("old link after supersede: %d\n%s", code, page)
	}
	if code, _ := decide(t, oldLink, "approve", ""); code != http.StatusGone {
		t.Errorf("approving a superseded run: %d, want 410", code)
	}
	s.mailTo("pm@example.com", "No longer needed", 30*time.Second)
	code, body := s.api("GET", "/api/v1/approvals?status=pending", nil)
	if code != 200 || strings.Count(string(body), `"run":`) != 1 || !strings.Contains(string(body), fmt.Sprintf(`"run":%d`, second)) {
		t.Errorf("pending approvals: %d %s", code, body)
	}
}

// TestCancelWaiting: cancelling a waiting run kills its links.
func TestCancelWaiting(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	id := s.pushRun(s.repo.head())
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	link := s.mailTo("cto@example.com", "Approve", 30*time.Second).Link("decision=approve")
	code, body := s.api("POST", fmt.Sprintf("/api/v1/runs/%d/cancel", id), nil)
	if code != 200 || !strings.Contains(string(body), `"cancelled"`) {
		t.Fatalf("cancel: %d %s", code, body)
	}
	if code, _ := decide(t, link, "approve", ""); code != http.StatusGone {
		t.Errorf("approving a cancelled run: %d, want 410", code)
	}
	if code, body := s.api("POST", fmt.Sprintf("/api/v1/runs/%d/cancel", id), nil); code != http.StatusConflict {
		t.Errorf("cancelling twice: %d %s, want 409", code, body)
	}
}

// TestApprovalExpires: nobody decides before the deadline; the run expires
// and the author hears of it.
func TestApprovalExpires(t *testing.T) {
	t.Parallel()
	s := start(t, options{timeout: "3s"})
	id := s.pushRun(s.repo.head())
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	link := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")
	r := s.waitRun(id, 30*time.Second, greenlight.RunExpired)
	if r.Stage("approval").Status != greenlight.StageExpired || r.Stage("production").Status != greenlight.StageSkipped {
		t.Errorf("stages after expiry: %+v", r.Stages)
	}
	if code, page := get(t, link); code != http.StatusGone || !strings.Contains(page, "expired") {
		t.Errorf("link after the deadline: %d\n%s", code, page)
	}
	s.mailTo("ada@example.com", "expired", 30*time.Second)
}

// TestConcurrentDecisions: many clicks on one link at once; one wins.
func TestConcurrentDecisions(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg})
		id := s.pushRun(s.repo.head())
		s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		pm := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")
		cto := s.mailTo("cto@example.com", "Approve", 30*time.Second).Link("decision=reject")
		codes := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				link, verdict := pm, "approve"
				if i%2 == 1 {
					link, verdict = cto, "reject"
				}
				u, _ := url.Parse(link)
				u.RawQuery = ""
				resp, err := http.PostForm(u.String(), url.Values{"decision": {verdict}, "comment": {"a reason"}})
				code := 0
				if err == nil {
					code = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[200] != 1 || codes[410] != 39 {
			t.Fatalf("answers to 40 concurrent decisions: %v, want one 200 and 39 × 410", codes)
		}
		r := s.waitRun(id, 60*time.Second, greenlight.RunSucceeded, greenlight.RunRejected)
		code, body := s.api("GET", "/api/v1/approvals", nil)
		if code != 200 || strings.Count(string(body), `"decision":`) != 1 {
			t.Errorf("approvals after the race (run %s): %d %s", r.Status, code, body)
		}
	})
}

// TestMissingBuildFile: a commit without the build file fails clearly.
func TestMissingBuildFile(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	sha := s.repo.commit("Remove the build file", map[string]string{".greenlight.yml": ""})
	r := s.waitRun(s.pushRun(sha), 60*time.Second, greenlight.RunFailed)
	if e := r.Stage("build").Error; !strings.Contains(e, ".greenlight.yml not found") {
		t.Errorf("build error = %q", e)
	}
}

// TestSMTPOutage: mail due while the SMTP server is down is delivered once it
// is back, and the run never waited for it.
func TestSMTPOutage(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	s.smtp.SetDown(true)
	id := s.pushRun(s.repo.head())
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	time.Sleep(time.Second)
	if n := len(s.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails received while down", n)
	}
	code, body := s.api("GET", "/api/v1/outbox", nil)
	if code != 200 || !strings.Contains(string(body), `"attempts":1`) {
		t.Errorf("outbox while SMTP is down: %d %s", code, body)
	}
	s.smtp.SetDown(false)
	s.mailTo("pm@example.com", "Approve", 60*time.Second)
	s.mailTo("cto@example.com", "Approve", 60*time.Second) // each mail backs off on its own (jittered)
}
