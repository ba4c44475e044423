package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// subscriber is one reader of the event log: the approval and failure mail
// (Notifier), commit statuses (StatusReporter) and chats and webhooks
// (Announcer). Each keeps its own cursor, so one that fails holds up only
// itself, and each only queues: sending is an outbox sender's, so a slow
// receiver never holds up the log.
type subscriber interface {
	// cursor is the subscriber's name in the store's cursor table. It must
	// never change: a renamed cursor starts again at the log's beginning.
	cursor() string
	// handle acts on one event; an error means "try again later", never
	// "skip". Handling an event twice must queue nothing twice.
	handle(ctx context.Context, e greenlight.Event) error
	// drained is called after each batch of events was handled (even in
	// part), e.g. to kick the outbox sender or log what was passed over.
	drained(ctx context.Context)
}

// Loop is the one loop that reads the event log for every subscriber: on
// Kick (every writer of the log in the server kicks after its commit), and
// at least every recheck for events another process wrote, it hands each
// subscriber the events after its cursor, in order, in batches. A
// subscriber whose event fails stops at that event and is retried after a
// growing pause (1s doubling to 30s) while the others go on.
//
// Lifecycle: NewLoop, then Run in its own goroutine until ctx ends; Kick is
// safe from any goroutine. One Loop per store and subscriber.
type Loop struct {
	store greenlight.Store
	log   *slog.Logger
	subs  []subscriber
	kick  chan struct{}
	mu    sync.Mutex // one pass at a time
}

// NewLoop returns the Loop of the given subscribers (*Notifier,
// *StatusReporter, *Announcer); log nil discards.
func NewLoop(store greenlight.Store, log *slog.Logger, subs ...subscriber) *Loop {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loop{store: store, log: log, subs: subs, kick: make(chan struct{}, 1)}
}

// Kick nudges Run to read the log now; it never blocks.
func (l *Loop) Kick() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Run drains every subscriber at once, on Kick, when a failed one's pause
// ends and at least every recheck, until ctx is done, then returns nil.
func (l *Loop) Run(ctx context.Context) error {
	timer := time.NewTimer(recheck) // Reset before each wait
	defer timer.Stop()
	failures := make([]int, len(l.subs))
	retryAt := make([]time.Time, len(l.subs))
	for {
		for i, s := range l.subs {
			if time.Now().Before(retryAt[i]) {
				continue
			}
			err := l.drainOne(ctx, s)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				failures[i]++
				wait := pause(failures[i])
				retryAt[i] = time.Now().Add(wait)
				l.log.WarnContext(ctx, s.cursor()+": will retry", "err", err, "in", wait)
				continue
			}
			failures[i], retryAt[i] = 0, time.Time{}
		}
		wait := recheck
		for _, at := range retryAt {
			if !at.IsZero() {
				wait = min(wait, max(time.Until(at), 0))
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-l.kick: // Reset drops a tick not received (Go 1.23 timers)
		case <-timer.C:
		}
	}
}

// Drain hands every subscriber every event after its cursor and returns
// the first error (the other subscribers are drained all the same).
func (l *Loop) Drain(ctx context.Context) error {
	var first error
	for _, s := range l.subs {
		if err := l.drainOne(ctx, s); err != nil && first == nil {
			first = fmt.Errorf("%s: %w", s.cursor(), err)
		}
	}
	return first
}

func (l *Loop) drainOne(ctx context.Context, s subscriber) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return drain(ctx, l.store, s)
}

// drain hands s every event after its cursor, advancing the cursor past the
// events it handled, and returns when the log is exhausted or an event
// failed.
func drain(ctx context.Context, store greenlight.Store, s subscriber) error {
	cursor, err := store.Cursor(ctx, s.cursor())
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	for {
		events, err := store.Events(ctx, cursor, batch)
		if err != nil {
			return fmt.Errorf("read events after %d: %w", cursor, err)
		}
		if len(events) == 0 {
			return nil
		}
		// The cursor is written once per batch: a crash in between only
		// means handling some events again, which every subscriber's
		// de-duplication makes harmless.
		done := cursor
		for _, e := range events {
			if herr := s.handle(ctx, e); herr != nil {
				err = fmt.Errorf("event %d (%s): %w", e.Seq, e.Type, herr)
				break
			}
			done = e.Seq
		}
		s.drained(ctx)
		if done > cursor {
			if serr := store.SetCursor(ctx, s.cursor(), done); serr != nil && err == nil {
				err = fmt.Errorf("set cursor to %d: %w", done, serr)
			}
			cursor = done
		}
		if err != nil || len(events) < batch {
			return err
		}
	}
}
