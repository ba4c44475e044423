package orchestrator

import (
	"context"
	"fmt"
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

// retireLoop retires the blue-green groups whose keep_old has passed, one
// at a time, until ctx ends.
func (e *Engine) retireLoop(ctx context.Context) {
	t := time.NewTicker(retireInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due, err := e.cfg.Store.DueRetirements(ctx, e.cfg.Now(), 10)
		if err != nil {
			if ctx.Err() == nil {
				e.cfg.Log.Error("list due retirements", "err", err)
			}
			continue
		}
		for _, r := range due {
			if ctx.Err() != nil {
				return
			}
			e.retire(ctx, r)
		}
	}
}

// retire carries out one due retirement under the environment's deploy
// lock, unless the group became active again (a rollback or a later switch
// made it serve): then it is skipped.
func (e *Engine) retire(ctx context.Context, r *greenlight.Retirement) {
	log := e.cfg.Log.With("pipeline", r.Pipeline, "environment", r.Environment, "group", r.Group)
	finish := func(outcome string) {
		if _, err := e.cfg.Store.FinishRetirement(context.WithoutCancel(ctx), r.ID, e.cfg.Now(), outcome); err != nil {
			log.Error("record retirement", "err", err)
			return
		}
		log.Info("blue-green group retirement", "outcome", outcome)
	}
	p := e.cfg.Server.Pipeline(r.Pipeline)
	var env *config.Environment
	if p != nil {
		env = p.Environments[r.Environment]
	}
	if env == nil {
		finish("skipped: the environment is no longer configured")
		return
	}
	unlock, err := e.envLock(ctx, r.Pipeline, r.Environment)
	if err != nil {
		return // shutting down: due again at the next start
	}
	defer unlock()
	live, err := e.cfg.Store.LiveRelease(ctx, r.Pipeline, r.Environment)
	if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
		log.Error("read live release", "err", err)
		return
	}
	if activeGroup(live) == r.Group {
		finish("skipped: group " + r.Group + " is active again")
		return
	}
	rel, err := e.releaseByID(ctx, r.Pipeline, r.Environment, r.ReleaseID)
	if err != nil {
		log.Error("read the release the group runs", "err", err)
		return
	}
	run, err := e.cfg.Store.Run(ctx, rel.RunID)
	if err != nil || run.Artifact == nil {
		finish(fmt.Sprintf("skipped: the run of release %d cannot be read", rel.ID))
		return
	}
	stage := ""
	for _, s := range run.Stages {
		if s.Type == greenlight.StageDeploy && s.Environment == r.Environment {
			stage = s.Name
		}
	}
	out, err := e.cfg.Logs.Create(run.ID, stage)
	if err != nil {
		log.Error("open stage log", "err", err)
		return
	}
	defer out.Close()
	fmt.Fprintf(out, "==> keep_old has passed: retiring group %s\n", r.Group)
	if err := e.retireGroup(ctx, e.deployRequest(run, p, env, out, rel.DirName()), rel, r.Group); err != nil {
		if ctx.Err() != nil {
			return // cut off by a shutdown: due again at the next start
		}
		fmt.Fprintf(out, "==> retiring group %s failed: %s\n", r.Group, err)
		finish("failed: " + err.Error())
		return
	}
	fmt.Fprintf(out, "==> group %s retired\n", r.Group)
	finish("retired")
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
