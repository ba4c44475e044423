package notify

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// StatusSubscriber is the status reporter's name in the store's cursor table.
const StatusSubscriber = "forge-status"

// StatusConfig is what a StatusReporter needs.
type StatusConfig struct {
	Store greenlight.Store
	// PublicURL is the base of each status's link (server.public_url).
	PublicURL string
	// Reports says whether the pipeline has a forge to report to; events of
	// other pipelines are passed over. nil: none has.
	Reports func(pipeline string) bool
	Now     greenlight.Now // nil: time.Now
	Log     *slog.Logger   // nil: discard
	// Queued, if set, is called after statuses were queued (e.g. the
	// StatusSender's Kick), so they leave without waiting for a poll.
	Queued func()
	// MaxAge is how old an event may be and still be reported; older ones
	// are passed over. 0: DefaultStatusMaxAge.
	MaxAge time.Duration
}

// DefaultStatusMaxAge bounds the age of events worth reporting. Events are
// handled within a second of being written, so only a log the reporter has
// never read holds older ones: the history before forge statuses were
// configured, which must not flood the forge with statuses of old commits.
const DefaultStatusMaxAge = time.Hour

// StatusReporter reads the event log after its own cursor and queues, in
// the store's status outbox, the commit statuses each event means (SPEC
// §10): one context per stage, greenlight/<pipeline>/<stage>, and one for
// the run, greenlight/<pipeline>, each linking to the run's page. A
// pull-request run reports on the request's head commit under contexts of
// its own, greenlight/<pipeline>/pr and greenlight/<pipeline>/pr/<stage>,
// so that a branch run of the same commit does not overwrite them.
//
// It only queues: posting is the StatusSender's, so a slow or failing forge
// never holds up the event log, let alone a run. Queuing is idempotent (the
// outbox keeps the newest state per commit and context), so handling an
// event again after a crash does no harm.
//
// Lifecycle: NewStatusReporter, then Run in its own goroutine until ctx ends;
// Kick is safe from any goroutine.
type StatusReporter struct {
	cfg  StatusConfig
	base string
	kick chan struct{}
	bad  error
	// What the current batch did, for drained; only the loop's pass (one at
	// a time) touches them.
	old    int
	queued bool
}

// NewStatusReporter returns a StatusReporter. Store and PublicURL are required.
func NewStatusReporter(cfg StatusConfig) *StatusReporter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Reports == nil {
		cfg.Reports = func(string) bool { return false }
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultStatusMaxAge
	}
	return &StatusReporter{
		cfg:  cfg,
		base: strings.TrimRight(cfg.PublicURL, "/"),
		kick: make(chan struct{}, 1),
		bad:  (&Config{Store: cfg.Store, PublicURL: cfg.PublicURL}).validate(),
	}
}

// Kick nudges Run to read the log now; it never blocks.
func (r *StatusReporter) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run handles events until ctx is done, then returns nil: it is a Loop of
// this reporter alone (a server runs one Loop of every subscriber instead).
// It returns an error at once only if the config is unusable.
func (r *StatusReporter) Run(ctx context.Context) error {
	if r.bad != nil {
		return r.bad
	}
	l := NewLoop(r.cfg.Store, r.cfg.Log, r)
	l.kick = r.kick
	return l.Run(ctx)
}

// Drain handles every event after the cursor and returns when the log is
// exhausted or an event could not be handled.
func (r *StatusReporter) Drain(ctx context.Context) error {
	if r.bad != nil {
		return r.bad
	}
	return drain(ctx, r.cfg.Store, r)
}

func (r *StatusReporter) cursor() string { return StatusSubscriber }

// handle passes over events older than MaxAge and queues the rest.
func (r *StatusReporter) handle(ctx context.Context, e greenlight.Event) error {
	if r.bad != nil {
		return r.bad
	}
	if r.cfg.Now().Sub(e.CreatedAt) > r.cfg.MaxAge {
		r.old++
		return nil
	}
	n, err := r.Handle(ctx, e)
	r.queued = r.queued || n > 0
	return err
}

// drained logs what a batch passed over and wakes the sender if it queued.
func (r *StatusReporter) drained(ctx context.Context) {
	if r.old > 0 {
		r.cfg.Log.InfoContext(ctx, "forge statuses: passed over old events", "events", r.old,
			"older_than", r.cfg.MaxAge)
	}
	if r.queued && r.cfg.Queued != nil {
		r.cfg.Queued()
	}
	r.old, r.queued = 0, false
}

// Handle queues the statuses event e means and returns how many. Events of
// pipelines without a forge, of other kinds, or of runs that no longer exist
// queue nothing; an error means "try again".
func (r *StatusReporter) Handle(ctx context.Context, e greenlight.Event) (int, error) {
	switch e.Type {
	case greenlight.EventRunCreated, greenlight.EventStageStarted, greenlight.EventStageFinished,
		greenlight.EventApprovalOpened, greenlight.EventApprovalDecided, greenlight.EventRunFinished:
	default:
		return 0, nil
	}
	if !r.cfg.Reports(e.Pipeline) {
		return 0, nil
	}
	run, err := r.cfg.Store.Run(ctx, e.RunID)
	if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load run %d: %w", e.RunID, err)
	}
	if !fullSHA.MatchString(run.Commit.SHA) {
		r.cfg.Log.WarnContext(ctx, "forge statuses: run has no full commit id; nothing reported",
			"run", run.ID, "seq", e.Seq)
		return 0, nil
	}
	updates, err := r.updates(ctx, e, run)
	if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
		return 0, nil
	}
	if err != nil || len(updates) == 0 {
		return 0, err
	}
	now := r.cfg.Now()
	err = r.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		for _, u := range updates {
			s := &greenlight.CommitStatus{Pipeline: run.Pipeline, RunID: run.ID, SHA: run.Commit.SHA,
				Context: u.context, State: u.state, Description: u.description,
				TargetURL: r.base + "/runs/" + strconv.FormatInt(run.ID, 10), NextAttempt: now, UpdatedAt: now}
			if err := tx.QueueStatus(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue statuses of run %d: %w", run.ID, err)
	}
	return len(updates), nil
}

// fullSHA is a full commit id (SHA-1 or SHA-256), the only thing forges take.
var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
