package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// AnnounceSubscriber is the Announcer's name in the store's cursor table.
const AnnounceSubscriber = "notifications"

// Target is one configured notification (greenlight.yml `notifications:`).
type Target struct {
	Name   string
	Type   string // greenlight.NotifySlack, NotifyTeams or NotifyWebhook
	URL    string
	Secret string // webhooks: the HMAC key of X-Greenlight-Signature
	// Events and Pipelines filter what the target is told; nil: every one.
	Events    []string
	Pipelines []string
}

func (t *Target) wants(event, pipeline string) bool {
	return (t.Events == nil || contains(t.Events, event)) && (t.Pipelines == nil || contains(t.Pipelines, pipeline))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// AnnounceConfig is what an Announcer needs.
type AnnounceConfig struct {
	Store greenlight.Store
	// PublicURL is the base of each message's link to the run page.
	PublicURL string
	Targets   []Target
	Now       greenlight.Now // nil: time.Now
	Log       *slog.Logger   // nil: discard
	// Queued, if set, is called after notices were queued (the Poster's
	// Kick), so they leave without waiting for a poll.
	Queued func()
	// MaxAge is how old an event may be and still be announced; older ones
	// (the history from before notifications were configured) are passed
	// over. 0: DefaultStatusMaxAge.
	MaxAge time.Duration
}

// Announcer is the event log's subscriber for chats and webhooks (SPEC
// §12): it maps each event to its public name (greenlight.NotificationEvents),
// and for each target that wants it queues one notice in the store, its body
// made once in the target's format: a signed JSON body for a webhook
// (Payload), a Slack or a Teams message for a chat. Posting is the Poster's.
// Queuing is idempotent per target, event and name, so handling an event
// again after a crash queues nothing twice.
//
// Lifecycle: NewAnnouncer, then as a subscriber of a Loop, which makes one
// pass at a time (the Announcer keeps a batch's counts between handle and
// drained).
type Announcer struct {
	cfg    AnnounceConfig
	base   string
	bad    error
	old    int
	queued bool
}

// NewAnnouncer returns an Announcer. Store and PublicURL are required.
func NewAnnouncer(cfg AnnounceConfig) *Announcer {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultStatusMaxAge
	}
	return &Announcer{cfg: cfg, base: strings.TrimRight(cfg.PublicURL, "/"),
		bad: (&Config{Store: cfg.Store, PublicURL: cfg.PublicURL}).validate()}
}

// Drain handles every event after the Announcer's cursor. Like the Loop's
// pass, it must not run beside another pass over the same Announcer.
func (a *Announcer) Drain(ctx context.Context) error {
	if a.bad != nil {
		return a.bad
	}
	return drain(ctx, a.cfg.Store, a)
}

func (a *Announcer) cursor() string { return AnnounceSubscriber }

func (a *Announcer) handle(ctx context.Context, e greenlight.Event) error {
	if a.bad != nil {
		return a.bad
	}
	if len(a.cfg.Targets) == 0 {
		return nil
	}
	if a.cfg.Now().Sub(e.CreatedAt) > a.cfg.MaxAge {
		a.old++
		return nil
	}
	n, err := a.Handle(ctx, e)
	a.queued = a.queued || n > 0
	return err
}

func (a *Announcer) drained(ctx context.Context) {
	if a.old > 0 {
		a.cfg.Log.InfoContext(ctx, "notifications: passed over old events", "events", a.old, "older_than", a.cfg.MaxAge)
	}
	if a.queued && a.cfg.Queued != nil {
		a.cfg.Queued()
	}
	a.old, a.queued = 0, false
}

// Handle queues the notices event e means and returns how many it queued.
// Events no target wants, and events of runs that no longer exist, queue
// nothing; an error means "try again".
func (a *Announcer) Handle(ctx context.Context, e greenlight.Event) (int, error) {
	name := PublicEvent(e)
	if name == "" {
		return 0, nil
	}
	var targets []*Target
	for i := range a.cfg.Targets {
		if a.cfg.Targets[i].wants(name, e.Pipeline) {
			targets = append(targets, &a.cfg.Targets[i])
		}
	}
	if len(targets) == 0 {
		return 0, nil
	}
	p, err := a.payload(ctx, e, name)
	if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
		a.cfg.Log.InfoContext(ctx, "notifications: skipped event of something that no longer exists",
			"seq", e.Seq, "type", e.Type, "run", e.RunID, "err", err)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	now := a.cfg.Now()
	queued := 0
	for _, t := range targets {
		p.Delivery = newDeliveryID()
		body, err := messageBody(t.Type, p)
		if err != nil {
			return queued, fmt.Errorf("%s body of event %d: %w", t.Type, e.Seq, err)
		}
		n := &greenlight.Notice{Notification: t.Name, Type: t.Type, Pipeline: e.Pipeline, RunID: e.RunID,
			Seq: e.Seq, Event: name, DeliveryID: p.Delivery, Body: string(body), NextAttempt: now, CreatedAt: now}
		inserted, err := a.cfg.Store.QueueNotice(ctx, n)
		if err != nil {
			return queued, err
		}
		if inserted {
			queued++
		}
	}
	return queued, nil
}

// PublicEvent is the notification event name of a log entry, "" for one
// that has none.
func PublicEvent(e greenlight.Event) string {
	switch e.Type {
	case greenlight.EventRunCreated:
		return greenlight.NoticeRunStarted
	case greenlight.EventRunFinished:
		var d greenlight.RunFinished
		if json.Unmarshal(e.Data, &d) != nil {
			return ""
		}
		name := "run." + string(d.Status)
		if !greenlight.IsNotificationEvent(name) {
			return ""
		}
		return name
	case greenlight.EventStageStarted:
		return greenlight.NoticeStageStarted
	case greenlight.EventStageFinished:
		return greenlight.NoticeStageFinished
	case greenlight.EventApprovalOpened:
		return greenlight.NoticeApprovalRequested
	case greenlight.EventApprovalDecided:
		return greenlight.NoticeApprovalDecided
	case greenlight.EventApprovalRevoked:
		return greenlight.NoticeApprovalRevoked
	case greenlight.EventReleaseLive:
		return greenlight.NoticeReleaseLive
	case greenlight.EventReleaseRolledBack:
		return greenlight.NoticeReleaseRolledBack
	case greenlight.EventReleaseFailed:
		return greenlight.NoticeReleaseFailed
	}
	return ""
}

// newDeliveryID is a random UUID (version 4): unique per notice, made once
// and stored, so every attempt carries the same one.
func newDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on Linux
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
