package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// rollout is one release going onto one host. It remembers how far it got,
// so that rollback undoes exactly what was done.
type rollout struct {
	req    *Request
	h      host
	env    map[string]string // for hooks: the target's env and GREENLIGHT_*
	group  string            // blue-green group
	server string            // host:port for a router, "" without env.PORT
	health checker
	hooks  greenlight.Hooks // the new release's hooks
	log    *lineWriter
	now    greenlight.Now
	track  *tracker

	stored   *TargetState // from Request.Resume, nil if none
	prev     string       // release live before, "" if none
	prevInfo releaseInfo  // what the previous release is (run, commit), when stored
	phase    string       // last phase reported
	// How far install got; each is true once the step was attempted.
	stoppedPrev bool // prev's stop hook ran: it needs starting again
	touched     bool // a hook of the new release ran or current moved
	switched    bool

	outcome greenlight.TargetOutcome
	failure error // why this target did not end live, as Deploy reports it
}

// report records a phase change through Request.Progress.
func (r *rollout) report(phase, why string) error {
	r.phase = phase
	return r.track.report(TargetState{Target: r.h.Name(), Phase: phase, Previous: r.prev, Error: why})
}

// findPrevious sets prev: the stored Previous of a resumed target (current
// may already be this release), else what `current` says now.
func (r *rollout) findPrevious(ctx context.Context) error {
	if r.stored != nil {
		r.prev = r.stored.Previous
	} else {
		prev, err := r.h.Current(ctx)
		if err != nil {
			return err
		}
		r.prev = prev
	}
	if r.prev == "" {
		return nil
	}
	// Read before Install: redeploying the live release rewrites its info.
	info, ok, err := r.h.Info(ctx, r.prev)
	if err != nil {
		return err
	}
	if !ok {
		r.log.Printf("previous release %s has no stored hooks: nothing to stop or restart", r.prev)
	}
	r.prevInfo = info
	return nil
}

// already reports whether the host runs the release and passes its health
// check, so that it need not be installed again: a resumed target stored
// live, or a blue-green group that had the release before.
func (r *rollout) already(ctx context.Context) bool {
	cur, err := r.h.Current(ctx)
	if err != nil || cur != r.req.Release {
		return false
	}
	if r.health.url != "" || r.health.h.Command != "" {
		if err := r.health.wait(ctx, r.log); err != nil {
			r.log.Printf("release %s is current but not healthy: installing it again", cur)
			return false
		}
	}
	return true
}

// assumeChanged records what an interrupted attempt may have done on the
// target, so that a rollback of this one undoes it: the new release may run,
// `current` may point at it, the previous release may have been stopped.
func (r *rollout) assumeChanged() {
	r.touched, r.switched, r.stoppedPrev = true, true, r.prev != ""
}

// skip marks the host live without installing: it already runs the
// release. A resumed target keeps what the interrupted attempt did, so a
// later rollback still returns it to its stored Previous.
func (r *rollout) skip(ctx context.Context) error {
	if r.stored != nil {
		if err := r.findPrevious(ctx); err != nil {
			return err
		}
		r.assumeChanged()
	} else {
		r.prev = r.req.Release
	}
	r.log.Printf("release %s is already live and healthy here", r.req.Release)
	if err := r.report(PhaseLive, ""); err != nil {
		return err
	}
	r.outcome.Status = StatusLive
	return nil
}

