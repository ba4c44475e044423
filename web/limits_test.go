package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stalled opens a connection that sends the head of a request announcing a
// body of size bytes and then nothing. The returned func waits up to limit
// for the server to answer or close the connection and returns the status
// (0: closed without one) and how long it took to answer; it fails the test
// if the connection is still open then.
func (e *env) stalled(method, path string, size int, header ...string) func(limit time.Duration) (int, time.Duration) {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, e.ts.Listener.Addr(), size)
	for i := 0; i+1 < len(header); i += 2 {
		head += header[i] + ": " + header[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		e.t.Fatal(err)
	}
	t0 := time.Now()
	return func(limit time.Duration) (int, time.Duration) {
		conn.SetReadDeadline(t0.Add(limit))
		br := bufio.NewReader(conn)
		status := 0 // closed without an answer
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			resp.Body.Close()
			status = resp.StatusCode
			took := time.Since(t0)
			_, err = io.Copy(io.Discard, br) // the connection is closed after it
			if err == nil {
				return status, took
			}
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			e.t.Errorf("%s %s with a stalled body: still open after %s (answered %d)", method, path, limit, status)
			return -1, time.Since(t0)
		}
		return status, time.Since(t0)
	}
}

// Bodies that stop arriving are cut off: forms after formBodyTimeout,
// webhook bodies after hookBodyDeadline of their announced size.
func TestHTTPLimitsStalledBodies(t *testing.T) {
	e := newEnv(t)
	sig := []string{"X-Hub-Signature-256", sign(hookSecret, "x")}
	checks := []struct {
		name  string
		wait  func(time.Duration) (int, time.Duration)
		limit time.Duration
	}{
		{"login", e.stalled("POST", "/login", 100, "Content-Type", "application/x-www-form-urlencoded"), formBodyTimeout},
		{"approval", e.stalled("POST", "/approvals/sometoken", 100, "Content-Type", "application/x-www-form-urlencoded"), formBodyTimeout},
		{"webhook", e.stalled("POST", "/hooks/hello", 1000, sig...), hookBodyDeadline(1000)},
		// Any other route's body gets anyBodyTimeout (30 s): checked by hand,
		// too slow to wait for here.
	}
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Go(func() {
			status, took := c.wait(c.limit + 3*time.Second)
			if status >= 0 && took < c.limit-time.Second {
				t.Errorf("%s: answered %d after %s, before its deadline %s", c.name, status, took, c.limit)
			}
		})
	}
	wg.Wait()
}

// At most maxHooksInFlight webhook bodies are read at once; one more is
// refused with 503 and Retry-After within hookSlotWait, and a delivery
// passes again once the stalled ones are cut off.
func TestHTTPLimitsHooksInFlight(t *testing.T) {
	e := newEnv(t)
	sig := []string{"X-Hub-Signature-256", sign(hookSecret, "x")}
	var waits []func(time.Duration) (int, time.Duration)
	for range maxHooksInFlight {
		waits = append(waits, e.stalled("POST", "/hooks/hello", 1000, sig...))
	}
	time.Sleep(200 * time.Millisecond) // the stalled ones hold every slot
	extra := e.stalled("POST", "/hooks/hello", 1000, sig...)
	status, took := extra(hookSlotWait + 2*time.Second)
	if status != http.StatusServiceUnavailable || took > hookSlotWait+time.Second {
		t.Fatalf("a delivery over the limit: %d after %s, want 503 within %s", status, took, hookSlotWait)
	}
	for _, w := range waits {
		w(hookBodyDeadline(1000) + 3*time.Second)
	}
	if resp, body := e.hook("push", "after-the-flood", pushBody("main", sha1)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a delivery after the stalled ones: %d %s, want 202", resp.StatusCode, body)
	}
}

// A burst of small signed deliveries waits for a slot instead of being
// refused.
func TestHTTPLimitsHookBurst(t *testing.T) {
	e := newEnv(t)
	var refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 4 * maxHooksInFlight {
		wg.Go(func() {
			if resp, _ := e.hook("ping", fmt.Sprint("burst-", i), `{"zen":"hi"}`); resp.StatusCode != http.StatusOK {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if n := refused.Load(); n > 0 {
		t.Fatalf("%d of a burst of %d small deliveries refused", n, 4*maxHooksInFlight)
	}
}

// countingReader counts what the client hands to the connection.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A delivery without a signature is refused before its body is read.
func TestHookUnsignedRefusedUnread(t *testing.T) {
	e := newEnv(t)
	body := &countingReader{r: io.LimitReader(zeroReader{}, maxHookBody)}
	req, err := http.NewRequest("POST", e.ts.URL+"/hooks/hello", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = maxHookBody
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned 25 MiB delivery = %d, want 401", resp.StatusCode)
	}
	if n := body.n.Load(); n > 8<<20 {
		t.Fatalf("the server took %d bytes of an unsigned body before refusing it", n)
	}
}

// Wrong method: 405 JSON with Allow, whether the pipeline exists or not.
// Refusals: an unknown pipeline, one without a secret, a missing, malformed
// or wrong signature all get the same status and body.
func TestHookAnswersAlike(t *testing.T) {
	e := newEnv(t)
	good := pushBody("main", sha1)
	var first string
	for _, path := range []string{"/hooks/hello", "/hooks/nope"} {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			resp, body := e.do(method, path, "", nil)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !jsonError(body) {
				t.Errorf("%s %s = %d Allow %q %q %s, want 405 JSON with Allow: POST", method, path, resp.StatusCode,
					resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), body)
			}
			if first == "" {
				first = body
			} else if body != first {
				t.Errorf("%s %s answered %s, unlike %s", method, path, body, first)
			}
		}
	}
	refusals := []struct {
		name, pipeline string
		header         []string
	}{
		{"unknown pipeline", "nope", []string{"X-Hub-Signature-256", sign(hookSecret, good)}},
		{"unknown pipeline, unsigned", "nope", nil},
		{"no signature", "hello", nil},
		{"malformed signature", "hello", []string{"X-Hub-Signature-256", "sha256=00"}},
		{"wrong signature", "hello", []string{"X-Hub-Signature-256", sign("wrong", good)}},
		{"wrong gitlab token", "hello", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "wrong"}},
		{"pipeline without a secret", "nosecret", []string{"X-Hub-Signature-256", sign("", good)}},
	}
	want := ""
	for _, tt := range refusals {
		resp, body := e.do("POST", "/hooks/"+tt.pipeline, "", strings.NewReader(good),
			append([]string{"Content-Type", "application/json"}, tt.header...)...)
		got := fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		if want == "" {
			want = got
			if resp.StatusCode != http.StatusUnauthorized || !jsonError(body) {
				t.Errorf("%s: %s, want 401 JSON", tt.name, got)
			}
		} else if got != want {
			t.Errorf("%s: %s, unlike the unknown pipeline's %s", tt.name, got, want)
		}
	}
}

func jsonError(body string) bool {
	var v map[string]string
	return json.Unmarshal([]byte(body), &v) == nil && v["error"] != "" && len(v) == 1
}
