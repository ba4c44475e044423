package web

import (
	"context"
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

func TestDecisionPageShowsTheReleaseAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	run, tokens := e.gate(`Ship <script>alert("x")</script> & more`, 1, "pm@example.com")
	for range 3 { // mail scanners open links, sometimes more than once
		resp, body := e.do("GET", "/approvals/"+tokens[0], "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET = %d, want 200\n%s", resp.StatusCode, body)
		}
		wantDecisionHeaders(t, resp)
		for _, s := range []string{"hello", "#" + itoa(run.ID), sha2[:7], "Grace Hopper", "pm@example.com",
			`href="http://staging.example.com/"`, "Look at it on staging", "0 of 1",
			`value="approve"`, `value="reject"`, `name="comment"`, "/static/style.css",
			"Ship &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more"} {
			if !strings.Contains(body, s) {
				t.Errorf("page lacks %q", s)
			}
		}
		if strings.Contains(body, "<script>alert") {
			t.Fatal("the commit title reached the page unescaped")
		}
		if strings.Contains(body, " style=") || strings.Contains(body, "<style") || strings.Contains(body, "<script") {
			t.Error("the page has inline style or script, which the CSP forbids")
		}
	}
	a, err := e.store.ApprovalForStage(context.Background(), run.ID, "approval")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != greenlight.ApprovalPending || len(a.Decisions) != 0 {
		t.Fatalf("after GETs the approval is %s with %d decisions, want pending and none", a.Status, len(a.Decisions))
	}
	// The token still decides.
	if resp, body := e.post(tokens[0], "decision", "approve"); resp.StatusCode != 200 {
		t.Fatalf("POST after GETs = %d\n%s", resp.StatusCode, body)
	}
}

func TestDecisionPagePreselects(t *testing.T) {
	e := newEnv(t)
	_, tokens := e.gate("Preselect", 1, "pm@example.com")
	tests := []struct {
		query, chosen, notChosen string
	}{
		{"?decision=approve", `class="button approve chosen"`, `class="button reject chosen"`},
		{"?decision=reject", `class="button reject chosen"`, `class="button approve chosen"`},
		{"?decision=maybe", "", "chosen"},
		{"", "", "chosen"},
	}
	for _, tt := range tests {
		resp, body := e.do("GET", "/approvals/"+tokens[0]+tt.query, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d", tt.query, resp.StatusCode)
		}
		if tt.chosen != "" && !strings.Contains(body, tt.chosen) {
			t.Errorf("GET %s: page lacks %s", tt.query, tt.chosen)
		}
		if strings.Contains(body, tt.notChosen) {
			t.Errorf("GET %s: page has %s", tt.query, tt.notChosen)
		}
	}
	a, _ := e.store.Approvals(context.Background(), greenlight.ApprovalPending)
	if len(a) != 1 {
		t.Fatal("a preselecting GET decided the approval")
	}
}

func TestDecideOnceThenGone(t *testing.T) {
	e := newEnv(t)
	run, tokens := e.gate("Approve me", 1, "pm@example.com", "cto@example.com")

	resp, body := e.post(tokens[0], "decision", "approve", "comment", "Looks <b>great</b>")
	if resp.StatusCode != 200 || !strings.Contains(body, "Approved — thank you") {
		t.Fatalf("approve = %d, want 200 and the thank-you page\n%s", resp.StatusCode, body)
	}
	wantDecisionHeaders(t, resp)

	a, err := e.store.ApprovalForStage(context.Background(), run.ID, "approval")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != greenlight.ApprovalApproved || len(a.Decisions) != 1 {
		t.Fatalf("approval = %s with %d decisions, want approved with one", a.Status, len(a.Decisions))
	}
	d := a.Decisions[0]
	if d.Approver != "pm@example.com" || d.Verdict != greenlight.Approve || d.Comment != "Looks <b>great</b>" ||
		d.IP != "127.0.0.1" || d.UserAgent != "TestBrowser/1.0" {
		t.Errorf("decision recorded as %+v", d)
	}

	// The same link again: 410, saying it was used and by whom.
	resp, body = e.post(tokens[0], "decision", "reject")
	if resp.StatusCode != 410 || !strings.Contains(body, "already used") || !strings.Contains(body, "pm@example.com") {
		t.Fatalf("second POST = %d, want 410 'already used' by pm\n%s", resp.StatusCode, body)
	}
	wantDecisionHeaders(t, resp)
	resp, body = e.do("GET", "/approvals/"+tokens[0], "", nil)
	if resp.StatusCode != 410 || !strings.Contains(body, "already used") {
		t.Fatalf("GET of a used link = %d, want 410 'already used'\n%s", resp.StatusCode, body)
	}
	wantDecisionHeaders(t, resp)
	// The other approver's link: the gate is closed, and the page says so.
	resp, body = e.do("GET", "/approvals/"+tokens[1], "", nil)
	if resp.StatusCode != 410 || !strings.Contains(body, "already approved") || !strings.Contains(body, "pm@example.com") {
		t.Fatalf("GET of the other link = %d, want 410 'already approved' by pm\n%s", resp.StatusCode, body)
	}
	if resp, body := e.post(tokens[1], "decision", "reject"); resp.StatusCode != 410 {
		t.Fatalf("POST of the other link = %d, want 410\n%s", resp.StatusCode, body)
	}
}

func TestDecideReject(t *testing.T) {
	e := newEnv(t)
	_, tokens := e.gate("Reject me", 2, "pm@example.com", "cto@example.com")
	resp, body := e.post(tokens[1], "decision", "reject", "comment", "The button is broken")
	if resp.StatusCode != 200 || !strings.Contains(body, "Rejected") || !strings.Contains(body, "will not go to production") {
		t.Fatalf("reject = %d\n%s", resp.StatusCode, body)
	}
}

func TestDecideNeedsMoreApprovals(t *testing.T) {
	e := newEnv(t)
	_, tokens := e.gate("Two needed", 2, "pm@example.com", "cto@example.com")
	resp, body := e.post(tokens[0], "decision", "approve")
	if resp.StatusCode != 200 || !strings.Contains(body, "1 of 2 approvals so far") {
		t.Fatalf("first of two = %d\n%s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/approvals/"+tokens[1], "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Already decided") || !strings.Contains(body, "1 of 2 needed") {
		t.Fatalf("second approver's page = %d, want it to show the first decision\n%s", resp.StatusCode, body)
	}
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

func TestDecisionExpired(t *testing.T) {
	e := newEnv(t)
	_, tokens := e.gate("Too late", 1, "pm@example.com")
	e.clock.Add(73 * 3600 * 1e9)
	resp, body := e.do("GET", "/approvals/"+tokens[0], "", nil)
	if resp.StatusCode != 410 || !strings.Contains(body, "expired") {
		t.Fatalf("GET after the deadline = %d, want 410 'expired'\n%s", resp.StatusCode, body)
	}
	resp, body = e.post(tokens[0], "decision", "approve")
	if resp.StatusCode != 410 || !strings.Contains(body, "expired") {
		t.Fatalf("POST after the deadline = %d, want 410 'expired'\n%s", resp.StatusCode, body)
	}
}