// install takes the host from the previous release to the new one, through
// the health check. It stops at the first error and leaves undoing it to
// rollback.
func (r *rollout) install(ctx context.Context) error {
	req := r.req
	if err := r.findPrevious(ctx); err != nil {
		return err
	}
	// Stored before anything changes: a crash from here on leaves a target
	// whose Previous is known.
	if err := r.report(PhaseInstalling, ""); err != nil {
		return err
	}
	r.log.Printf("installing release %s (previous: %s)", req.Release, orNone(r.prev))
	if r.stored != nil {
		if err := r.stopCutOff(ctx); err != nil {
			return err
		}
	}
	info := releaseInfo{
		Release: req.Release, Pipeline: req.Pipeline, Environment: req.Environment,
		RunID: req.RunID, Commit: req.Commit, Artifact: req.Digest, Hooks: r.hooks,
		InstalledAt: r.now().UTC(),
	}
	if err := r.h.Install(ctx, req.Archive, info); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deploy cancelled: %w", err)
	}

	if r.prev != "" && r.prevInfo.Hooks.Stop != "" {
		r.stoppedPrev = true
		if err := r.hook(ctx, r.prev, "stop", r.prevInfo.Hooks.Stop); err != nil {
			return err
		}
	}
	r.touched = true
	if err := r.hook(ctx, req.Release, "before_install", r.hooks.BeforeInstall); err != nil {
		return err
	}
	r.switched = true
	if err := r.h.Switch(ctx, req.Release); err != nil {
		return err
	}
	r.log.Printf("current -> releases/%s", req.Release)
	for _, step := range []struct{ name, cmd string }{
		{"after_install", r.hooks.AfterInstall},
		{"start", r.hooks.Start},
		{"validate", r.hooks.Validate},
	} {
		if err := r.hook(ctx, req.Release, step.name, step.cmd); err != nil {
			return err
		}
	}
	if !req.Health.enabled() {
		r.log.Printf("no health check configured")
	} else if err := r.health.wait(ctx, r.log); err != nil {
		return err
	}
	if err := r.report(PhaseLive, ""); err != nil {
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

// runHealthCommand runs the health command in the new release's directory.
func (r *rollout) runHealthCommand(ctx context.Context, command string, timeout time.Duration, log io.Writer) error {
	return r.h.Run(ctx, r.req.Release, "health", command, r.env, timeout, log)
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
// Progress errors cannot stop it; they are logged.
func (r *rollout) rollback(ctx context.Context, reason error) {
	ctx = context.WithoutCancel(ctx)
	r.outcome.Status = StatusFailed
	r.outcome.Error = reason.Error()
	if !r.touched && !r.stoppedPrev {
		if r.phase == PhaseLive {
			// Skipped: it ran the release before this deploy, and still does.
			r.outcome.Status = StatusRolledBack
			r.failure = reason
			r.log.Printf("nothing to roll back: release %s was here before this deploy", r.req.Release)
			r.reportQuietly(PhaseRolledBack, reason.Error())
			return
		}
		r.failure = reason
		r.log.Printf("deploy failed before changing anything: %v", reason)
		if r.phase != "" && r.phase != PhasePending {
			r.reportQuietly(PhaseRolledBack, reason.Error())
		}
		return
	}
	r.reportQuietly(PhaseRollingBack, reason.Error())
	r.log.Printf("rolling back to %s: %v", orNone(r.prev), reason)
	if r.hooks.Stop != "" && r.touched {
		// Best effort: the new release may never have started.
		r.hook(ctx, r.req.Release, "stop", r.hooks.Stop)
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
	if r.stoppedPrev && r.stored != nil && r.prevInfo.Hooks.Stop != "" {
		// An interrupted rollback may have been cut off in (or after)
		// prev's start: its app would hold the port the start below needs.
		// Best effort, as its stop is meant to be idempotent.
		r.hook(ctx, r.prev, "stop", r.prevInfo.Hooks.Stop)
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
		r.reportQuietly(PhaseFailed, r.outcome.Error)
		return
	}
	r.outcome.Status = StatusRolledBack
	if r.prev == "" {
		r.failure = fmt.Errorf("%w; rolled back (no previous release)", reason)
	} else {
		r.failure = fmt.Errorf("%w; rolled back to release %s", reason, r.prev)
	}
	r.log.Printf("rolled back to %s", orNone(r.prev))
	r.reportQuietly(PhaseRolledBack, reason.Error())
}

// reportQuietly reports a phase of a rollback, which goes on regardless.
func (r *rollout) reportQuietly(phase, why string) {
	if err := r.report(phase, why); err != nil {
		r.log.Printf("warning: recording phase %s: %v", phase, err)
	}
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
