package orchestrator

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// pollLoop watches a pipeline's branch with git ls-remote and starts a run
// for each new head. Errors back off up to ten intervals.
func (e *Engine) pollLoop(ctx context.Context, p *config.Pipeline) {
	last := ""
	if runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: p.Name, Limit: 1}); err == nil && len(runs) > 0 {
		last = runs[0].Commit.SHA
	}
	wait := p.Source.Poll
	if last != "" { // a fresh server builds the head once; a restarted one only what is new
		wait = jitter(p.Source.Poll)
	} else {
		wait = 0
	}
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		hctx, cancel := context.WithTimeout(ctx, gitTimeout)
		sha, err := e.cfg.Git.Head(hctx, p.Source.Repo, p.Source.Branch)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			e.cfg.Log.Warn("poll", "pipeline", p.Name, "err", err, "failures", failures)
			wait = min(p.Source.Poll*time.Duration(1<<min(failures, 4)), 10*p.Source.Poll)
			continue
		}
		failures = 0
		wait = jitter(p.Source.Poll)
		if sha == last {
			continue
		}
		if _, err := e.Trigger(ctx, p.Name, greenlight.TriggerRequest{Commit: sha, Trigger: greenlight.TriggerPoll}); err != nil {
			e.cfg.Log.Warn("poll: start run", "pipeline", p.Name, "err", err)
			continue
		}
		last = sha
	}
}

// jitter spreads polls of many pipelines over ±10% of the interval.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}
