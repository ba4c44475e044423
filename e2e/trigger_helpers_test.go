package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// startPipelines starts a server with the given pipelines section (the
// YAML under "pipelines:"). In it {{REPO}} is the repository's path, {{DIR}}
// the server's directory and {{PORT}} a free port for an app. No SMTP: mail
// stays in the outbox.
func startPipelines(t *testing.T, r *repo, pipelines string) *server {
	t.Helper()
	s := &server{t: t, dir: passable(t, t.TempDir()), repo: r, staging: freePort(t)}
	port := freePort(t)
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.config = filepath.Join(s.dir, "greenlight.yml")
	pipelines = strings.NewReplacer("{{REPO}}", r.dir, "{{DIR}}", s.dir, "{{PORT}}", fmt.Sprint(s.staging)).Replace(pipelines)
	cfg := fmt.Sprintf("server:\n  listen: 127.0.0.1:%d\n  public_url: %s\n  data_dir: ./data\n  admin_token: ${GREENLIGHT_ADMIN_TOKEN}\npipelines:\n%s",
		port, s.url, pipelines)
	s.launch(cfg)
	return s
}

// hook sends a signed GitHub event to the pipeline and returns the status
// and the decoded answer.
func (s *server) hook(pipeline, event, delivery, body string) (int, map[string]any) {
	s.t.Helper()
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", s.url+"/hooks/"+pipeline, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// pushEvent is a GitHub push payload.
func pushEvent(ref, before, after, message string, forced bool) string {
	b, _ := json.Marshal(map[string]any{"ref": ref, "before": before, "after": after, "forced": forced,
		"deleted": after == zeros, "created": before == zeros,
		"repository":  map[string]any{"full_name": "acme/hello"},
		"head_commit": map[string]any{"id": after, "message": message}})
	return string(b)
}

// pullEvent is a GitHub pull_request payload.
func pullEvent(action string, number int, head, headRef, base string) string {
	b, _ := json.Marshal(map[string]any{"action": action, "number": number,
		"pull_request": map[string]any{"number": number, "title": "Change things", "html_url": "https://example.com/pr",
			"head": map[string]any{"ref": headRef, "sha": head, "repo": map[string]any{"clone_url": "https://example.com/fork.git"}},
			"base": map[string]any{"ref": base}},
		"repository": map[string]any{"full_name": "acme/hello"}})
	return string(b)
}

const zeros = "0000000000000000000000000000000000000000"

// runs lists a pipeline's runs, newest first.
func (s *server) runs(pipeline string) []*greenlight.Run {
	s.t.Helper()
	code, body := s.api("GET", "/api/v1/runs?limit=500&pipeline="+pipeline, nil)
	if code != 200 {
		s.t.Fatalf("list runs: %d %s", code, body)
	}
	var runs []*greenlight.Run
	if err := json.Unmarshal(body, &runs); err != nil {
		s.t.Fatalf("runs: %v: %s", err, body)
	}
	return runs
}

// outcome waits until the server has processed the delivery (webhooks are
// acknowledged at once and processed from the inbox) and returns the run it
// started (0 if none) and, if none, why.
func (s *server) outcome(pipeline, delivery string) (int64, string) {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		code, body := s.api("GET", "/api/v1/deliveries?limit=100&pipeline="+pipeline, nil)
		if code != 200 {
			s.t.Fatalf("deliveries: %d %s", code, body)
		}
		var list []greenlight.Delivery
		if err := json.Unmarshal(body, &list); err != nil {
			s.t.Fatalf("deliveries: %v: %s", err, body)
		}
		for _, d := range list {
			if d.DeliveryID == delivery && d.Status != greenlight.DeliveryQueued {
				return d.RunID, d.Result
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("delivery %s was not processed within a minute", delivery)
	return 0, ""
}

// send posts a signed GitHub event and waits for its outcome.
func (s *server) send(pipeline, event, delivery, body string) (int64, string) {
	s.t.Helper()
	code, out := s.hook(pipeline, event, delivery, body)
	if code/100 != 2 {
		s.t.Fatalf("delivery %s: %d %v", delivery, code, out)
	}
	if why, ok := out["ignored"].(string); ok {
		return 0, why // ignored by the web layer already (a closed pull request)
	}
	return s.outcome(pipeline, delivery)
}
