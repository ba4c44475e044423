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
// catch-up storm.
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
		if _, err := e.Trigger(ctx, p.Name, greenlight.TriggerRequest{Trigger: greenlight.TriggerSchedule}); err != nil {
			e.cfg.Log.Warn("schedule: start run", "pipeline", p.Name, "due", next, "err", err)
		}
		// From now, not from the time that was due: whatever else fell due
		// meanwhile is not run.
		next = sched.Next(later(next, clock.Now()))
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
