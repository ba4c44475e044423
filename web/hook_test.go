package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// sign returns GitHub's X-Hub-Signature-256 of body.
func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// zeroReader is an endless body of zeros, for payloads too large to build.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func pushBody(branch, sha string) string {
	return `{"ref":"refs/heads/` + branch + `","after":"` + sha + `"}`
}

// hook posts a signed GitHub-style webhook to the pipeline hello.
func (e *env) hook(event, delivery, body string) (*http.Response, string) {
	e.t.Helper()
	h := []string{"Content-Type", "application/json", "X-Hub-Signature-256", sign(hookSecret, body)}
	if event != "" {
		h = append(h, "X-GitHub-Event", event)
	}
	if delivery != "" {
		h = append(h, "X-GitHub-Delivery", delivery)
	}
	return e.do("POST", "/hooks/hello", "", strings.NewReader(body), h...)
}

// delivery waits until the inbox has processed the delivery with that id and
// returns it. The wait is a bound for a stuck worker, not a speed test.
func (e *env) delivery(id string) *greenlight.Delivery {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err := e.store.Deliveries(e.t.Context(), "", 500)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, d := range list {
			if d.DeliveryID == id && d.Status != greenlight.DeliveryQueued {
				return d
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("delivery %s was not processed", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// webhookRuns returns the pipeline's runs started by webhooks.
func (e *env) webhookRuns() []*greenlight.Run {
	e.t.Helper()
	runs, err := e.store.Runs(e.t.Context(), greenlight.RunFilter{Pipeline: "hello"})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*greenlight.Run
	for _, r := range runs {
		if r.Trigger == greenlight.TriggerWebhook {
			out = append(out, r)
		}
	}
	return out
}

func TestHookAnswers(t *testing.T) {
	e := newEnv(t)
	good := pushBody("main", sha2)
	tests := []struct {
		name     string
		pipeline string
		body     string
		header   []string
		want     int
		contains string
	}{
		{"push is queued", "hello", good, []string{"X-GitHub-Event", "push", "X-GitHub-Delivery", "d-1", "X-Hub-Signature-256", sign(hookSecret, good)}, 202, `"queued":true`},
		{"same delivery again", "hello", good, []string{"X-GitHub-Event", "push", "X-GitHub-Delivery", "d-1", "X-Hub-Signature-256", sign(hookSecret, good)}, 200, `{"delivery":"d-1","duplicate":true}`},
		{"generic form without a delivery id", "hello", good, []string{"X-Hub-Signature-256", sign(hookSecret, good)}, 202, `"delivery":"greenlight-`},
		{"ping", "hello", `{"zen":"hi"}`, []string{"X-GitHub-Event", "ping", "X-Hub-Signature-256", sign(hookSecret, `{"zen":"hi"}`)}, 200, `"ok":true`},
		{"closed pull request", "hello", `{"action":"closed","pull_request":{}}`, []string{"X-GitHub-Event", "pull_request",
			"X-Hub-Signature-256", sign(hookSecret, `{"action":"closed","pull_request":{}}`)}, 200, `"ignored":"pull request action closed"`},
		{"unknown pipeline", "nope", good, []string{"X-Hub-Signature-256", sign(hookSecret, good)}, 401, hookRefused},
		{"bad signature", "hello", good, []string{"X-Hub-Signature-256", sign("wrong", good)}, 401, "error"},
		{"no signature", "hello", good, nil, 401, "error"},
		{"pipeline without a secret", "nosecret", good, []string{"X-Hub-Signature-256", sign("", good)}, 401, hookRefused},
		{"malformed JSON", "hello", `{"ref":`, []string{"X-Hub-Signature-256", sign(hookSecret, `{"ref":`)}, 400, "error"},
		{"no sha", "hello", `{"ref":"refs/heads/main"}`, []string{"X-Hub-Signature-256", sign(hookSecret, `{"ref":"refs/heads/main"}`)}, 400, "error"},
		{"unused event", "hello", `{}`, []string{"X-GitHub-Event", "issues", "X-Hub-Signature-256", sign(hookSecret, `{}`)}, 400, "unsupported github event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do("POST", "/hooks/"+tt.pipeline, "", strings.NewReader(tt.body),
				append([]string{"Content-Type", "application/json"}, tt.header...)...)
			if resp.StatusCode != tt.want || !strings.Contains(body, tt.contains) {
				t.Fatalf("status = %d, want %d with %q\n%s", resp.StatusCode, tt.want, tt.contains, body)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q, want JSON", resp.Header.Get("Content-Type"))
			}
		})
	}
	e.delivery("d-1")
	list, err := e.store.Deliveries(t.Context(), "hello", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Stored: d-1, the generic push, the ping, the closed pull request.
	if len(list) != 4 || list[0].Event != "pull_request" || list[0].Status != greenlight.DeliveryIgnored ||
		list[0].Result != "pull request action closed" || list[1].Event != "ping" || list[1].DoneAt == nil {
		t.Fatalf("deliveries stored: %d, newest %+v", len(list), list[0])
	}
	if runs := e.webhookRuns(); len(runs) < 1 || runs[len(runs)-1].Commit.SHA != sha2 {
		t.Fatalf("runs after the pushes = %d, want webhook runs of %s", len(runs), sha2)
	}
}

// A redelivery is answered 200 duplicate and starts no second run.
func TestHookDuplicate(t *testing.T) {
	e := newEnv(t)
	body := pushBody("main", sha1)
	if resp, out := e.hook("push", "dup-1", body); resp.StatusCode != 202 {
		t.Fatalf("first delivery: %d %s", resp.StatusCode, out)
	}
	first := e.delivery("dup-1")
	if first.Status != greenlight.DeliveryStarted || first.RunID == 0 || first.Forge != "github" || first.Commit != sha1 {
		t.Fatalf("first delivery processed as %+v, want a run started", first)
	}
	resp, out := e.hook("push", "dup-1", body)
	if resp.StatusCode != 200 || !strings.Contains(out, `"duplicate":true`) {
		t.Fatalf("redelivery: %d %s, want 200 duplicate", resp.StatusCode, out)
	}
	if runs := e.webhookRuns(); len(runs) != 1 || runs[0].ID != first.RunID {
		t.Fatalf("got %d runs, want the one run %d", len(runs), first.RunID)
	}
}

// 20 copies of one delivery at once: one is queued, one run starts.
func TestHookConcurrentDuplicates(t *testing.T) {
	e := newEnv(t)
	body := pushBody("main", sha2)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.hook("push", "same-delivery", body)
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[202] != 1 || codes[200] != 19 {
		t.Fatalf("answers %v, want one 202 and nineteen 200", codes)
	}
	d := e.delivery("same-delivery")
	// Let the worker look again, as after another wake: still one run.
	e.inbox.Wake()
	e.hook("push", "other-delivery", pushBody("dev", sha2))
	e.delivery("other-delivery")
	if runs := e.webhookRuns(); len(runs) != 1 || runs[0].ID != d.RunID {
		t.Fatalf("got %d runs, want exactly one (%d)", len(runs), d.RunID)
	}
}

func TestHookBodyLimit(t *testing.T) {
	e := newEnv(t)
	body := io.LimitReader(zeroReader{}, maxHookBody+1)
	resp, out := e.do("POST", "/hooks/hello", "", body, "Content-Type", "application/json", "X-Hub-Signature-256", sign(hookSecret, ""))
	if resp.StatusCode != 413 || !strings.Contains(out, `"error"`) {
		t.Fatalf("a body over 25 MiB = %d %s, want 413 JSON", resp.StatusCode, out)
	}
	// Exactly at the limit is read (and then refused for its content).
	resp, out = e.do("POST", "/hooks/hello", "", io.LimitReader(zeroReader{}, maxHookBody), "X-Hub-Signature-256", sign(hookSecret, ""))
	if resp.StatusCode != 401 {
		t.Fatalf("a body of exactly 25 MiB = %d %s, want 401 (read, then the signature is wrong)", resp.StatusCode, out)
	}
}

// Deliveries queued while no worker runs (a crash between the answer and
// the processing) are processed when the worker starts.
func TestHookLeftoversAfterRestart(t *testing.T) {
	e := newEnv(t)
	e.stopInbox()
	for i, sha := range []string{sha1, sha2} {
		id := "left-" + string(rune('a'+i))
		if resp, out := e.hook("push", id, pushBody("main", sha)); resp.StatusCode != 202 {
			t.Fatalf("delivery %s: %d %s", id, resp.StatusCode, out)
		}
	}
	queued, err := e.store.QueuedDeliveries(t.Context(), 0)
	if err != nil || len(queued) != 2 || len(e.webhookRuns()) != 0 {
		t.Fatalf("before the worker starts: %d queued (%v), %d runs; want 2 queued, no run", len(queued), err, len(e.webhookRuns()))
	}
	e.startInbox()
	a, b := e.delivery("left-a"), e.delivery("left-b")
	if a.RunID == 0 || b.RunID == 0 || a.RunID > b.RunID {
		t.Fatalf("leftovers processed as %+v and %+v, want two runs in order", a, b)
	}
	if runs := e.webhookRuns(); len(runs) != 2 {
		t.Fatalf("got %d runs, want 2", len(runs))
	}
}

// Each forge's sample payload through the endpoint, signed the forge's way.
func TestHookForgeSamples(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		file    string
		header  func(body string) []string
		code    int
		event   string
		status  greenlight.DeliveryStatus
		result  string
		pullReq bool
	}{
		{"github/push.json", func(b string) []string {
			return []string{"X-GitHub-Event", "push", "X-GitHub-Delivery", "gh-push", "X-Hub-Signature-256", sign(hookSecret, b)}
		}, 202, "push", greenlight.DeliveryIgnored, "branch master is not main", false},
		{"github/pull_request.json", func(b string) []string {
			return []string{"X-GitHub-Event", "pull_request", "X-GitHub-Delivery", "gh-pr", "X-Hub-Signature-256", sign(hookSecret, b)}
		}, 202, "pull_request", greenlight.DeliveryStarted, "", true},
		{"github/ping.json", func(b string) []string {
			return []string{"X-GitHub-Event", "ping", "X-GitHub-Delivery", "gh-ping", "X-Hub-Signature-256", sign(hookSecret, b)}
		}, 200, "ping", greenlight.DeliveryIgnored, "ping", false},
		{"gitlab/push.json", func(b string) []string {
			return []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", "gl-push", "X-Gitlab-Token", hookSecret}
		}, 202, "push", greenlight.DeliveryIgnored, "branch master is not main", false},
		{"gitlab/tag_push.json", func(b string) []string {
			return []string{"X-Gitlab-Event", "Tag Push Hook", "X-Gitlab-Event-UUID", "gl-tag", "X-Gitlab-Token", hookSecret}
		}, 202, "tag", greenlight.DeliveryIgnored, "branch  is not main", false},
		{"gitlab/merge_request.json", func(b string) []string {
			return []string{"X-Gitlab-Event", "Merge Request Hook", "X-Gitlab-Event-UUID", "gl-mr", "X-Gitlab-Token", hookSecret}
		}, 202, "pull_request", greenlight.DeliveryStarted, "", true},
		{"gitea/push.json", func(b string) []string {
			return []string{"X-Gitea-Event", "push", "X-Gitea-Delivery", "gt-push", "X-Gitea-Signature", strings.TrimPrefix(sign(hookSecret, b), "sha256=")}
		}, 202, "push", greenlight.DeliveryIgnored, "branch master is not main", false},
		{"gitea/pull_request.json", func(b string) []string {
			return []string{"X-Forgejo-Event", "pull_request", "X-Forgejo-Delivery", "fj-pr", "X-Forgejo-Signature", strings.TrimPrefix(sign(hookSecret, b), "sha256=")}
		}, 202, "pull_request", greenlight.DeliveryStarted, "", true},
		{"bitbucket/repo_push.json", func(b string) []string {
			return []string{"X-Event-Key", "repo:push", "X-Request-UUID", "bb-push", "X-Hook-UUID", "hook", "X-Hub-Signature", sign(hookSecret, b)}
		}, 202, "push", greenlight.DeliveryIgnored, "branch name-of-branch is not main", false},
		{"bitbucket/pullrequest_created.json", func(b string) []string {
			return []string{"X-Event-Key", "pullrequest:created", "X-Request-UUID", "bb-pr", "X-Hook-UUID", "hook", "X-Hub-Signature", sign(hookSecret, b)}
		}, 202, "pull_request", greenlight.DeliveryStarted, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "webhook", "testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			body := string(raw)
			header := append([]string{"Content-Type", "application/json"}, tt.header(body)...)
			resp, out := e.do("POST", "/hooks/hello", "", strings.NewReader(body), header...)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, out, tt.code)
			}
			var ans struct{ Delivery string }
			if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.Delivery == "" {
				t.Fatalf("answer %s has no delivery", out)
			}
			d := e.delivery(ans.Delivery)
			if d.Event != tt.event || d.Status != tt.status || d.Result != tt.result {
				t.Fatalf("delivery %+v, want event %s, status %s, result %q", d, tt.event, tt.status, tt.result)
			}
			if !tt.pullReq {
				return
			}
			run, err := e.store.Run(t.Context(), d.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if !greenlight.ValidSHA(run.Commit.SHA) {
				t.Errorf("pull request run of %s, want a full sha", run.Commit.SHA)
			}
		})
	}
}

