package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

const secret = "It's a Secret to Everybody"

func sign(body []byte, key string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GitHub's documented test vector: this secret and body give this signature.
func TestGitHubDocumentedSignature(t *testing.T) {
	h := headers("X-GitHub-Event", "push",
		"X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	_, err := Parse(h, []byte("Hello, World!"), secret)
	// The signature passes; the body then fails as JSON.
	if greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Fatalf("got %v, want the signature accepted and the body refused as EINVALID", err)
	}
}

func TestParseForm(t *testing.T) {
	body := []byte("payload=" + url.QueryEscape(string(readTestdata(t, "github/push.json"))))
	h := headers("X-GitHub-Event", "push", "Content-Type", "application/x-www-form-urlencoded",
		"X-Hub-Signature-256", "sha256="+sign(body, secret))
	p, err := Parse(h, body, secret)
	if err != nil || p.After != "fd489864e7642b48eaad6e3f155c10e46810ec72" {
		t.Fatalf("Parse(form) = %+v, %v", p, err)
	}
}

func TestParseUnauthorized(t *testing.T) {
	body := readTestdata(t, "synthetic/generic-push.json")
	good := sign(body, secret)
	tests := []struct {
		name   string
		h      http.Header
		secret string
		msg    string
	}{
		{"no secret configured", headers("X-Hub-Signature-256", "sha256="+sign(body, "")), "", "no webhook_secret"},
		{"no signature", headers(), secret, "missing X-Hub-Signature-256"},
		{"wrong secret", headers("X-Hub-Signature-256", "sha256="+sign(body, "other")), secret, "wrong"},
		{"no prefix", headers("X-Hub-Signature-256", good), secret, "malformed"},
		{"sha1 prefix", headers("X-Hub-Signature-256", "sha1="+good), secret, "malformed"},
		{"not hex", headers("X-Hub-Signature-256", "sha256=zz"+good[2:]), secret, "malformed"},
		{"truncated", headers("X-Hub-Signature-256", "sha256="+good[:62]), secret, "wrong"},
		{"empty hex", headers("X-Hub-Signature-256", "sha256="), secret, "wrong"},
		{"github sha1 only", headers("X-GitHub-Event", "push", "X-Hub-Signature", "sha1=0000"), secret, "missing X-Hub-Signature-256"},
		{"gitea wrong", headers("X-Gitea-Event", "push", "X-Gitea-Signature", sign(body, "other")), secret, "wrong X-Gitea-Signature"},
		{"gitea signed github-style only", headers("X-Gitea-Event", "push", "X-Hub-Signature-256", "sha256="+good), secret, "missing X-Gitea-Signature"},
		{"forgejo missing", headers("X-Forgejo-Event", "push"), secret, "missing X-Forgejo-Signature"},
		{"gitlab no token", headers("X-Gitlab-Event", "Push Hook"), secret, "missing X-Gitlab-Token"},
		{"gitlab wrong token", headers("X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "guess"), secret, "wrong X-Gitlab-Token"},
		{"gitlab token prefix", headers("X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", secret[:5]), secret, "wrong"},
		// An unsigned request learns nothing about the event it names.
		{"unsigned unknown event", headers("X-GitHub-Event", "issues"), secret, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.h, body, tt.secret)
			if greenlight.ErrorCode(err) != greenlight.EUNAUTHORIZED || p != nil {
				t.Fatalf("got %+v, %v; want EUNAUTHORIZED", p, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, body, event, msg string
	}{
		{"not json", `{"ref": `, "", "malformed generic push payload: invalid JSON"},
		{"json array", `[1,2]`, "", "malformed"},
		{"ref a number", `{"ref": 1, "after": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}`, "", `field "ref" should be a string`},
		{"no ref", `{"after": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}`, "", `no "ref"`},
		{"no after", `{"ref": "refs/heads/main"}`, "", `no "after"`},
		{"null after", `{"ref": "refs/heads/main", "after": null}`, "", `no "after"`},
		{"short after", `{"ref": "refs/heads/main", "after": "a94a8fe"}`, "", "not a full commit sha"},
		{"after not hex", `{"ref": "refs/heads/main", "after": "z94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}`, "", "not a full commit sha"},
		{"after option", `{"ref": "refs/heads/main", "after": "--upload-pack=touch /tmp/pwned0000000000000"}`, "", "not a full commit sha"},
		{"short ref", `{"ref": "main", "after": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}`, "", "not a full ref name"},
		{"ref with space", `{"ref": "refs/heads/a b", "after": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}`, "", "not a valid ref name"},
		{"ref with newline", `{"ref": "refs/heads/a\nb", "after": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}`, "", "control character"},
		{"ref dotdot", `{"ref": "refs/heads/../../x", "after": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}`, "", "not a valid ref name"},
		{"ref ends with slash", `{"ref": "refs/heads/", "after": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"}`, "", "not a valid ref name"},
		{"unsupported event", `{}`, "issues", `unsupported github event "issues"`},
		{"pull request without body", `{}`, "pull_request", `no "pull_request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			h := headers("X-Hub-Signature-256", "sha256="+sign(body, secret))
			if tt.event != "" {
				h.Set("X-GitHub-Event", tt.event)
			}
			p, err := Parse(h, body, secret)
			if greenlight.ErrorCode(err) != greenlight.EINVALID || p != nil {
				t.Fatalf("got %+v, %v; want EINVALID", p, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestParseNothing(t *testing.T) {
	if _, err := Parse(nil, nil, secret); greenlight.ErrorCode(err) != greenlight.EUNAUTHORIZED {
		t.Fatalf("Parse(nil, nil) = %v, want EUNAUTHORIZED", err)
	}
}

func TestDeliveryID(t *testing.T) {
	body := readTestdata(t, "synthetic/generic-push.json")
	for _, id := range []string{"has space", "new\nline", strings.Repeat("x", 129), "ünicode"} {
		h := headers("X-Hub-Signature-256", "sha256="+sign(body, secret), "X-Greenlight-Delivery", id)
		if _, err := Parse(h, body, secret); greenlight.ErrorCode(err) != greenlight.EINVALID {
			t.Errorf("delivery id %q: got %v, want EINVALID", id, err)
		}
	}
}

// FuzzParse feeds arbitrary headers and bodies, signed and unsigned: Parse
// must never panic, and whatever it accepts must be well formed.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"github/push.json", "gitea/push.json", "gitlab/push.json", "synthetic/generic-push.json", "github/ping.json"} {
		f.Add(readTestdata(f, name), "X-GitHub-Event", "push", true)
	}
	f.Add(readTestdata(f, "github/pull_request.json"), "X-GitHub-Event", "pull_request", true)
	f.Add(readTestdata(f, "gitlab/merge_request.json"), "X-Gitlab-Event", "Merge Request Hook", true)
	f.Add(readTestdata(f, "bitbucket/repo_push.json"), "X-Event-Key", "repo:push", true)
	f.Add(readTestdata(f, "bitbucket/pullrequest_created.json"), "X-Event-Key", "pullrequest:created", true)
	f.Add([]byte(`{"ref":"refs/heads/x","after":"`+strings.Repeat("0", 40)+`"}`), "X-Gitlab-Event", "Push Hook", false)
	f.Add([]byte("payload=%7B%7D"), "Content-Type", "application/x-www-form-urlencoded", true)
	f.Add([]byte(`{"ref":"refs/heads/x","after":`), "X-Gitea-Event", "push", true)
	f.Fuzz(func(t *testing.T, body []byte, header, value string, signed bool) {
		h := http.Header{}
		h[http.CanonicalHeaderKey(header)] = []string{value}
		if signed {
			h.Set("X-Hub-Signature-256", "sha256="+sign(body, secret))
			h.Set("X-Gitea-Signature", sign(body, secret))
			h.Set("X-Forgejo-Signature", sign(body, secret))
			h.Set("X-Gitlab-Token", secret)
			h.Set("X-Hub-Signature", "sha256="+sign(body, secret))
		}
		p, err := Parse(h, body, secret)
		if err != nil {
			if c := greenlight.ErrorCode(err); c != greenlight.EINVALID && c != greenlight.EUNAUTHORIZED {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		switch {
		case p.Ping, p.Ignored != "":
			return
		case p.PullRequest != nil:
			pr := p.PullRequest
			if pr.Number <= 0 || pr.HeadBranch == "" || strings.HasPrefix(pr.HeadBranch, "-") || strings.HasPrefix(pr.HeadRepo, "-") ||
				!(greenlight.ValidSHA(p.After) || p.Forge == Bitbucket && abbreviatedSHA(p.After)) {
				t.Fatalf("accepted a malformed pull request: %+v %+v", p, pr)
			}
			return
		}
		if !strings.HasPrefix(p.Ref, "refs/") || !greenlight.ValidSHA(p.After) || (p.Branch != "" && p.Ref != "refs/heads/"+p.Branch) ||
			(p.Tag != "" && p.Ref != "refs/tags/"+p.Tag) || (p.Before != "" && !greenlight.ValidSHA(p.Before)) {
			t.Fatalf("accepted a malformed push: %+v", p)
		}
	})
}
