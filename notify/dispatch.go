package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/mail"
)

const (
	sendTimeout  = 30 * time.Second // one attempt at one mail
	concurrency  = 4                // mails in flight at once
	dueBatch     = 32               // mails read per pass
	firstBackoff = 5 * time.Second
	maxBackoff   = 10 * time.Minute
)

// never is the next attempt of a mail given up on: it is never due again.
var never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Dispatcher sends the mail queued in the store. An SMTP outage delays mail,
// never loses it: a failed attempt is recorded with the next time to try, 5s
// doubling up to 10 minutes, with jitter so that a recovered server is not hit
// by every mail at once. Sent mail stays in the store as the outbox history.
// A permanent refusal (a 5xx reply, see mail.Permanent) is retried with the
// same backoff, mailRetry.refusals times in all; then the mail is given up on:
// its attempts and last_error stay on its outbox row, its next attempt is
// never, and one ERROR is logged.
//
// A decision mail (Mail.ApprovalID set) is stored with a placeholder where
// the approver's token goes; the token is made right before each attempt
// (mint.go) and only its hash is stored, so mail that leaves through SMTP
// never puts a working link in the database, its WAL or its free pages.
// When the outbox is the delivery (no SMTP), the stored copy gets the links
// once "sent": there is nowhere else to read them (for trials only).
//
// Lifecycle: NewDispatcher, then Run in its own goroutine (it never blocks a
// run) until ctx ends; Kick is safe from any goroutine. One Dispatcher per
// store: two would both send the same due mail.
type Dispatcher struct {
	store  greenlight.Store
	sender mail.Sender
	now    greenlight.Now
	log    *slog.Logger
	kick   chan struct{}
	mu     sync.Mutex // one pass at a time, whether from Run or SendDue
	redact bool       // true: SMTP delivers, the stored copy never holds links; false: the outbox does
}

// NewDispatcher returns a Dispatcher; now nil means time.Now, log nil discards.
//
// redact says whether the stored copy of a delivered mail must hold no
// approval link: true when mail leaves through SMTP (links are made at
// sending and never stored; links of mail queued by an older version are
// removed after delivery), false when the outbox is the delivery (the
// stored copy gets the links it was sent with).
func NewDispatcher(store greenlight.Store, sender mail.Sender, redact bool, now greenlight.Now, log *slog.Logger) *Dispatcher {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{store: store, sender: sender, now: now, log: log, kick: make(chan struct{}, 1), redact: redact}
}

// Kick nudges Run to look for due mail now; it never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run sends due mail at once, on Kick and when the next mail is due (a
// retry, a reminder, an escalation) until ctx is done, then returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	wait(ctx, d.kick, d.now, d.log, "mail dispatcher", d.SendDue, d.store.NextMailAttempt)
	return nil
}

// SendDue makes one attempt at every mail due now and returns when each was
// sent or rescheduled. An error means the store could not be read or
// updated; a mail that could not be sent is not an error.
func (d *Dispatcher) SendDue(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return sendDue(ctx, func(ctx context.Context) ([]*greenlight.Mail, error) {
		due, err := d.store.DueMail(ctx, d.now(), dueBatch)
		if err != nil {
			return nil, fmt.Errorf("read due mail: %w", err)
		}
		return due, nil
	}, d.deliver)
}

// deliver makes one attempt at m and records the outcome.
func (d *Dispatcher) deliver(ctx context.Context, m *greenlight.Mail) error {
	sent, err := m, error(nil)
	if m.ApprovalID != 0 {
		sent, err = d.mint(ctx, m)
		if errors.Is(err, approval.ErrNotNeeded) {
			// A reminder after the approver decided, an escalation after
			// the gate closed: nothing to ask, so nothing is sent.
			if err := d.store.MarkMailFailed(ctx, m.ID, "not sent: "+err.Error(), never); err != nil {
				return fmt.Errorf("drop mail %d: %w", m.ID, err)
			}
			d.log.InfoContext(ctx, "mail not needed any more; not sent", "id", m.ID, "to", m.To, "subject", m.Subject)
			return nil
		}
	}
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = d.sender.Send(sctx, sent)
		cancel()
	}
	// Record the outcome even when ctx ends now: a mail that left must not be
	// sent again after a restart only because shutdown began.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	if err == nil {
		if err := d.store.InTx(rctx, func(tx greenlight.Tx) error {
			if err := tx.MarkMailSent(rctx, m.ID, d.now()); err != nil {
				return err
			}
			if !d.redact {
				if sent != m { // the outbox is the delivery: keep what was "sent"
					return tx.RedactMail(rctx, m.ID, sent.Text, sent.HTML)
				}
				return nil
			}
			if text, html := redactLinks(m.Text), redactLinks(m.HTML); text != m.Text || html != m.HTML {
				return tx.RedactMail(rctx, m.ID, text, html)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("mark mail %d sent: %w", m.ID, err)
		}
		d.log.InfoContext(ctx, "mail sent", "id", m.ID, "to", m.To, "subject", m.Subject)
		return nil
	}
	if ctx.Err() != nil {
		return nil // cut off by shutdown, not a failure of the mail: still due
	}
	attempts := m.Attempts + 1
	if mailRetry.giveUp(attempts, mail.Permanent(err)) {
		reason := fmt.Sprintf("gave up after %d attempts, the last refused permanently: %s", attempts, err)
		if merr := d.store.MarkMailFailed(rctx, m.ID, truncate(reason, 1000), never); merr != nil {
			return fmt.Errorf("mark mail %d failed: %w", m.ID, merr)
		}
		d.log.ErrorContext(ctx, "mail refused permanently; gave up (check the recipient address)", "id", m.ID, "to", m.To,
			"subject", m.Subject, "attempts", attempts, "err", err)
		return nil
	}
	next := d.now().Add(backoff(m.Attempts, rand.Float64()))
	if merr := d.store.MarkMailFailed(rctx, m.ID, truncate(err.Error(), 1000), next); merr != nil {
		return fmt.Errorf("mark mail %d failed: %w", m.ID, merr)
	}
	d.log.WarnContext(ctx, "mail not sent; will retry", "id", m.ID, "to", m.To,
		"attempts", attempts, "next", next, "err", err)
	return nil
}

// backoff is the wait after the failed attempt that follows attempts earlier
// ones: 5s·2^attempts capped at 10 minutes, scaled by a jitter factor in
// [0.75, 1.25) from r in [0, 1), and never above the cap.
func backoff(attempts int, r float64) time.Duration {
	d := maxBackoff
	if attempts < 10 { // 5s·2^7 already passes the cap; avoid overflow beyond
		d = min(firstBackoff<<max(attempts, 0), maxBackoff)
	}
	d = time.Duration(float64(d) * (0.75 + r/2))
	return min(d, maxBackoff)
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// approvalLink matches the secret part of an approval link, or the
// placeholder that stands for it in a queued mail.
var approvalLink = regexp.MustCompile(`/approvals/(?:[A-Za-z0-9_-]{43}|` + regexp.QuoteMeta(greenlight.TokenPlaceholder) + `)`)

// redactLinks makes the links of a delivered mail's stored copy say that
// they were removed: the placeholders of a mail whose tokens were made at
// sending (a link that would answer 404 in the outbox), and the tokens of
// one queued with its links by an older version.
func redactLinks(s string) string {
	return approvalLink.ReplaceAllString(s, "/approvals/(link removed after delivery)")
}