func TestDeliveriesAPI(t *testing.T) {
	e := newEnv(t)
	e.hook("push", "api-1", pushBody("main", sha1))
	e.hook("push", "api-2", pushBody("dev", sha1))
	e.delivery("api-1")
	e.delivery("api-2")
	resp, body := e.api("GET", "/api/v1/deliveries?pipeline=hello", "")
	var list []map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 2 {
		t.Fatalf("GET deliveries: %d %s", resp.StatusCode, body)
	}
	newest, oldest := list[0], list[1]
	if newest["delivery"] != "api-2" || newest["status"] != "ignored" || newest["result"] != "branch dev is not main" || newest["event"] != "push" {
		t.Errorf("newest delivery %v, want api-2 ignored for its branch", newest)
	}
	if oldest["delivery"] != "api-1" || oldest["status"] != "started" || oldest["run"] == nil || oldest["forge"] != "github" ||
		oldest["commit"] != sha1 || oldest["ref"] != "refs/heads/main" || oldest["done_at"] == nil {
		t.Errorf("oldest delivery %v, want api-1 that started a run", oldest)
	}
	if strings.Contains(body, "payload") {
		t.Errorf("the listing shows the stored payload: %s", body)
	}
	for _, tt := range []struct {
		path  string
		token string
		code  int
	}{
		{"/api/v1/deliveries", "", 401},
		{"/api/v1/deliveries?limit=0", adminToken, 400},
		{"/api/v1/deliveries?limit=x", adminToken, 400},
		{"/api/v1/deliveries?pipeline=nope", adminToken, 200},
	} {
		resp, body := e.do("GET", tt.path, tt.token, nil)
		if resp.StatusCode != tt.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d %s, want %d JSON", tt.path, resp.StatusCode, body, tt.code)
		}
	}
	resp, body = e.api("GET", "/api/v1/deliveries?pipeline=nope", "")
	if strings.TrimSpace(body) != "[]" {
		t.Errorf("an unknown pipeline's deliveries: %s, want []", body)
	}
}
