package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// retirementFor is the retirement that a blue-green switch from the live
// release's group to active calls for: the old group's, keep_old from now;
// nil when there was no switch. The row survives restarts; retireLoop
// carries it out.
func (e *Engine) retirementFor(env *config.Environment, live *greenlight.Release, active string) *greenlight.Retirement {
	if env.Strategy.Type != config.StrategyBlueGreen {
		return nil
	}
	old := activeGroup(live)
	if old == "" || old == active {
		return nil
	}
	return &greenlight.Retirement{Pipeline: live.Pipeline, Environment: live.Environment, Group: old,
		ReleaseID: live.ID, DueAt: e.cfg.Now().Add(env.Strategy.KeepOld)}
}

// retireInterval is the first wait before a failed retirement is tried
// again.
const retireInterval = time.Second

// retireRecheck is how long retireLoop sleeps at most: a retirement that
// another process stored (which cannot wake this one) is found within it.
const retireRecheck = time.Minute

// maxRetireBackoff bounds the wait before a failed retirement is tried again.
const maxRetireBackoff = 5 * time.Minute

// errEnvBusy: the environment's deploy lock is held; the retirement is
// tried again when a deploy lock is given back.
var errEnvBusy = errors.New("a deploy holds the environment")

// retireBackoff is the wait before the attempt after the n-th failure in a
// row (n >= 1): retireInterval doubled each time, at most maxRetireBackoff.
func retireBackoff(n int) time.Duration {
	d := retireInterval
	for range n {
		if d >= maxRetireBackoff/2 {
			return maxRetireBackoff
		}
		d *= 2
	}
	return d
}

// wakeRetire makes the retire loop look for due retirements now: one was
// stored, one finished, or a deploy lock was given back.
func (e *Engine) wakeRetire() {
	select {
	case e.retires <- struct{}{}:
	default:
	}
}

// retireLoop retires the blue-green groups whose keep_old has passed, until
// ctx ends. It sleeps until the next retirement is due, a failed one's
// backoff ends, or wakeRetire (a retirement stored or finished, a deploy
// lock given back), and at most retireRecheck. Each retirement runs in its
// own goroutine and only takes its environment's lock if it is free, so
// neither a slow stop hook nor a long deploy in one environment holds up
// the others; a busy environment's retirement is tried again when a lock
// is given back, and one that failed without an outcome (the store, a log)
// waits longer after each failure.
func (e *Engine) retireLoop(ctx context.Context) {
	timer := time.NewTimer(0) // look at once: retirements left by the last process
	defer timer.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	inflight := map[int64]bool{}
	type failure struct {
		n    int
		next time.Time
	}
	failed := map[int64]failure{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-e.retires:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		// Room for those in flight or backing off, so they hide no others.
		mu.Lock()
		limit := 10 + len(inflight) + len(failed)
		mu.Unlock()
		clock := e.cfg.Now()
		due, err := e.cfg.Store.DueRetirements(ctx, clock, limit)
		var next time.Time
		if err == nil {
			next, err = e.cfg.Store.NextRetirement(ctx, clock)
		}
		if err != nil {
			if ctx.Err() == nil {
				e.cfg.Log.Error("list due retirements", "err", err)
			}
			timer.Reset(retireInterval)
			continue
		}
		wait := e.cfg.Now.Until(next, retireRecheck)
		now := time.Now() // the backoff is real waiting, not the configured clock
		mu.Lock()
		for _, r := range due {
			if inflight[r.ID] {
				continue
			}
			if f, ok := failed[r.ID]; ok && now.Before(f.next) {
				wait = min(wait, f.next.Sub(now))
				continue
			}
			inflight[r.ID] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := e.retire(ctx, r)
				mu.Lock()
				defer mu.Unlock()
				delete(inflight, r.ID)
				switch {
				case ctx.Err() != nil:
				case errors.Is(err, errEnvBusy):
					// Tried again when the lock is given back; if that
					// happened already (while this was still in flight,
					// so the loop passed it over), now.
					if unlock, ok := e.envTryLock(r.Pipeline, r.Environment); ok {
						unlock()
					}
				case err == nil:
					delete(failed, r.ID)
					e.wakeRetire() // the next of a full batch
				default:
					f := failed[r.ID]
					f.n++
					f.next = time.Now().Add(retireBackoff(f.n))
					failed[r.ID] = f
					e.cfg.Log.Error("retire a blue-green group", "pipeline", r.Pipeline, "environment", r.Environment,
						"group", r.Group, "err", err, "retry_in", retireBackoff(f.n))
					e.wakeRetire() // to wait for its backoff
				}
			}()
		}
		mu.Unlock()
		timer.Reset(max(wait, 0))
	}
}

