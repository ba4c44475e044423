package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/greenlight-cd/greenlight"
)

// rollout is one release going onto one host. It remembers how far it got,
// so that rollback undoes exactly what was done.
type rollout struct {
	req    *Request
	h      host
	env    map[string]string // for hooks: the target's env and GREENLIGHT_*
	health string            // resolved health URL, "" for none
	log    *lineWriter
	now    greenlight.Now

	prev     string      // release live before, "" if none
	prevInfo releaseInfo // what the previous release is (run, commit), when stored
	// How far install got; each is true once the step was attempted.
	stoppedPrev bool // prev's stop hook ran: it needs starting again
	touched     bool // a hook of the new release ran or current moved
	switched    bool

	outcome greenlight.TargetOutcome
	failure error // why this target did not end live, as Deploy reports it
}

// install takes the host from the previous release to the new one, through
// the health check. It stops at the first error and leaves undoing it to
// rollback.
func (r *rollout) install(ctx context.Context) error {
	req := r.req
	prev, err := r.h.Current(ctx)
	if err != nil {
		return err
	}
	r.prev = prev
	if prev != "" {
		// Read before Install: redeploying the live release rewrites its info.
		info, ok, err := r.h.Info(ctx, prev)
		if err != nil {
			return err
		}
		if !ok {
			r.log.Printf("previous release %s has no stored hooks: nothing to stop or restart", prev)
		}
		r.prevInfo = info
	}

	r.log.Printf("installing release %s (previous: %s)", req.Release, orNone(prev))
	info := releaseInfo{
		Release: req.Release, Pipeline: req.Pipeline, Environment: req.Environment,
		RunID: req.RunID, Commit: req.Commit, Artifact: req.Digest, Hooks: req.Hooks,
		InstalledAt: r.now().UTC(),
	}
	if err := r.h.Install(ctx, req.Archive, info); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deploy cancelled: %w", err)
	}

	if prev != "" && r.prevInfo.Hooks.Stop != "" {
		r.stoppedPrev = true
		if err := r.hook(ctx, prev, "stop", r.prevInfo.Hooks.Stop); err != nil {
			return err
		}
	}
	r.touched = true
	if err := r.hook(ctx, req.Release, "before_install", req.Hooks.BeforeInstall); err != nil {
		return err
	}
	r.switched = true
	if err := r.h.Switch(ctx, req.Release); err != nil {
		return err
	}
	r.log.Printf("current -> releases/%s", req.Release)
	for _, step := range []struct{ name, cmd string }{
		{"after_install", req.Hooks.AfterInstall},
		{"start", req.Hooks.Start},
		{"validate", req.Hooks.Validate},
	} {
		if err := r.hook(ctx, req.Release, step.name, step.cmd); err != nil {
			return err
		}
	}
	if r.health == "" {
		r.log.Printf("no health check configured")
	} else if err := checkHealth(ctx, r.health, req.Health, r.log); err != nil {
		return err
	}
	r.log.Printf("release %s is live", req.Release)
	r.outcome.Status = StatusLive
	return nil
}

// hook runs one hook of release, if it has one, narrating it in the log.
func (r *rollout) hook(ctx context.Context, release, name, command string) error {
	if command == "" {
		return nil
	}
	r.log.Printf("%s (release %s): %s", name, release, command)
	err := r.h.Run(ctx, release, name, command, r.envFor(release), r.req.HookTimeout, r.log)
	r.log.Flush()
	if err != nil {
		r.log.Printf("%v", err)
	}
	return err
}

// envFor is the hook environment of a release: the previous release's hooks
// see its own run and commit, so an app restarted by a rollback says what it is.
func (r *rollout) envFor(release string) map[string]string {
	if release != r.prev || r.prevInfo.Commit == "" {
		return r.env
	}
	env := make(map[string]string, len(r.env))
	for k, v := range r.env {
		env[k] = v
	}
	env["GREENLIGHT_RUN"] = fmt.Sprint(r.prevInfo.RunID)
	env["GREENLIGHT_COMMIT"] = r.prevInfo.Commit
	return env
}

// rollback returns the host to the previous release after reason, and
// records the outcome. It runs to the end even when ctx is cancelled (the
// cancellation may be its reason): each hook is still bounded by its timeout.
func (r *rollout) rollback(ctx context.Context, reason error) {
	ctx = context.WithoutCancel(ctx)
	r.outcome.Status = StatusFailed
	r.outcome.Error = reason.Error()
	if !r.touched && !r.stoppedPrev {
		r.failure = reason
		r.log.Printf("deploy failed before changing anything: %v", reason)
		return
	}
	r.log.Printf("rolling back to %s: %v", orNone(r.prev), reason)
	if r.req.Hooks.Stop != "" && r.touched {
		// Best effort: the new release may never have started.
		r.hook(ctx, r.req.Release, "stop", r.req.Hooks.Stop)
	}
	var errs []error
	if r.switched {
		if err := r.h.Switch(ctx, r.prev); err != nil {
			errs = append(errs, err)
		} else if r.prev == "" {
			r.log.Printf("current removed")
		} else {
			r.log.Printf("current -> releases/%s", r.prev)
		}
	}
	if r.stoppedPrev && r.prevInfo.Hooks.Start != "" {
		if err := r.hook(ctx, r.prev, "start", r.prevInfo.Hooks.Start); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.outcome.Error = fmt.Sprintf("%v; rollback failed: %v", reason, err)
		r.failure = fmt.Errorf("%w; rollback failed: %w", reason, err)
		r.log.Printf("rollback failed: %v", err)
		return
	}
	r.outcome.Status = StatusRolledBack
	if r.prev == "" {
		r.failure = fmt.Errorf("%w; rolled back (no previous release)", reason)
	} else {
		r.failure = fmt.Errorf("%w; rolled back to release %s", reason, r.prev)
	}
	r.log.Printf("rolled back to %s", orNone(r.prev))
}

// prune keeps the newest releases after a successful deploy; failing to
// prune does not undo a live release, so it is only reported.
func (r *rollout) prune(ctx context.Context, keep int) {
	protect := []string{r.req.Release}
	if r.prev != "" {
		protect = append(protect, r.prev)
	}
	if err := r.h.Prune(ctx, keep, protect...); err != nil {
		r.log.Printf("warning: %v", err)
	}
}

func orNone(release string) string {
	if release == "" {
		return "none"
	}
	return "release " + release
}
