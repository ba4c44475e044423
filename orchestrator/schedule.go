package orchestrator

import (
	"context"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/source"
)

// Clock is the time the schedule loops see. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After sends the time on the channel once d has passed, like time.After.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// maxScheduleSleep bounds one sleep of a schedule loop, so that a wall clock
// set forward (or a machine waking from suspend) is noticed within a minute.
const maxScheduleSleep = time.Minute

// scheduleLoop starts a run of the default branch's head (trigger
// `schedule`) at each time of the pipeline's cron schedule, in its time
// zone. A run that fell due while the server was down (or the machine
// slept) starts once when it is back, however many were missed: never a
// catch-up storm. A run that cannot be created is retried until the next
// time is due (startScheduled).
func (e *Engine) scheduleLoop(ctx context.Context, p *config.Pipeline) {
	loc := time.Local
	if p.Source.Timezone != "" {
		l, err := time.LoadLocation(p.Source.Timezone)
		if err != nil {
			e.cfg.Log.Error("schedule: time zone", "pipeline", p.Name, "err", err)
			return
		}
		loc = l
	}
	sched, err := source.ParseSchedule(p.Source.Schedule, loc)
	if err != nil {
		e.cfg.Log.Error("schedule", "pipeline", p.Name, "err", err)
		return
	}
	clock := e.cfg.Clock
	prev := clock.Now()
	if last, ok := e.lastScheduled(ctx, p.Name); ok && last.Before(prev) {
		prev = last // a time missed while down is due at once
	}
	next := sched.Next(prev)
	e.cfg.Log.Info("schedule", "pipeline", p.Name, "cron", p.Source.Schedule, "zone", loc.String(), "next", next)
	for !next.IsZero() {
		if wait := next.Sub(clock.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-clock.After(min(wait, maxScheduleSleep)):
			}
			continue
		}
		if ctx.Err() != nil || e.isStopping() {
			return
		}
		e.startScheduled(ctx, p, sched, next)
		// From now, not from the time that was due: whatever else fell due
		// meanwhile is not run.
		next = sched.Next(later(next, clock.Now()))
	}
}

// Retries of a scheduled run that could not be created back off from
// scheduleRetryMin doubling to maxScheduleSleep.
const scheduleRetryMin = 5 * time.Second

// startScheduled creates the run due at due. A failure (the git host or the
// database briefly unavailable) is retried with backoff until the run is
// created or the schedule's next time comes, whose run then builds the head
// instead: a scheduled run is not lost to one failed attempt, and retries
// never add a run to the next one.
func (e *Engine) startScheduled(ctx context.Context, p *config.Pipeline, sched *source.Schedule, due time.Time) {
	clock := e.cfg.Clock
	giveUp := sched.Next(clock.Now())
	backoff := scheduleRetryMin
	for attempt := 1; ; attempt++ {
		_, err := e.Trigger(ctx, p.Name, greenlight.TriggerRequest{Trigger: greenlight.TriggerSchedule})
		switch {
		case err == nil:
			return
		case ctx.Err() != nil || e.isStopping():
			return
		case greenlight.ErrorCode(err) == greenlight.EINVALID: // trying again cannot help
			e.cfg.Log.Error("schedule: run not started", "pipeline", p.Name, "due", due, "err", err)
			return
		case !giveUp.IsZero() && !clock.Now().Add(backoff).Before(giveUp):
			e.cfg.Log.Error("schedule: run not started; the next scheduled time is due before another attempt",
				"pipeline", p.Name, "due", due, "attempts", attempt, "next", giveUp, "err", err)
			return
		}
		e.cfg.Log.Warn("schedule: start run; retrying", "pipeline", p.Name, "due", due, "attempt", attempt,
			"retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-clock.After(backoff):
		}
		if e.isStopping() {
			return
		}
		backoff = min(2*backoff, maxScheduleSleep)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// lastScheduled returns when the pipeline's last scheduled run was created.
func (e *Engine) lastScheduled(ctx context.Context, pipeline string) (time.Time, bool) {
	runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: pipeline, Limit: 500})
	if err != nil {
		e.cfg.Log.Warn("schedule: list runs", "pipeline", pipeline, "err", err)
		return time.Time{}, false
	}
	for _, r := range runs { // newest first
		if r.Trigger == greenlight.TriggerSchedule {
			return r.CreatedAt, true
		}
	}
	return time.Time{}, false
}
