package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/forge"
)

// postTimeout bounds one attempt at one status.
const postTimeout = 30 * time.Second

// StatusSender posts the commit statuses queued in the store to each
// pipeline's forge. A forge outage delays statuses, never loses them: a
// failed attempt is recorded with the next time to try (the mail
// dispatcher's backoff: 5s doubling to 10 minutes, with jitter, or the
// forge's Retry-After), so a restart resumes where it stopped. Only the
// newest state of each commit and context is kept, so a backlog shrinks to
// one request per context. Statuses the forge refuses for good are dropped
// after a few attempts with an error in the log that says what to fix.
// Nothing here waits on a run, and no run waits on this.
//
// Lifecycle: NewStatusSender, then Run in its own goroutine until ctx ends;
// Kick is safe from any goroutine. One StatusSender per store.
type StatusSender struct {
	store  greenlight.Store
	forges func(pipeline string) forge.Client
	now    greenlight.Now
	log    *slog.Logger
	kick   chan struct{}
	mu     sync.Mutex // one pass at a time
}

// NewStatusSender returns a StatusSender. forges returns the pipeline's
// forge client, nil if it has none (then its queued statuses are dropped);
// now nil means time.Now, log nil discards.
func NewStatusSender(store greenlight.Store, forges func(pipeline string) forge.Client, now greenlight.Now, log *slog.Logger) *StatusSender {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &StatusSender{store: store, forges: forges, now: now, log: log, kick: make(chan struct{}, 1)}
}

// Kick nudges Run to look for due statuses now; it never blocks.
func (s *StatusSender) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run posts due statuses at once, on Kick and when the next status is due
// (a retry) until ctx is done, then returns nil.
func (s *StatusSender) Run(ctx context.Context) error {
	wait(ctx, s.kick, s.now, s.log, "forge status sender", s.SendDue, s.store.NextStatusAttempt)
	return nil
}

// SendDue makes one attempt at every status due now. An error means the
// store could not be read or updated; a status the forge did not take is
// not an error.
func (s *StatusSender) SendDue(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sendDue(ctx, func(ctx context.Context) ([]*greenlight.CommitStatus, error) {
		due, err := s.store.DueStatuses(ctx, s.now(), dueBatch)
		if err != nil {
			return nil, fmt.Errorf("read due statuses: %w", err)
		}
		return due, nil
	}, s.deliver)
}

// deliver makes one attempt at st and records the outcome.
func (s *StatusSender) deliver(ctx context.Context, st *greenlight.CommitStatus) error {
	log := s.log.With("pipeline", st.Pipeline, "run", st.RunID, "commit", st.SHA,
		"context", st.Context, "state", st.State)
	client := s.forges(st.Pipeline)
	var err error
	if client != nil {
		pctx, cancel := context.WithTimeout(ctx, postTimeout)
		err = client.Post(pctx, forge.Status{SHA: st.SHA, Context: st.Context, State: st.State,
			Description: st.Description, TargetURL: st.TargetURL})
		cancel()
		if err != nil && ctx.Err() != nil {
			return nil // cut off by shutdown: still due
		}
	}
	// Recorded even if shutdown begins now: a posted status need not go twice.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	now := s.now()
	attempts := st.Attempts + 1
	var current bool
	switch {
	case client == nil:
		current, err = s.store.MarkStatusDone(rctx, st.ID, st.Version, now, "the pipeline has no forge configured")
		log.WarnContext(ctx, "commit status dropped: the pipeline no longer has a forge")
	case err == nil:
		current, err = s.store.MarkStatusDone(rctx, st.ID, st.Version, now, "")
		log.DebugContext(ctx, "commit status posted", "attempts", attempts)
	case statusRetry.giveUp(attempts, forge.Permanent(err)):
		reason := truncate(err.Error(), 1000)
		if forge.Permanent(err) {
			log.ErrorContext(ctx, "commit status dropped: the forge refused it; check source.forge (token, its scopes, repo)",
				"attempts", attempts, "err", err)
		} else {
			log.ErrorContext(ctx, "commit status dropped: the forge kept failing", "attempts", attempts, "err", err)
		}
		current, err = s.store.MarkStatusDone(rctx, st.ID, st.Version, now, reason)
	default:
		wait := backoff(st.Attempts, rand.Float64())
		if fe := (*forge.Error)(nil); errors.As(err, &fe) && fe.RetryAfter > wait {
			wait = fe.RetryAfter
		}
		log.WarnContext(ctx, "commit status not posted; will retry", "attempts", attempts, "in", wait, "err", err)
		current, err = s.store.MarkStatusFailed(rctx, st.ID, st.Version, truncate(err.Error(), 1000), now.Add(wait))
	}
	if err != nil {
		return fmt.Errorf("record attempt at status %d: %w", st.ID, err)
	}
	if !current {
		log.DebugContext(ctx, "commit status replaced by a newer state while posting")
	}
	return nil
}
