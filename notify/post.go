package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const (
	// noticeTimeout bounds one POST, from dialing to the end of the reply's
	// headers and the part of its body that is read.
	noticeTimeout = 10 * time.Second
	// replyLimit is how much of a reply is read: enough for an error
	// message in the log, never a receiver's whole page.
	replyLimit = 4 << 10
)

// Poster posts the notices queued in the store (the Announcer's) to their
// targets: chats' incoming webhooks and webhook receivers. Delivery is at
// least once and in order per target and pipeline (the store returns only
// the oldest pending notice of each), retried with the outboxes' backoff
// (5s doubling to 10 minutes, with jitter, or the receiver's Retry-After)
// across restarts. A permanent refusal (a 4xx other than 408 and 429, or a
// redirect, which is never followed) drops a notice after
// noticeRetry.refusals attempts; other failures after noticeRetry.limit.
// A dropped notice is logged at ERROR and kept with its last error.
//
// A webhook's body is signed: X-Greenlight-Signature is sha256= and the
// hex HMAC-SHA256 of the body with the target's secret. The secret itself
// never leaves the server, and no redirect is followed, so a body never
// reaches a host the configuration does not name.
//
// Lifecycle: NewPoster, then Run in its own goroutine until ctx ends; Kick
// is safe from any goroutine. One Poster per store.
type Poster struct {
	store   greenlight.Store
	targets map[string]Target
	client  *http.Client
	now     greenlight.Now
	log     *slog.Logger
	kick    chan struct{}
	mu      sync.Mutex // one pass at a time
}

// NewPoster returns a Poster of the configured targets; now nil means
// time.Now, log nil discards.
func NewPoster(store greenlight.Store, targets []Target, now greenlight.Now, log *slog.Logger) *Poster {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := map[string]Target{}
	for _, t := range targets {
		m[t.Name] = t
	}
	client := &http.Client{
		Timeout: noticeTimeout,
		// A redirect is answered, not followed: the body (and a webhook's
		// signature) goes only to the URL the configuration names.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Poster{store: store, targets: m, client: client, now: now, log: log, kick: make(chan struct{}, 1)}
}

// Kick nudges Run to look for due notices now; it never blocks.
func (p *Poster) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run posts due notices at once, on Kick and when the next notice is due
// (a retry) until ctx is done, then returns nil.
func (p *Poster) Run(ctx context.Context) error {
	wait(ctx, p.kick, p.now, p.log, "notification poster", p.SendDue, p.store.NextNoticeAttempt)
	return nil
}

// SendDue makes one attempt at every notice due now, and again at the next
// of a queue whose head was just done, until none is due. An error means
// the store could not be read or updated.
func (p *Poster) SendDue(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		var done atomic.Int64
		err := sendDue(ctx, func(ctx context.Context) ([]*greenlight.Notice, error) {
			due, err := p.store.DueNotices(ctx, p.now(), dueBatch)
			if err != nil {
				return nil, fmt.Errorf("read due notices: %w", err)
			}
			return due, nil
		}, func(ctx context.Context, n *greenlight.Notice) error {
			finished, err := p.deliver(ctx, n)
			if finished {
				done.Add(1)
			}
			return err
		})
		if err != nil || done.Load() == 0 || ctx.Err() != nil {
			return err
		}
	}
}

// replyError is a reply other than 2xx.
type replyError struct {
	status     int
	body       string
	retryAfter time.Duration
}

func (e *replyError) Error() string {
	msg := fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))
	if e.status >= 300 && e.status < 400 {
		msg += " (redirects are not followed: configure the final URL)"
	}
	if e.body != "" {
		msg += ": " + e.body
	}
	return msg
}

// permanent: a 4xx other than 408 (timeout) and 429 (slow down), or a 3xx.
func (e *replyError) permanent() bool {
	return e.status >= 300 && e.status < 500 && e.status != http.StatusRequestTimeout && e.status != http.StatusTooManyRequests
}

// deliver makes one attempt at n and records the outcome; finished says
// whether n is done (delivered or dropped), which lets its queue's next go.
func (p *Poster) deliver(ctx context.Context, n *greenlight.Notice) (finished bool, err error) {
	log := p.log.With("notification", n.Notification, "event", n.Event, "delivery", n.DeliveryID,
		"pipeline", n.Pipeline, "run", n.RunID)
	t, ok := p.targets[n.Notification]
	var perr error
	if ok {
		perr = p.post(ctx, t, n)
		if perr != nil && ctx.Err() != nil {
			return false, nil // cut off by shutdown: still due
		}
	}
	// Recorded even if shutdown begins now: a delivered notice need not go twice.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := p.now()
	attempts := n.Attempts + 1
	var re *replyError
	permanent := errors.As(perr, &re) && re.permanent()
	switch {
	case !ok:
		log.WarnContext(ctx, "notice dropped: no notification of that name is configured any more")
		_, err = p.store.MarkNoticeDone(rctx, n.ID, greenlight.NoticeDropped, now, "the notification is no longer configured")
		finished = true
	case perr == nil:
		_, err = p.store.MarkNoticeDone(rctx, n.ID, greenlight.NoticeDelivered, now, "")
		log.DebugContext(ctx, "notice delivered", "attempts", attempts)
		finished = true
	case noticeRetry.giveUp(attempts, permanent):
		why := "the receiver refused it"
		if !permanent {
			why = "the receiver kept failing"
		}
		log.ErrorContext(ctx, "notice dropped: "+why+"; check the notification's url (and secret)",
			"attempts", attempts, "err", perr)
		_, err = p.store.MarkNoticeDone(rctx, n.ID, greenlight.NoticeDropped, now,
			truncate(fmt.Sprintf("dropped after %d attempts: %s", attempts, perr), 1000))
		finished = true
	default:
		wait := backoff(n.Attempts, rand.Float64())
		if re != nil && re.retryAfter > wait {
			wait = min(re.retryAfter, time.Hour)
		}
		log.WarnContext(ctx, "notice not delivered; will retry", "attempts", attempts, "in", wait, "err", perr)
		_, err = p.store.MarkNoticeFailed(rctx, n.ID, truncate(perr.Error(), 1000), now.Add(wait))
	}
	if err != nil {
		return false, fmt.Errorf("record attempt at notice %d: %w", n.ID, err)
	}
	return finished, nil
}

// post makes one POST of n's body to t.
func (p *Poster) post(ctx context.Context, t Target, n *greenlight.Notice) error {
	ctx, cancel := context.WithTimeout(ctx, noticeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, strings.NewReader(n.Body))
	if err != nil {
		return fmt.Errorf("make request: %w", err) // the URL is not quoted: a chat's URL is a secret
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Greenlight")
	if t.Type == greenlight.NotifyWebhook {
		req.Header.Set("X-Greenlight-Event", n.Event)
		req.Header.Set("X-Greenlight-Delivery", n.DeliveryID)
		req.Header.Set("X-Greenlight-Signature", Sign(t.Secret, []byte(n.Body)))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return redactURL(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, replyLimit))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &replyError{status: resp.StatusCode, body: replyText(string(bytes.TrimSpace(reply)), 200)}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.retryAfter = time.Duration(s) * time.Second
	}
	return e
}

// Sign is the X-Greenlight-Signature of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// redactURL drops the URL from a client error: a chat's incoming-webhook
// URL is a credential and must not reach the log or the store.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("post: %w", ue.Err)
	}
	return fmt.Errorf("post: %w", err)
}

// replyText makes a reply's text fit one log line of at most n bytes.
func replyText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	return clip(s, n)
}
