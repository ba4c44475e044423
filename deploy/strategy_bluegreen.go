package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// blueGreen deploys to the idle group (the group after Request.Active, in
// the order groups first appear in Request.Targets) all at once, checks it,
// then switches the router to the idle group's servers alone. A host of the
// idle group that already runs the release and passes health is not
// reinstalled (without a health check it always is), so going back to a
// release kept there is a switch only. If
// the idle group fails, or the router refuses the switch, the idle group is
// rolled back and traffic stays where it was. The old group keeps running:
// Retire stops it later.
func blueGreen(ctx context.Context, dep *deployment) error {
	groups := groupsOf(dep.req.Targets)
	idle := groups[0]
	if i := slices.Index(groups, dep.req.Active); i >= 0 {
		idle = groups[(i+1)%len(groups)]
	}
	var rs []*rollout
	for _, r := range dep.rs {
		if r.group == idle {
			rs = append(rs, r)
		}
	}
	dep.log.Printf("deploying to idle group %s (active: %s)", idle, orNoneGroup(dep.req.Active))
	errs := make([]error, len(rs))
	dep.each(rs, func(i int, r *rollout) {
		// Without a health check nothing proves the kept release still
		// runs (Retire may have stopped it): install it again.
		if dep.req.Health.enabled() && r.already(ctx) {
			errs[i] = r.skip(ctx)
			return
		}
		errs[i] = r.installOrResume(ctx)
	})
	if errors.Join(errs...) != nil {
		dep.undo(ctx, rs, errs)
		dep.log.Printf("group %s failed: traffic stays on %s", idle, orNoneGroup(dep.req.Active))
		return failures(rs)
	}
	start := time.Now()
	err := dep.setWeights(ctx, dep.weights(func(r *rollout) int {
		if r.group == idle {
			return 1
		}
		return 0
	}))
	if err != nil {
		dep.undo(ctx, rs, nil)
		return errors.Join(err, failures(rs))
	}
	dep.active = idle
	dep.log.Printf("traffic switched to group %s in %s", idle, time.Since(start).Round(time.Millisecond))
	return nil
}

func orNoneGroup(g string) string {
	if g == "" {
		return "none"
	}
	return g
}

// RetireRequest names a release to stop on one group's targets, after a
// blue-green switch moved traffic away from them.
type RetireRequest struct {
	// Pipeline, Environment are those of the deploy that installed the
	// release: they choose the uid its local hooks run as (hookuser.go).
	Pipeline, Environment string
	Release               string // the release the group runs
	Group                 string
	Targets               []Target // the environment's targets; only Group's are touched
	HookTimeout           time.Duration
	Log                   io.Writer
}

// Retire runs the `stop` hook of req.Release, as stored with that release,
// on each target of req.Group. The orchestrator calls it keep_old after a
// blue-green switch, unless traffic went back to the group meanwhile. A
// target whose `current` is not that release (a later deploy went there),
// or whose release has no stop hook, is skipped; errors are joined per
// target.
func (d *Deployer) Retire(ctx context.Context, req RetireRequest) error {
	if err := validRelease(req.Release); err != nil {
		return err
	}
	if req.HookTimeout <= 0 {
		req.HookTimeout = 5 * time.Minute
	}
	stage := newStageLog(req.Log)
	conns := newConnPool()
	defer conns.Close()
	var errs []error
	found := false
	for _, t := range req.Targets {
		if t.Group != req.Group {
			continue
		}
		found = true
		t, err := t.checked()
		if err != nil {
			return err
		}
		h, err := d.hostFor(t, req.Pipeline, req.Environment, conns)
		if err != nil {
			return err
		}
		log := stage.target(h.Name())
		// A later deploy may have gone to this group before the retirement
		// came due: its stop hook could stop that release's app too.
		cur, err := h.Current(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", h.Name(), err))
			continue
		}
		if cur != req.Release {
			log.Printf("runs %s, not %s: nothing to retire", orNone(cur), req.Release)
			d.log.Info("retire skipped", "environment", req.Environment, "group", req.Group,
				"target", h.Name(), "release", req.Release, "current", cur)
			continue
		}
		info, ok, err := h.Info(ctx, req.Release)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", h.Name(), err))
			continue
		}
		if !ok || info.Hooks.Stop == "" {
			log.Printf("release %s has no stored stop hook: nothing to stop", req.Release)
			continue
		}
		env := map[string]string{}
		for k, v := range t.Env {
			env[k] = v
		}
		env["GREENLIGHT_PIPELINE"] = req.Pipeline
		env["GREENLIGHT_ENVIRONMENT"] = req.Environment
		env["GREENLIGHT_RUN"] = fmt.Sprint(info.RunID)
		env["GREENLIGHT_COMMIT"] = info.Commit
		log.Printf("stop (release %s, group %s retired): %s", req.Release, req.Group, info.Hooks.Stop)
		err = h.Run(ctx, req.Release, "stop", info.Hooks.Stop, env, req.HookTimeout, log)
		log.Flush()
		if err != nil {
			log.Printf("%v", err)
			errs = append(errs, fmt.Errorf("target %s: stop: %w", h.Name(), err))
		}
	}
	if !found {
		return greenlight.Errorf(greenlight.EINVALID, "retire: group %q has no targets", req.Group)
	}
	return errors.Join(errs...)
}
