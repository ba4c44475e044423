package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Wrong bearer tokens from one address: a few are answered 401; from the
// fifth on the client is paused, 429 with Retry-After, and while paused even
// the right token is refused unread (the pause must not answer guesses).
// The pause doubles with each further wrong token and ends on its own.
func TestWrongTokensPauseTheClient(t *testing.T) {
	e := newEnv(t)
	wrong := func() (*http.Response, string) { return e.do("GET", "/api/v1/runs", "not-the-token", nil) }
	for i := 1; i < freeFailures; i++ {
		if resp, body := wrong(); resp.StatusCode != 401 {
			t.Fatalf("wrong token %d: %d %s, want 401", i, resp.StatusCode, body)
		}
	}
	resp, _ := wrong() // the fifth: still 401, and it starts a 1s pause
	if resp.StatusCode != 401 {
		t.Fatalf("wrong token %d: %d, want 401", freeFailures, resp.StatusCode)
	}
	resp, body := e.api("GET", "/api/v1/runs", "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
		!strings.Contains(decode[map[string]string](t, body)["error"], "too many wrong admin tokens") {
		t.Fatalf("right token during the pause: %d Retry-After %q %s, want 429, 1, an error",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	e.clock.Add(time.Second) // the pause is over; the next wrong token doubles it
	if resp, _ := wrong(); resp.StatusCode != 401 {
		t.Fatalf("wrong token after the pause: %d, want 401", resp.StatusCode)
	}
	if resp, _ := wrong(); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("during the second pause: %d Retry-After %q, want 429 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	e.clock.Add(2 * time.Second)
	if resp, body := e.api("GET", "/api/v1/runs", ""); resp.StatusCode != 200 {
		t.Fatalf("right token after the pause: %d %s, want 200", resp.StatusCode, body)
	}
	// The right token cleared the record: four wrong tokens are free again.
	for i := 1; i < freeFailures; i++ {
		if resp, _ := wrong(); resp.StatusCode != 401 {
			t.Fatalf("wrong token %d after a success: %d, want 401", i, resp.StatusCode)
		}
	}
}

// The pause grows to at most maxPause; requests without any token, and right
// tokens, never count.
func TestPauseIsCappedAndOnlyWrongTokensCount(t *testing.T) {
	e := newEnv(t)
	for range 3 * freeFailures {
		if resp, _ := e.do("GET", "/api/v1/runs", "", nil); resp.StatusCode != 401 {
			t.Fatalf("no token: %d, want 401", resp.StatusCode)
		}
		if resp, _ := e.api("GET", "/api/v1/runs", ""); resp.StatusCode != 200 {
			t.Fatalf("right token: %d, want 200", resp.StatusCode)
		}
	}
	th := newThrottle(e.clock.Now)
	var last time.Duration
	for range 40 {
		e.clock.Add(last)
		last = th.fail("192.0.2.1:1234")
	}
	if last != maxPause {
		t.Errorf("pause after 40 wrong tokens = %v, want the cap %v", last, maxPause)
	}
	if w := th.wait("192.0.2.1:9999"); w != maxPause {
		t.Errorf("another port of the same address waits %v, want %v", w, maxPause)
	}
	if w := th.wait("192.0.2.2:1234"); w != 0 {
		t.Errorf("another address waits %v, want 0", w)
	}
	th.fail("[2001:db8::1]:1")
	if clientKey("[2001:db8::1]:1") != clientKey("[2001:db8::ffff]:2") || clientKey("[2001:db8::1]:1") == clientKey("[2001:db8:0:1::1]:1") {
		t.Errorf("IPv6 clients are not counted per /64")
	}
	e.clock.Add(failureWindow + maxPause + time.Second) // a quiet window starts afresh
	if p := th.fail("192.0.2.1:1234"); p != 0 {
		t.Errorf("first wrong token after a quiet window starts a pause of %v, want none", p)
	}
}

// The login form shares the pause: a paused client gets 429 and the page
// says when to try again.
func TestWrongLoginsPauseTheClient(t *testing.T) {
	e := newEnv(t)
	for range freeFailures {
		e.do("POST", "/login", "", form("token", "wrong"), "Content-Type", "application/x-www-form-urlencoded", "Origin", e.ts.URL)
	}
	resp, body := e.do("POST", "/login", "", form("token", adminToken), "Content-Type", "application/x-www-form-urlencoded", "Origin", e.ts.URL)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "Too many wrong tokens") {
		t.Fatalf("login during the pause: %d Retry-After %q, want 429 with Retry-After\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := e.do("GET", "/api/v1/runs", adminToken, nil); resp.StatusCode != 429 {
		t.Errorf("API during a pause started by logins: %d, want 429", resp.StatusCode)
	}
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	e.clock.Add(time.Duration(secs) * time.Second)
	if resp, _ := e.do("GET", "/api/v1/runs", adminToken, nil); resp.StatusCode != 200 {
		t.Errorf("API after the pause: %d, want 200", resp.StatusCode)
	}
}

// A flood of wrong tokens from fresh addresses fills the table, but what
// it sweeps out first is what holds no pause: the long pause of the address
// that guessed most stays.
func TestThrottleFloodKeepsLongPause(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(func() time.Time { return now })
	const victim = "192.0.2.1:4000"
	for i := 0; i < freeFailures+5; i++ {
		th.fail(victim)
	}
	want := th.wait(victim)
	if want < 16*time.Second {
		t.Fatalf("pause after %d wrong tokens: %s", freeFailures+5, want)
	}
	for i := 0; i < maxClients+10; i++ {
		th.fail(fmt.Sprintf("[2001:db8:%x:%x::1]:4000", i>>16, i&0xffff))
	}
	if got := th.wait(victim); got != want {
		t.Errorf("after a flood from %d addresses the pause is %s, want %s", maxClients+10, got, want)
	}
	if len(th.clients) > maxClients {
		t.Errorf("%d records kept, over %d", len(th.clients), maxClients)
	}
}