// retire carries out one due retirement under the environment's deploy
// lock, unless the group became active again (a rollback or a later switch
// made it serve): then it is skipped. It returns errEnvBusy if the lock is
// held, and an error if the retirement could not be carried out nor closed
// (to try again later).
func (e *Engine) retire(ctx context.Context, r *greenlight.Retirement) error {
	log := e.cfg.Log.With("pipeline", r.Pipeline, "environment", r.Environment, "group", r.Group)
	finish := func(outcome string) error {
		if _, err := e.cfg.Store.FinishRetirement(context.WithoutCancel(ctx), r.ID, e.cfg.Now(), outcome); err != nil {
			return fmt.Errorf("record retirement: %w", err)
		}
		log.Info("blue-green group retirement", "outcome", outcome)
		return nil
	}
	p := e.cfg.Server.Pipeline(r.Pipeline)
	var env *config.Environment
	if p != nil {
		env = p.Environments[r.Environment]
	}
	if env == nil {
		return finish("skipped: the environment is no longer configured")
	}
	unlock, ok := e.envTryLock(r.Pipeline, r.Environment)
	if !ok {
		return errEnvBusy
	}
	defer unlock()
	live, err := e.cfg.Store.LiveRelease(ctx, r.Pipeline, r.Environment)
	if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
		return fmt.Errorf("read live release: %w", err)
	}
	if activeGroup(live) == r.Group {
		return finish("skipped: group " + r.Group + " is active again")
	}
	rel, err := e.releaseByID(ctx, r.Pipeline, r.Environment, r.ReleaseID)
	if err != nil {
		return fmt.Errorf("read the release the group runs: %w", err)
	}
	run, err := e.cfg.Store.Run(ctx, rel.RunID)
	if err != nil || run.Artifact == nil {
		return finish(fmt.Sprintf("skipped: the run of release %d cannot be read", rel.ID))
	}
	stage := ""
	for _, s := range run.Stages {
		if s.Type == greenlight.StageDeploy && s.Environment == r.Environment {
			stage = s.Name
		}
	}
	out, err := e.cfg.Logs.Create(run.ID, stage)
	if err != nil {
		return fmt.Errorf("open stage log: %w", err)
	}
	defer out.Close()
	fmt.Fprintf(out, "==> keep_old has passed: retiring group %s\n", r.Group)
	if err := e.retireGroup(ctx, e.deployRequest(run, p, env, out, rel.DirName()), rel, r.Group); err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // cut off by a shutdown: due again at the next start
		}
		fmt.Fprintf(out, "==> retiring group %s failed: %s\n", r.Group, err)
		return finish("failed: " + err.Error())
	}
	fmt.Fprintf(out, "==> group %s retired\n", r.Group)
	return finish("retired")
}

// releaseByID finds a release among its environment's recent history.
func (e *Engine) releaseByID(ctx context.Context, pipeline, env string, id int64) (*greenlight.Release, error) {
	rels, err := e.cfg.Store.Releases(ctx, pipeline, env, 0)
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if r.ID == id {
			return r, nil
		}
	}
	return nil, greenlight.Errorf(greenlight.ENOTFOUND, "release %d of %s/%s not found", id, pipeline, env)
}
