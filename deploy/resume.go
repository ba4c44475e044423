package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// errNotReached is why a target an interrupted attempt changed is rolled
// back when the resumed attempt failed before it got to it.
var errNotReached = errors.New("rolled back: the resumed deploy failed before reaching this target")

// changedBefore reports whether an interrupted attempt may have changed r:
// its stored phase says it was being installed, was live, or was being
// rolled back.
func (r *rollout) changedBefore() bool {
	if r.stored == nil {
		return false
	}
	switch r.stored.Phase {
	case PhaseInstalling, PhaseLive, PhaseRollingBack:
		return true
	}
	return false
}

// fromStored readies r to undo what an interrupted attempt did, which may
// have gone as far as starting the release. A target whose previous release
// cannot be read (its host unreachable) is reported failed, its stored
// Previous kept so that a later rollback can try again; it returns false.
func (r *rollout) fromStored(ctx context.Context) bool {
	if err := r.findPrevious(ctx); err != nil {
		err = fmt.Errorf("cannot roll back: %w", err)
		r.outcome.Status, r.outcome.Error, r.failure = StatusFailed, err.Error(), err
		r.log.Printf("%v", err)
		r.reportQuietly(PhaseFailed, err.Error())
		return false
	}
	if err := r.h.Reap(ctx, r.log); err != nil {
		r.log.Printf("warning: %v", err) // the stop hooks of the rollback still run
	}
	r.phase = r.stored.Phase
	r.assumeChanged()
	return true
}

// undoNotReached runs after a resumed deploy failed: the targets the
// interrupted attempt changed that this attempt did not reach would keep the
// release while the others went back. They go back too, the last first, and
// the router (if this attempt did not already) gets the weights of before
// the deploy, as the crash may have left any. It returns why any of them
// could not be returned.
func (dep *deployment) undoNotReached(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx) // the cancellation may be why it failed
	var rs []*rollout
	for _, r := range dep.rs {
		if r.changedBefore() && !slices.Contains(dep.touched, r) {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	var rerr error
	if dep.router != nil && !dep.routed {
		dep.routed = true
		rerr = dep.restoreRouter(ctx)
	}
	for _, r := range rs {
		r.log.Printf("changed by the interrupted attempt, not reached by this one")
	}
	dep.undoFromStored(ctx, rs, errNotReached, nil)
	return errors.Join(rerr, failures(rs))
}

// undoFromStored returns rs, targets an interrupted attempt changed, to their
// stored previous releases for reason, the last first. A target whose
// previous release cannot be read (its host unreachable) is reported failed
// and left as it is. ready, if set, is called for each target about to be
// returned. A target returned carries no failure of its own: the deploy's
// (or the rollback's) reason says why. It returns the targets it returned.
func (dep *deployment) undoFromStored(ctx context.Context, rs []*rollout, reason error, ready func(*rollout)) []*rollout {
	var back []*rollout
	for _, r := range rs {
		if !r.fromStored(ctx) {
			dep.touched = append(dep.touched, r)
			continue
		}
		if ready != nil {
			ready(r)
		}
		back = append(back, r)
	}
	errs := make([]error, len(back))
	for i := range errs {
		errs[i] = reason
	}
	dep.undo(ctx, back, errs)
	for _, r := range back {
		if r.outcome.Status == StatusRolledBack {
			r.failure = nil
		}
	}
	return back
}

// stopCutOff readies a resumed target for installing and starting the
// release again. An interrupted attempt may have been cut off in any hook,
// start included, and that hook may still be running (it is in a session
// of its own): it is killed (host.Reap). Then, if the stored phase says the
// release may have been started (installing, live, rolling back), the
// release's own `stop` hook, as stored with it, runs in its directory,
// as the hooks run: without it, `start` would run again beside the app
// the cut-off attempt started, which keeps the port and serves every later
// health check. `stop` must therefore tolerate an app that is not running.
// Its failure fails the target (and rolls it back, which stops it again):
// starting beside an app that may be running is what this prevents.
func (r *rollout) stopCutOff(ctx context.Context) error {
	if err := r.h.Reap(ctx, r.log); err != nil {
		return err
	}
	if !r.changedBefore() {
		return nil
	}
	r.assumeChanged()
	info, ok, err := r.h.Info(ctx, r.req.Release)
	if err != nil {
		return err
	}
	if !ok || info.Hooks.Stop == "" {
		return nil // never installed (or no stop): nothing of it was started
	}
	r.log.Printf("resuming after an interrupted attempt: stopping release %s before starting it again", r.req.Release)
	return r.hook(ctx, r.req.Release, "stop", info.Hooks.Stop)
}
