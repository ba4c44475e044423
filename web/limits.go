package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// How long a client may take to send a request body. The server's own
// timeouts (cmd/greenlight: ReadHeaderTimeout, IdleTimeout) end clients that
// are slow before a request or between requests; the body is bounded here,
// per route, with a read deadline on the connection. There is no
// WriteTimeout: it would cut log streams and long pages. A read deadline is
// set only on a request that has a body: once the body is read, net/http
// clears the deadline itself, so it never ends a long response.
const (
	// anyBodyTimeout bounds the body of every request that has one, also
	// the bodies a handler never reads (net/http discards up to 256 KiB of
	// them after the handler).
	anyBodyTimeout = 30 * time.Second
	// formBodyTimeout and maxFormBody bound the forms of /login and
	// /approvals/{token}: a token, a verdict, a comment.
	formBodyTimeout = 10 * time.Second
	maxFormBody     = 64 << 10
	// A webhook body may be up to maxHookBody: it gets hookBodyBase plus one
	// second per hookBodyRate bytes it announces, at most hookBodyTimeout.
	hookBodyBase    = 5 * time.Second
	hookBodyRate    = 1 << 20
	hookBodyTimeout = 30 * time.Second
	// At most maxHooksInFlight webhook bodies, of at most maxHookBytes
	// together, are read at once (a body counts its Content-Length, or
	// maxHookBody when it announces none). A delivery waits up to
	// hookSlotWait for room (a burst of small pushes passes), then is
	// refused with 503 and Retry-After: hookRetryAfter.
	maxHooksInFlight = 8
	maxHookBytes     = 64 << 20
	hookSlotWait     = 2 * time.Second
	hookRetryAfter   = "5"
)

// hasBody says whether the request comes with a body to read.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// setBodyDeadline ends reading r's body after d. It can only shorten a
// deadline already set for this request's body.
func setBodyDeadline(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if !hasBody(r) {
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d)) // unsupported (a test recorder): no deadline
}

// dropBody is called by a handler that answers without reading the body:
// the connection is closed after the answer instead of reading what is left
// of the body, which net/http would do, before answering when the body is
// small and after it otherwise.
func dropBody(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// bodyDeadline gives every request with a body anyBodyTimeout to send it.
func bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setBodyDeadline(w, r, anyBodyTimeout)
		next.ServeHTTP(w, r)
	})
}

// smallForm bounds a form's body: maxFormBody bytes within formBodyTimeout.
func smallForm(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setBodyDeadline(w, r, formBodyTimeout)
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		next(w, r)
	}
}

// hookBodyDeadline is how long a webhook body of size bytes (-1: unknown)
// may take to arrive.
func hookBodyDeadline(size int64) time.Duration {
	if size < 0 || size > maxHookBody {
		return hookBodyTimeout
	}
	return min(hookBodyBase+time.Duration(size/hookBodyRate)*time.Second, hookBodyTimeout)
}

// signatureHeaders are the headers a forge authenticates a delivery with
// (webhook.Parse checks them for real): an HMAC-SHA256 in hex, "sha256="-
// prefixed or not, or GitLab's token.
var signatureHeaders = []string{"X-Hub-Signature-256", "X-Hub-Signature", "X-Gitea-Signature", "X-Forgejo-Signature"}

// mayBeSigned says whether the request carries something shaped like a
// signature or a token, so that a body without one is refused unread.
func mayBeSigned(h http.Header) bool {
	if h.Get("X-Gitlab-Token") != "" {
		return true
	}
	for _, name := range signatureHeaders {
		v := strings.TrimPrefix(strings.TrimSpace(h.Get(name)), "sha256=")
		if len(v) == 64 && isHex(v) {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// handleHookMethod answers a request to /hooks/{pipeline} that is not a
// POST, the same whether the pipeline exists or not.
func handleHookMethod() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, "webhooks are delivered with POST")
	}
}

// hookBudget counts the webhook bodies being read and their bytes. Safe for
// concurrent use.
type hookBudget struct {
	mu    sync.Mutex
	n     int
	bytes int64
	freed chan struct{} // closed, and replaced, when a body is done
}

func newHookBudget() *hookBudget { return &hookBudget{freed: make(chan struct{})} }

// acquire reserves room for a body of size bytes (-1: unknown), waiting at
// most wait; it returns false if there was none by then or ctx ended.
// Each true is followed by one release(size).
func (b *hookBudget) acquire(ctx context.Context, size int64, wait time.Duration) bool {
	size = hookReserve(size)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		b.mu.Lock()
		if b.n < maxHooksInFlight && b.bytes+size <= maxHookBytes {
			b.n++
			b.bytes += size
			b.mu.Unlock()
			return true
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (b *hookBudget) release(size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n--
	b.bytes -= hookReserve(size)
	close(b.freed)
	b.freed = make(chan struct{})
}

// hookReserve is what a body announcing size bytes counts for.
func hookReserve(size int64) int64 {
	if size < 0 || size > maxHookBody {
		return maxHookBody
	}
	return size
}
