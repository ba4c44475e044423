package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"

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

func TestHook(t *testing.T) {
	e := newEnv(t)
	push := func(branch, sha string) string {
		return `{"ref":"refs/heads/` + branch + `","after":"` + sha + `"}`
	}
	good := push("main", sha2)
	tests := []struct {
		name     string
		pipeline string
		body     string
		header   []string
		want     int
		contains string
	}{
		{"push starts a run", "hello", good, []string{"X-GitHub-Event", "push", "X-GitHub-Delivery", "d-1", "X-Hub-Signature-256", sign(hookSecret, good)}, 201, `"run":{"id":`},
		{"same delivery again", "hello", good, []string{"X-GitHub-Event", "push", "X-GitHub-Delivery", "d-1", "X-Hub-Signature-256", sign(hookSecret, good)}, 200, `"ignored":"delivery d-1 was already handled"`},
		{"generic form", "hello", good, []string{"X-Hub-Signature-256", sign(hookSecret, good)}, 201, `"run":`},
		{"other branch", "hello", push("dev", sha2), []string{"X-Hub-Signature-256", sign(hookSecret, push("dev", sha2))}, 200, `"ignored":"branch dev is not main"`},
		{"ping", "hello", `{"zen":"hi"}`, []string{"X-GitHub-Event", "ping", "X-Hub-Signature-256", sign(hookSecret, `{"zen":"hi"}`)}, 200, `{"ok":true}`},
		{"unknown pipeline", "nope", good, []string{"X-Hub-Signature-256", sign(hookSecret, good)}, 404, "no pipeline"},
		{"bad signature", "hello", good, []string{"X-Hub-Signature-256", sign("wrong", good)}, 401, "error"},
		{"no signature", "hello", good, nil, 401, "error"},
		{"pipeline without a secret", "nosecret", good, []string{"X-Hub-Signature-256", sign("", good)}, 401, "no webhook_secret"},
		{"malformed JSON", "hello", `{"ref":`, []string{"X-Hub-Signature-256", sign(hookSecret, `{"ref":`)}, 400, "error"},
		{"no sha", "hello", `{"ref":"refs/heads/main"}`, []string{"X-Hub-Signature-256", sign(hookSecret, `{"ref":"refs/heads/main"}`)}, 400, "error"},
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
	runs, err := e.store.Runs(t.Context(), greenlight.RunFilter{Pipeline: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Trigger != greenlight.TriggerWebhook || runs[0].Commit.SHA != sha2 {
		t.Fatalf("runs after the pushes = %d (first %+v), want 2 webhook runs of %s", len(runs), runs[0], sha2)
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
