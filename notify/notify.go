// Package notify holds the event log's subscribers and the outboxes they
// fill (SPEC §5, §6, §10, §12). One Loop (loop.go) reads the log for every
// subscriber, each at its own cursor with its own backoff:
//
//   - the Notifier turns approval.opened into one mail per approver,
//     approval.revoked into a "no longer needed" mail, and a failed,
//     rejected or expired run into a mail to the pipeline's notify list and
//     one to its author (never to a pull request's);
//   - the StatusReporter (status.go) turns run and stage events into commit
//     statuses;
//   - the Announcer (announce.go) turns events into notices for the
//     configured chats and webhooks.
//
// Subscribers only queue. Each outbox has one sender that posts what is
// due, retrying with one backoff and one give-up rule (outbox.go): the
// Dispatcher sends mail (making each approver's token right before sending,
// mint.go, so no raw token is stored), the StatusSender posts statuses to
// the pipeline's forge, the Poster posts notices, signed, in order per
// pipeline.
//
// Delivery is at least once with de-duplication: a subscriber's cursor
// moves only after its events were handled, and every queued row has a key
// (mail Key, status context, notice event), so handling an event twice
// queues nothing twice.
package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Subscriber is the Notifier's name in the store's cursor table.
const Subscriber = "notify"

// batch is how many events one read of the log returns.
const batch = 100

// Config is what a Notifier needs.
type Config struct {
	Store greenlight.Store
	// PublicURL is the base of every link in mail (server.public_url). It is
	// never taken from a request.
	PublicURL string
	// Recipients returns the pipeline's `notify` list; nil: nobody.
	Recipients func(pipeline string) []string
	Now        greenlight.Now // nil: time.Now
	Log        *slog.Logger   // nil: discard
	// Compare, if set, returns the forge's page comparing two commits of
	// the pipeline's repository, or "" when the forge is not known; the
	// approval mail links it next to what ships.
	Compare func(pipeline, from, to string) string
	// Enqueued, if set, is called after mail was queued (e.g. the
	// Dispatcher's Kick), so mail leaves without waiting for a poll.
	Enqueued func()
}

// validate reports a configuration the Notifier cannot work with. Links
// must be absolute: a relative link in a mail leads nowhere.
func (c *Config) validate() error {
	if c.Store == nil {
		return greenlight.Errorf(greenlight.EINVALID, "notify: no store")
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return greenlight.Errorf(greenlight.EINVALID, "notify: public_url %q is not an absolute http(s) URL", c.PublicURL)
	}
	return nil
}

// Notifier reads the event log after its cursor and writes mail.
//
// Lifecycle: New, then Run in its own goroutine until ctx ends; Kick is safe
// to call from any goroutine at any time. Handle and Drain are safe for
// concurrent use, though Run alone is meant to drive the cursor.
type Notifier struct {
	cfg  Config
	base string // PublicURL without a trailing slash
	tmpl *templates
	kick chan struct{}
	bad  error // the Config's problem, found once in New; Run and Drain return it
}

// New returns a Notifier. Store is required; the rest have defaults.
func New(cfg Config) *Notifier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Recipients == nil {
		cfg.Recipients = func(string) []string { return nil }
	}
	return &Notifier{
		cfg:  cfg,
		base: strings.TrimRight(cfg.PublicURL, "/"),
		tmpl: parseTemplates(),
		kick: make(chan struct{}, 1),
		bad:  cfg.validate(),
	}
}

// Kick nudges Run to read the log now; it never blocks.
func (n *Notifier) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run handles events until ctx is done, then returns nil: it is a Loop of
// this Notifier alone (a server runs one Loop of every subscriber instead).
// Run returns an error at once only if the Config is unusable.
func (n *Notifier) Run(ctx context.Context) error {
	if n.bad != nil {
		return n.bad
	}
	l := NewLoop(n.cfg.Store, n.cfg.Log, n)
	l.kick = n.kick
	return l.Run(ctx)
}

// Drain handles every event after the cursor, advancing the cursor past the
// events it handled, and returns when the log is exhausted or a handler fails.
func (n *Notifier) Drain(ctx context.Context) error {
	if n.bad != nil {
		return n.bad
	}
	return drain(ctx, n.cfg.Store, n)
}

func (n *Notifier) cursor() string { return Subscriber }

func (n *Notifier) handle(ctx context.Context, e greenlight.Event) error {
	if n.bad != nil {
		return n.bad
	}
	return n.Handle(ctx, e)
}

func (n *Notifier) drained(context.Context) {}

// Handle acts on one event. Events it does not care about, and events whose
// run or approval no longer exists, are no-ops; an error means "try again".
func (n *Notifier) Handle(ctx context.Context, e greenlight.Event) error {
	var err error
	switch e.Type {
	case greenlight.EventApprovalOpened:
		err = n.approvalOpened(ctx, e)
	case greenlight.EventApprovalRevoked:
		err = n.approvalRevoked(ctx, e)
	case greenlight.EventRunFinished:
		if err = n.runFinished(ctx, e); err == nil {
			err = n.approvalOutcome(ctx, e)
		}
	default:
		return nil
	}
	if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
		n.cfg.Log.InfoContext(ctx, "notify: skipped event of something that no longer exists",
			"seq", e.Seq, "type", e.Type, "run", e.RunID, "err", err)
		return nil
	}
	return err
}

// decode reads an event's Data into v. Bad data can never become good, so
// the caller skips the event rather than retrying it forever.
func (n *Notifier) decode(ctx context.Context, e greenlight.Event, v any) bool {
	if err := json.Unmarshal(e.Data, v); err != nil {
		n.cfg.Log.ErrorContext(ctx, "notify: skipped event with unreadable data",
			"seq", e.Seq, "type", e.Type, "err", err)
		return false
	}
	return true
}

func (n *Notifier) enqueued() {
	if n.cfg.Enqueued != nil {
		n.cfg.Enqueued()
	}
}

// pause is how long Run waits after its nth failure in a row: 1s doubling to 30s.
func pause(n int) time.Duration {
	d := time.Second << min(n-1, 5)
	return min(d, 30*time.Second)
}

// sleep waits d or until ctx is done; false if ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
