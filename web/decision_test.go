package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// wantDecisionHeaders checks the headers SPEC §6 requires on decision pages.
func wantDecisionHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	want := map[string]string{
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	c := resp.Header.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(c, part) {
			t.Errorf("Content-Security-Policy %q lacks %q", c, part)
		}
	}
	if strings.Contains(c, "unsafe-inline") || strings.Contains(c, "script-src") {
		t.Errorf("Content-Security-Policy allows scripts: %q", c)
	}
}

// post submits a decision form the way a browser on our own page does.
func (e *env) post(token string, kv ...string) (*http.Response, string) {
	e.t.Helper()
	return e.do("POST", "/approvals/"+token, "", form(kv...),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", e.srv.PublicURL, "User-Agent", "TestBrowser/1.0")
}

func TestDecisionErrors(t *testing.T) {
	e := newEnv(t)
	_, tokens := e.gate("Errors", 1, "pm@example.com")
	unknown, _ := greenlight.NewToken()
	tests := []struct {
		name   string
		method string
		token  string
		body   []string
		header []string
		want   int
		text   string
	}{
		{"unknown token GET", "GET", unknown, nil, nil, 404, "not valid"},
		{"unknown token POST", "POST", unknown, []string{"decision", "approve"}, nil, 404, "not valid"},
		{"malformed token GET", "GET", "not-a-token", nil, nil, 404, "not valid"},
		{"token with a slash", "GET", tokens[0] + "/x", nil, nil, 404, "Not found"},
		{"malformed token POST", "POST", "x%27%3Cb%3E", []string{"decision", "approve"}, nil, 404, "not valid"},
		{"bad decision", "POST", tokens[0], []string{"decision", "maybe"}, nil, 400, "approve or reject"},
		{"no decision", "POST", tokens[0], nil, nil, 400, "approve or reject"},
		{"comment too long", "POST", tokens[0], []string{"decision", "approve", "comment", strings.Repeat("x", 4001)}, nil, 400, "at most"},
		{"other origin", "POST", tokens[0], []string{"decision", "approve"}, []string{"Origin", "https://evil.example"}, 403, "another site"},
		{"null origin cross-site", "POST", tokens[0], []string{"decision", "approve"}, []string{"Origin", "null", "Sec-Fetch-Site", "cross-site"}, 403, "another site"},
		{"no origin but cross-site", "POST", tokens[0], []string{"decision", "approve"}, []string{"Sec-Fetch-Site", "cross-site"}, 403, "another site"},
		{"form too large", "POST", tokens[0], []string{"decision", "approve", "comment", strings.Repeat("x", maxDecisionForm)}, nil, 400, "could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := append([]string{"Content-Type", "application/x-www-form-urlencoded"}, tt.header...)
			resp, body := e.do(tt.method, "/approvals/"+tt.token, "", form(tt.body...), h...)
			if resp.StatusCode != tt.want || !strings.Contains(body, tt.text) {
				t.Fatalf("status = %d, want %d with %q\n%s", resp.StatusCode, tt.want, tt.text, body)
			}
			wantDecisionHeaders(t, resp)
		})
	}
	// None of it decided anything.
	if resp, body := e.post(tokens[0], "decision", "approve"); resp.StatusCode != 200 {
		t.Fatalf("the token no longer works after refused requests: %d\n%s", resp.StatusCode, body)
	}
}

func TestDecisionNullOriginSameSite(t *testing.T) {
	// Chromium sends Origin: null for forms on no-referrer pages, with
	// Sec-Fetch-Site: same-origin; that is our own form.
	e := newEnv(t)
	_, tokens := e.gate("Null origin", 1, "pm@example.com")
	resp, body := e.do("POST", "/approvals/"+tokens[0], "", form("decision", "approve"),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "null", "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != 200 {
		t.Fatalf("POST = %d\n%s", resp.StatusCode, body)
	}
}
