package web

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// login posts the admin token and returns the session cookie.
func (e *env) login() *http.Cookie {
	e.t.Helper()
	resp, body := e.do("POST", "/login", "", form("token", adminToken),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", e.srv.PublicURL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		e.t.Fatalf("login = %d → %q, want 303 → /\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	e.t.Fatal("login set no session cookie")
	return nil
}

// page GETs a UI page with the session cookie.
func (e *env) page(c *http.Cookie, path string) (*http.Response, string) {
	e.t.Helper()
	return e.do("GET", path, "", nil, "Cookie", c.Name+"="+c.Value)
}

func TestLoginFlow(t *testing.T) {
	e := newEnv(t)
	// Without a session every page sends you to the login form.
	for _, p := range []string{"/", "/pipelines/hello", "/runs/1", "/approvals", "/outbox", "/runs/1/logs/build"} {
		resp, _ := e.do("GET", p, "", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("GET %s without a session = %d → %q, want 303 → /login", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, body := e.do("GET", "/login", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) {
		t.Fatalf("login page = %d\n%s", resp.StatusCode, body)
	}
	wantDecisionHeaders(t, resp)

	resp, body = e.do("POST", "/login", "", form("token", "wrong"), "Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != 401 || !strings.Contains(body, "not right") || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token = %d, cookies %v\n%s", resp.StatusCode, resp.Cookies(), body)
	}
	resp, _ = e.do("POST", "/login", "", form("token", adminToken),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example")
	if resp.StatusCode != 403 {
		t.Fatalf("login from another origin = %d, want 403", resp.StatusCode)
	}

	c := e.login()
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure {
		t.Errorf("cookie = %+v, want HttpOnly, SameSite=Strict, not Secure on http", c)
	}
	if len(c.Value) != 43 {
		t.Errorf("session id %q is not 32 random bytes in base64url", c.Value)
	}
	resp, body = e.page(c, "/")
	if resp.StatusCode != 200 || !strings.Contains(body, "Pipelines") || !strings.Contains(body, `href="/pipelines/hello"`) {
		t.Fatalf("index with a session = %d\n%s", resp.StatusCode, body)
	}
	wantDecisionHeaders(t, resp)

	// A forged cookie is not a session.
	resp, _ = e.do("GET", "/", "", nil, "Cookie", sessionCookie+"=forged")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a forged session = %d, want 303", resp.StatusCode)
	}

	// Sessions end after 12 hours.
	e.clock.Add(12*time.Hour + time.Second)
	if resp, _ := e.page(c, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a 12-hour-old session = %d, want 303", resp.StatusCode)
	}

	// Logout ends the session.
	c = e.login()
	resp, _ = e.do("POST", "/logout", "", nil, "Cookie", c.Name+"="+c.Value, "Origin", e.srv.PublicURL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout = %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := e.page(c, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout = %d, want 303", resp.StatusCode)
	}
}

func TestUIPages(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	done := e.run(greenlight.RunSucceeded, "Done <i>run</i>")
	live := e.run(greenlight.RunRunning, "Live run")
	e.writeLog(live.ID, "build", "compiling <stuff>\nPASS\n")
	_, _ = e.gate("Gate", 1, "pm@example.com")
	gated, gateTokens := e.gate("Decided gate", 1, "qa@example.com", "cto@example.com")
	if _, err := e.eng.Decide(t.Context(), gateTokens[1], approval.Input{Verdict: greenlight.Reject, Comment: "not <b>yet</b>"}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateRelease(t.Context(), &greenlight.Release{Pipeline: "hello", Environment: "staging", RunID: done.ID,
		Commit: sha2, Artifact: strings.Repeat("c", 64), Status: greenlight.ReleaseLive, DeployedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.EnqueueMail(t.Context(), &greenlight.Mail{Key: "m", To: []string{"pm@example.com"}, Subject: "Approve hello",
		Text: "Approve: " + e.srv.PublicURL + "/approvals/abc?decision=approve.\nThanks", CreatedAt: e.clock.Now(), NextAttempt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		want     int
		contains []string
		absent   []string
	}{
		{"/", 200, []string{"hello", "nosecret", "no runs yet", "redacted@git.example.com"}, []string{"s3cr3t"}},
		{"/pipelines/hello", 200, []string{"staging", "production", "nothing deployed yet", "Done &lt;i&gt;run&lt;/i&gt;",
			`href="/runs/` + itoa(live.ID) + `"`, "status-running"}, []string{"<i>run</i>"}},
		{"/pipelines/nope", 404, []string{"no pipeline"}, nil},
		{"/runs/" + itoa(live.ID), 200, []string{"Run #" + itoa(live.ID), "compiling &lt;stuff&gt;\nPASS", "Cancel run",
			`data-refresh="2000"`, `src="/static/refresh.js"`, `href="/runs/` + itoa(live.ID) + `/logs/build"`}, nil},
		{"/runs/" + itoa(done.ID), 200, []string{"succeeded"}, []string{"Cancel run", "refresh.js"}},
		{"/runs/" + itoa(gated.ID), 200, []string{"<strong>approvers</strong>: 0 of 1", "cto@example.com", "rejected", "not &lt;b&gt;yet&lt;/b&gt;"}, nil},
		{"/runs/abc", 400, nil, nil},
		{"/runs/999", 404, nil, nil},
		{"/runs/" + itoa(live.ID) + "/logs/build", 200, []string{"compiling <stuff>\nPASS\n"}, nil},
		{"/runs/" + itoa(live.ID) + "/logs/staging", 404, []string{"no log yet"}, nil},
		{"/approvals", 200, []string{"pm@example.com", "approvers (0 of 1)"}, nil},
		{"/outbox", 200, []string{"Approve hello", `<a href="` + e.srv.PublicURL + `/approvals/abc?decision=approve">`, "</a>.\nThanks"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := e.page(c, tt.path)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d\n%s", resp.StatusCode, tt.want, body)
			}
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(body, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}
}

func TestUIScriptOnlyWhereNeeded(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	live := e.run(greenlight.RunRunning, "Live")
	resp, _ := e.page(c, "/runs/"+itoa(live.ID))
	if got := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(got, "; script-src 'self'") || strings.Contains(got, "unsafe") {
		t.Errorf("live run page CSP = %q, want our own script allowed", got)
	}
	resp, _ = e.page(c, "/")
	if got := resp.Header.Get("Content-Security-Policy"); strings.Contains(got, "script-src") {
		t.Errorf("index CSP = %q, want no scripts", got)
	}
}

func TestUICancel(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	run := e.run(greenlight.RunRunning, "Stop me")
	path := "/runs/" + itoa(run.ID) + "/cancel"
	resp, _ := e.do("POST", path, "", nil, "Cookie", c.Name+"="+c.Value, "Origin", "https://evil.example")
	if resp.StatusCode != 403 {
		t.Fatalf("cancel from another origin = %d, want 403", resp.StatusCode)
	}
	resp, _ = e.do("POST", path, "", nil, "Origin", e.srv.PublicURL)
	if resp.StatusCode != 401 {
		t.Fatalf("cancel without a session = %d, want 401", resp.StatusCode)
	}
	if got, _ := e.store.Run(t.Context(), run.ID); got.Status != greenlight.RunRunning {
		t.Fatalf("a refused cancel changed the run to %s", got.Status)
	}
	resp, _ = e.do("POST", path, "", nil, "Cookie", c.Name+"="+c.Value, "Origin", e.srv.PublicURL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/runs/"+itoa(run.ID) {
		t.Fatalf("cancel = %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got, _ := e.store.Run(t.Context(), run.ID); got.Status != greenlight.RunCancelled {
		t.Fatalf("run is %s after cancel, want cancelled", got.Status)
	}
	resp, body := e.do("POST", path, "", nil, "Cookie", c.Name+"="+c.Value, "Origin", e.srv.PublicURL)
	if resp.StatusCode != 409 || !strings.Contains(body, "already cancelled") {
		t.Fatalf("second cancel = %d\n%s", resp.StatusCode, body)
	}
}

func TestStatic(t *testing.T) {
	e := newEnv(t)
	for path, ctype := range map[string]string{"/static/style.css": "text/css", "/static/refresh.js": "text/javascript"} {
		resp, body := e.do("GET", path, "", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) < 100 {
			t.Errorf("GET %s = %d %q (%d bytes)", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
}

// onlyReader hides a reader's Seek, to test the streaming path of tail.
type onlyReader struct{ io.Reader }

func (onlyReader) Close() error { return nil }

type seekCloser struct{ *bytes.Reader }

func (seekCloser) Close() error { return nil }

func TestTail(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789"), 10000) // 100 000 bytes
	tests := []struct {
		name    string
		data    []byte
		limit   int64
		want    []byte
		wantCut bool
	}{
		{"short", []byte("abc"), 10, []byte("abc"), false},
		{"exact", []byte("abcdefghij"), 10, []byte("abcdefghij"), false},
		{"cut", long, 25, long[len(long)-25:], true},
		{"empty", nil, 10, []byte{}, false},
	}
	for _, tt := range tests {
		for _, kind := range []string{"seekable", "stream"} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				var rc io.ReadCloser = seekCloser{bytes.NewReader(tt.data)}
				if kind == "stream" {
					rc = onlyReader{bytes.NewReader(tt.data)}
				}
				got, cut, err := tail(rc, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tt.want) || cut != tt.wantCut {
					t.Errorf("tail = %q (cut %v), want %q (cut %v)", trunc(got), cut, trunc(tt.want), tt.wantCut)
				}
			})
		}
	}
}

func trunc(b []byte) string { return truncate(string(b), 60) }

func TestLinkify(t *testing.T) {
	got := linkify("see http://a.example/x?y=1, then https://b.example/p).\nend")
	want := []textPart{{Text: "see "}, {Text: "http://a.example/x?y=1", URL: "http://a.example/x?y=1"}, {Text: ", then "},
		{Text: "https://b.example/p", URL: "https://b.example/p"}, {Text: ").\nend"}}
	if len(got) != len(want) {
		t.Fatalf("linkify = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("part %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRunPageShowsTheEndOfALongLog(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	run := e.run(greenlight.RunFailed, "Long log")
	line := strings.Repeat("x", 99) + "\n"
	e.writeLog(run.ID, "build", "FIRST LINE\n"+strings.Repeat(line, (maxPageLog/len(line))+100)+"LAST LINE\n")
	resp, body := e.page(c, "/runs/"+itoa(run.ID))
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	wantDecisionHeaders(t, resp) // a finished run's page needs no script
	if !strings.Contains(body, "LAST LINE") || strings.Contains(body, "FIRST LINE") ||
		!strings.Contains(body, "Showing the last 1 MiB") || len(body) > maxPageLog+64<<10 {
		t.Fatalf("page of %d bytes: want the log's end only, with a note", len(body))
	}
	if !strings.Contains(body, `<pre class="log">xxxx`) {
		t.Error("the shown log does not start at a whole line")
	}
	resp, full := e.page(c, "/runs/"+itoa(run.ID)+"/logs/build")
	if resp.StatusCode != 200 || !strings.HasPrefix(full, "FIRST LINE\n") || !strings.HasSuffix(full, "LAST LINE\n") {
		t.Fatalf("full log = %d, %d bytes", resp.StatusCode, len(full))
	}
}

func TestSecureCookieOnHTTPS(t *testing.T) {
	e := newEnv(t)
	srv := *e.srv
	srv.PublicURL = "https://ci.example.com"
	h := NewServer(Config{Server: &srv, Store: e.store, Logs: e.logs, Engine: nil, Now: e.clock.Now})
	r := httptest.NewRequest("POST", "/login", form("token", adminToken))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://ci.example.com")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].Secure {
		t.Fatalf("login on https = %d, cookies %+v, want one Secure cookie", w.Code, cookies)
	}
	// The origin check follows PublicURL, not the Host header.
	r = httptest.NewRequest("POST", "/login", form("token", adminToken))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://example.com") // httptest's Host
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("login with the Host's origin = %d, want 403", w.Code)
	}
}
