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

// retireInterval is how often retireLoop looks for due retirements.
const retireInterval = time.Second

// maxRetireBackoff bounds the wait before a failed retirement is tried again.
const maxRetireBackoff = 5 * time.Minute

// errEnvBusy: the environment's deploy lock is held; the retirement is
// tried again at the next tick.
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

// retireLoop retires the blue-green groups whose keep_old has passed, until
// ctx ends. Each retirement runs in its own goroutine and only takes its
// environment's lock if it is free, so neither a slow stop hook nor a long
// deploy in one environment holds up the others; a busy environment's
// retirement is tried at the next tick, and one that failed without an
// outcome (the store, a log) waits longer after each failure.
func (e *Engine) retireLoop(ctx context.Context) {
	t := time.NewTicker(retireInterval)
	defer t.Stop()
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
		case <-t.C:
		}
		// Room for those in flight or backing off, so they hide no others.
		mu.Lock()
		limit := 10 + len(inflight) + len(failed)
		mu.Unlock()
		due, err := e.cfg.Store.DueRetirements(ctx, e.cfg.Now(), limit)
		if err != nil {
			if ctx.Err() == nil {
				e.cfg.Log.Error("list due retirements", "err", err)
			}
			continue
		}
		now := time.Now() // the backoff is real waiting, not the configured clock
		mu.Lock()
		for _, r := range due {
			if inflight[r.ID] || now.Before(failed[r.ID].next) {
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
				case err == nil:
					delete(failed, r.ID)
				case errors.Is(err, errEnvBusy) || ctx.Err() != nil:
				default:
					f := failed[r.ID]
					f.n++
					f.next = time.Now().Add(retireBackoff(f.n))
					failed[r.ID] = f
					e.cfg.Log.Error("retire a blue-green group", "pipeline", r.Pipeline, "environment", r.Environment,
						"group", r.Group, "err", err, "retry_in", retireBackoff(f.n))
				}
			}()
		}
		mu.Unlock()
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
