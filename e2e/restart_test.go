package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestKillWhileWaiting: kill -9 while an approval waits; after a restart the
// run still waits and the link in the mail still works.
func TestKillWhileWaiting(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg})
		id := s.pushRun(s.repo.head())
		s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		link := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")
		// Kill once both mails are recorded as sent: a kill between an SMTP
		// transaction and its record would send that mail again (with the same
		// Message-ID: see mail's TestSMTPMessageIDStable); what this test checks
		// is that a restart makes no new approval mail.
		eventually(t, 30*time.Second, "both approval mails recorded as sent", func() bool {
			_, body := s.api("GET", "/api/v1/outbox", nil)
			return strings.Count(string(body), `"sent_at":"`) == 2
		})
		s.kill()
		s.boot()
		if r := s.run(id); r.Status != greenlight.RunWaiting {
			t.Fatalf("after restart the run is %s", r.Status)
		}
		if code, page := decide(t, link, "approve", ""); code != 200 {
			t.Fatalf("approve after restart: %d\n%s", code, page)
		}
		s.waitRun(id, 60*time.Second, greenlight.RunSucceeded)
		// Approval mails only: each approver is also told the outcome.
		var got []string
		asks := 0
		for _, m := range s.smtp.Messages() {
			p, _ := m.Parse()
			got = append(got, fmt.Sprintf("%v %q", m.To, p.Subject))
			if strings.HasPrefix(p.Subject, "Approve ") {
				asks++
			}
		}
		if asks != 2 {
			t.Errorf("%d approval mails sent, want 2 (one per approver, none twice after the restart): %v", asks, got)
		}
	})
}

// TestKillWhileBuilding: kill -9 during a build step; the restarted server
// runs the build again and the run goes on.
func TestKillWhileBuilding(t *testing.T) {
	t.Parallel()
	// The step cannot write outside its workspace, so it says it started in its log.
	steps := "  - name: slow\n    run: echo started-attempt && sleep 3\n  - name: build\n    run: mkdir -p dist && cp bin/app dist/app\n"
	s := start(t, options{steps: steps})
	id := s.pushRun(s.repo.head())
	started := func() int { return strings.Count(s.stageLog(id, "build"), "started-attempt\n") }
	eventually(t, 60*time.Second, "the build step starts", func() bool { return started() > 0 })
	s.kill()
	s.boot()
	r := s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	if b := r.Stage("build"); b.Status != greenlight.StageSucceeded || b.Attempts < 2 {
		t.Errorf("build stage after restart = %+v, want succeeded on a second attempt", b)
	}
	if n := started(); n != 2 {
		t.Errorf("the step ran %d times, want 2", n)
	}
}

// TestKillWhileDeploying: kill -9 in the middle of a deploy; after the
// restart the same release's deploy is resumed and the run goes on.
func TestKillWhileDeploying(t *testing.T) {
	t.Parallel()
	s := start(t, options{slowStart: true})
	id := s.pushRun(s.repo.head())
	eventually(t, 60*time.Second, "the deploy reaches its start hook", func() bool {
		return strings.Contains(s.stageLog(id, "staging"), "starting slowly")
	})
	s.kill()
	s.boot()
	r := s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	if log := s.stageLog(id, "staging"); !strings.Contains(log, "resuming the deploy") {
		t.Errorf("the stage log does not say the deploy was resumed:\n%s", log)
	}
	if st := r.Stage("staging"); st.Status != greenlight.StageSucceeded || st.Attempts != 2 {
		t.Errorf("staging after restart = %+v, want succeeded on the second attempt", st)
	}
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", s.staging)); code != 200 || !strings.Contains(body, r.Commit.SHA) {
		t.Errorf("staging answers %d %q", code, body)
	}
	code, body := s.api("GET", "/api/v1/pipelines/hello/environments/staging", nil)
	// One release, shown as current and in history: the resumed deploy made no other.
	if code != 200 || strings.Count(string(body), `"run":`) != 2 || !strings.Contains(string(body), `"live"`) {
		t.Errorf("staging history: %d %s", code, body)
	}
}

