package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody is how much of an error answer is kept in the error.
const maxErrorBody = 300

// poster sends one JSON POST to prefix+sha with a forge's auth header.
type poster struct {
	http   *http.Client
	token  string
	prefix string // …/statuses/
	forge  string
}

// post sends body to the status URL of sha, with header set by auth.
func (p *poster) post(ctx context.Context, sha string, body any, auth func(h http.Header)) error {
	if !validSHA.MatchString(sha) {
		return &Error{Forge: p.forge, Status: http.StatusUnprocessableEntity,
			Body: fmt.Sprintf("not sent: %q is not a full commit id", clip(sha, 80))}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encode status: %w", p.forge, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.prefix+sha, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", p.forge, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Greenlight")
	auth(req.Header)
	resp, err := p.http.Do(req)
	if err != nil {
		// *url.Error names the URL, which holds no secret; the token is in a header.
		return fmt.Errorf("%s: post status: %w", p.forge, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		return nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return &Error{Forge: p.forge, Status: resp.StatusCode, Body: p.clean(string(raw)),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After")), rateLimited: rateLimited(resp)}
}

// clean makes an error body fit for a log line: one line, clipped, and
// without the token should a forge (or a proxy) ever echo it.
func (p *poster) clean(body string) string {
	if p.token != "" {
		body = strings.ReplaceAll(body, p.token, "[token]")
	}
	body = strings.Join(strings.Fields(body), " ")
	return clip(body, maxErrorBody)
}

// retryAfter reads a Retry-After header in seconds (the form forges use).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, time.Hour)
}

// rateLimited reports a rate limit answer: 429, or GitHub's 403 with no
// requests left in the window.
func rateLimited(resp *http.Response) bool {
	return resp.StatusCode == http.StatusTooManyRequests || resp.Header.Get("X-RateLimit-Remaining") == "0"
}
