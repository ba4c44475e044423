package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Rollback undoes an interrupted deploy of req.Release that will not be
// resumed: every target whose state in req.Resume is not pending (nor
// already rolled-back) goes back to its stored Previous, the last targets
// first, and the router (if any) gets the weights of before the deploy
// (in blue-green, all traffic on req.Active). The release's stop hook is
// that of req.Hooks, or the one stored with the release when req.Hooks is
// empty. No archive is needed. Result lists the targets it returned, and
// those it could not (a host unreachable), which fail the rollback without
// stopping it.
func (d *Deployer) Rollback(ctx context.Context, req Request) (Result, error) {
	if err := d.prepare(&req, false); err != nil {
		return Result{}, err
	}
	dep, err := d.newDeployment(&req)
	if err != nil {
		return Result{}, err
	}
	defer dep.close()
	start := time.Now()

	var all []*rollout
	for _, r := range dep.rs {
		if r.stored != nil && r.stored.Phase != PhaseRolledBack {
			all = append(all, r)
		}
	}
	var rerr error
	if dep.router != nil {
		dep.routed = true
		rerr = dep.restoreRouter(ctx)
	}
	// One unreachable host must not keep the others (and the router) on the
	// release: it is reported failed, and the rest go on.
	reason := fmt.Errorf("interrupted deploy of release %s not resumed", req.Release)
	rs := dep.undoFromStored(ctx, all, reason, func(r *rollout) {
		if req.Hooks == (greenlight.Hooks{}) {
			if info, ok, err := r.h.Info(ctx, req.Release); err == nil && ok {
				r.hooks = info.Hooks
			}
		}
	})
	res := dep.result()
	err = errors.Join(rerr, failures(all))
	if err == nil {
		res.RolledBack = len(rs) > 0
	}
	d.log.Info("rollback", "pipeline", req.Pipeline, "environment", req.Environment, "release", req.Release,
		"targets", len(rs), "duration", time.Since(start).Round(time.Millisecond), "ok", err == nil)
	return res, err
}