// TestQueuedMode: in mode queued, a second run waits for the first to finish.
func TestQueuedMode(t *testing.T) {
	t.Parallel()
	s := start(t, options{mode: "queued"})
	first := s.pushRun(s.repo.head())
	s.waitRun(first, 90*time.Second, greenlight.RunWaiting)
	second := s.pushRun(s.repo.commit("Second version", nil))
	time.Sleep(time.Second)
	if r := s.run(second); r.Status != greenlight.RunQueued {
		t.Fatalf("second run is %s while the first waits, want queued", r.Status)
	}
	link := s.mailTo("pm@example.com", "#1", 30*time.Second).Link("decision=approve")
	if code, page := decide(t, link, "approve", ""); code != 200 {
		t.Fatalf("approve: %d\n%s", code, page)
	}
	s.waitRun(first, 60*time.Second, greenlight.RunSucceeded)
	s.waitRun(second, 90*time.Second, greenlight.RunWaiting)
}

// TestPolling: without any webhook, a new commit on the branch starts a run.
func TestPolling(t *testing.T) {
	t.Parallel()
	s := start(t, options{poll: "1s"})
	runs := func() string {
		_, body := s.api("GET", "/api/v1/runs?pipeline=hello", nil)
		return string(body)
	}
	first := s.repo.head()
	// A fresh server builds the head once.
	eventually(t, 30*time.Second, "the poller builds the branch head", func() bool { return strings.Contains(runs(), first) })
	second := s.repo.commit("Polled change", nil)
	eventually(t, 30*time.Second, "the poller starts a run for a new commit", func() bool { return strings.Contains(runs(), second) })
	if body := runs(); !strings.Contains(body, `"trigger":"poll"`) || strings.Count(body, `"id":`) != 2 {
		t.Errorf("runs after a polled commit: %s", body)
	}
}

// TestWebhookInput: bad signatures, unknown pipelines, malformed and
// oversized bodies get clear 4xx answers; a repeated delivery starts nothing.
func TestWebhookInput(t *testing.T) {
	t.Parallel()
	s := start(t, options{})
	post := func(path, sig, body string) int {
		req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: content type %q, want JSON", path, ct)
		}
		return resp.StatusCode
	}
	if code := post("/hooks/nope", "sha256=00", "{}"); code != 401 { // as a bad signature: names cannot be listed
		t.Errorf("unknown pipeline: %d", code)
	}
	if code := post("/hooks/hello", "sha256=0000", `{"ref":"refs/heads/main","after":"`+s.repo.head()+`"}`); code != 401 {
		t.Errorf("bad signature: %d", code)
	}
	if code := post("/hooks/hello", "", strings.Repeat("x", 26<<20)); code != 413 {
		t.Errorf("oversized body: %d", code)
	}
	sha := s.repo.head()
	code, out := s.push(sha, "same-delivery")
	if code != 202 || out["queued"] != true {
		t.Fatalf("first delivery: %d %v", code, out)
	}
	code, out = s.push(sha, "same-delivery")
	if code != 200 || out["duplicate"] != true {
		t.Errorf("repeated delivery: %d %v", code, out)
	}
	s.deliveryRun("same-delivery")
	code, body := s.api("GET", "/api/v1/runs?pipeline=hello", nil)
	if code != 200 || strings.Count(string(body), `"trigger":"webhook"`) != 1 {
		t.Errorf("runs after a repeated delivery: %d %s", code, body)
	}
	if code, _ := s.api("POST", "/api/v1/pipelines/hello/runs", map[string]any{"commit": "--upload-pack=touch /tmp/x"}); code != 400 {
		t.Errorf("option-like commit: %d, want 400", code)
	}
}

// TestValidate: the validate command reports every problem with its position.
func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "greenlight.yml")
	os.WriteFile(bad, []byte("server:\n  listen: 127.0.0.1:8080\n  colour: blue\npipelines:\n  - name: Bad_Name\n    source: {repo: /tmp/x}\n    stages:\n      - {name: prod, type: deploy, environment: nowhere}\n"), 0o600)
	out, err := exec.Command(binary, "validate", "--config", bad).CombinedOutput()
	if err == nil {
		t.Fatalf("validate accepted a bad file:\n%s", out)
	}
	for _, want := range []string{bad + ":3:3: ", bad + ":5:", "nowhere"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	good := filepath.Join(dir, "build.yml")
	os.WriteFile(good, []byte("steps:\n  - run: go test ./...\n"), 0o600)
	if out, err := exec.Command(binary, "validate", "--build", good).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("validate --build good file: %v %s", err, out)
	}
}
