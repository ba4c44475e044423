package notify

import (
	"context"
	"log/slog"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// The outbox pattern, written once for mail, commit statuses and notices:
// a row per delivery in the store with its attempts, the time of its next
// attempt and its last error; a sender (Dispatcher, StatusSender, Poster)
// that waits for due rows (wait), makes one attempt at each (sendDue) and
// records the outcome, waiting after a failure as backoff says and giving
// up as a retryRule says. Rows survive restarts, so a sender resumes where
// the last process stopped.

// retryRule says when an outbox gives up on a delivery.
type retryRule struct {
	// refusals is how many attempts in all (every failure counts, not
	// refusals alone) a delivery gets before a permanent refusal gives it
	// up. More than one, because a misconfigured receiver, a token being
	// rotated or a mailbox created minutes later sometimes recovers; not
	// more, because retrying a refusal forever only fills the receiver's log.
	refusals int
	// limit is how many attempts in all any failure gets; 0: no limit.
	limit int
}

// giveUp reports whether a delivery that has now failed attempts times in
// all, the last with a permanent refusal or not, is given up on.
func (r retryRule) giveUp(attempts int, permanent bool) bool {
	return permanent && attempts >= r.refusals || r.limit > 0 && attempts >= r.limit
}

// The outboxes' rules. Mail is never given up for an outage: a mail of
// approval links is worth a day's delay. A commit status older than about
// four hours (30 attempts at the ten-minute cap) helps nobody. A notice is
// tried for about a day (150 attempts), since a receiver holds its place
// in its pipeline's queue while it is tried.
var (
	mailRetry   = retryRule{refusals: 3}
	statusRetry = retryRule{refusals: 3, limit: 30}
	noticeRetry = retryRule{refusals: 3, limit: 150}
)

// recheck is how long a sender sleeps at most: a row that another process
// queued (which cannot Kick this one) is found within it.
const recheck = time.Minute

// wait calls work at once, then again on kick and when the next row is due
// (next returns its time on the clock now, zero if none), until ctx is
// done: no row is looked for in between, but at least every recheck. After
// an error it waits a growing pause before trying again.
func wait(ctx context.Context, kick <-chan struct{}, now greenlight.Now, log *slog.Logger, name string,
	work func(context.Context) error, next func(context.Context, time.Time) (time.Time, error)) {
	timer := time.NewTimer(recheck) // Reset before each wait
	defer timer.Stop()
	failures := 0
	for {
		err := work(ctx)
		var due time.Time
		if err == nil {
			due, err = next(ctx, now())
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			wait := pause(failures)
			log.WarnContext(ctx, name+": will retry", "err", err, "in", wait)
			if !sleep(ctx, wait) {
				return
			}
			continue
		}
		failures = 0
		timer.Reset(now.Until(due, recheck))
		select {
		case <-ctx.Done():
			return
		case <-kick: // Reset drops a tick not received (Go 1.23 timers)
		case <-timer.C:
		}
	}
}
