// Package deploy installs a build's artifact on an environment's targets
// (SPEC §4, §9): it unpacks the release beside the earlier ones, runs the
// release's lifecycle hooks, switches `current` atomically, checks health, and
// on any failure rolls every target back to the release that was live.
//
// Per target, in order: unpack into releases/.tmp-<release>-XXXX and rename
// it to releases/<release> (with .greenlight-release.json: the release's
// hooks, run and commit); `stop` of the previous release; `before_install`;
// `current` switched (a symlink renamed over the old one); `after_install`;
// `start`; `validate`; the health check. A failure of any of them, or
// cancellation, rolls back: `stop` of the new release (best effort),
// `current` back to the previous release (or removed), and `start` of the
// previous release with its own stored hooks if its `stop` ran. The newest
// five releases are kept.
//
// A hook is a shell command line, run as `/bin/sh -e -c HOOK` in the release
// directory: `deploy/start.sh` runs that file, which must be executable. Its
// environment is the server's PATH, HOME and LANG, the target's env, and
// GREENLIGHT_RELEASE_DIR, GREENLIGHT_ENVIRONMENT, GREENLIGHT_RUN,
// GREENLIGHT_COMMIT, GREENLIGHT_PIPELINE; nothing else of the server's. It
// runs in its own session, so servers it starts in the background outlive
// both the hook and the Greenlight process. Its output is appended to
// .greenlight-<hook>.log in the release directory and copied to the stage
// log while it runs; a background server that keeps writing there (nohup
// does not redirect a non-terminal stdout) neither holds up the deploy nor
// dies of a closed pipe. A hook past its timeout is killed with its whole
// process group.
//
// Today a target is a directory on the server's machine and the strategy is
// all-at-once; the seams for SSH hosts (host) and for rolling, canary, linear
// and blue-green (strategy) are in host.go and strategy.go.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/artifact"
)

// Request is one deploy of one release to one environment.
type Request struct {
	Pipeline, Environment string
	RunID                 int64
	Commit                string
	// Release names the release directory (usually the run id); it must
	// match ^[A-Za-z0-9._-]+$ and not start with a dot.
	Release string
	Archive string // path of the artifact archive (tar.gz)
	Digest  string // its expected SHA-256 in hex, verified before any target is touched
	// Hooks are this release's hooks. They are stored with the release, so
	// a later rollback runs the hooks of the release it returns to.
	Hooks       greenlight.Hooks
	Targets     []Target
	Strategy    Strategy
	Router      *Router // nil: no traffic router
	Health      Health
	Parallel    int           // most targets changed at once; default 10
	HookTimeout time.Duration // per hook; default 5m
	Log         io.Writer     // the stage log: what happens, step by step, per target

	// Progress, when set, is called (from any goroutine, one call at a
	// time) each time a target's state changes, before the deploy goes on:
	// the caller stores it so that a deploy cut off by a crash can resume or
	// roll back. An error stops the deploy, which then rolls back.
	Progress func(TargetState) error
	// Resume holds the stored states of an earlier, interrupted attempt of
	// this same release: targets already live are not redone, and each
	// target's Previous is the release to roll back to (not what `current`
	// says now, which may already be this release).
	Resume []TargetState
}

// Result is what a deploy did on each target, in the order of
// Request.Targets, and whether it rolled any of them back.
type Result struct {
	Targets    []greenlight.TargetOutcome
	RolledBack bool
}

// Target outcome statuses (SPEC §9): the release statuses, per target.
const (
	StatusLive       = string(greenlight.ReleaseLive)
	StatusFailed     = string(greenlight.ReleaseFailed)
	StatusRolledBack = string(greenlight.ReleaseRolledBack)
)

// Deployer runs deploys. It is safe for concurrent use on different
// environments; the caller runs one deploy at a time per environment.
type Deployer struct {
	log    *slog.Logger
	base   []string // the server's PATH, HOME, LANG: all hooks get of its environment
	keep   int      // releases kept per target
	now    greenlight.Now
	unpack func(archive, wantSHA256, dst string) error
}

// New returns a Deployer that logs to log.
func New(log *slog.Logger) *Deployer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := []string{"PATH=" + envOr("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG=" + envOr("LANG", "C.UTF-8")}
	if home := os.Getenv("HOME"); home != "" {
		base = append(base, "HOME="+home)
	}
	return &Deployer{log: log, base: base, keep: 5, now: time.Now, unpack: artifact.Unpack}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Deploy installs req.Release on every target and returns nil once all are
// live and healthy. Otherwise its error says what failed and whether the
// targets were rolled back, e.g. `hook start failed: exit status 1; rolled
// back to release 11`; Result tells each target's outcome. A bad request (a
// release name, a digest mismatch, a health URL naming an env the target
// lacks) is a *greenlight.Error of code EINVALID, returned before any target
// is touched. Cancelling ctx rolls back what was changed.
func (d *Deployer) Deploy(ctx context.Context, req Request) (Result, error) {
	if err := d.prepare(&req); err != nil {
		return Result{}, err
	}
	stage := newStageLog(req.Log)
	conns := newConnPool()
	defer conns.Close()
	rs := make([]*rollout, len(req.Targets))
	for i, t := range req.Targets {
		h, err := d.hostFor(t, conns)
		if err != nil {
			return Result{}, err
		}
		r, err := d.newRollout(&req, h, t.Env, stage.target(h.Name()))
		if err != nil {
			return Result{}, err
		}
		rs[i] = r
	}
	if err := verifyDigest(req.Archive, req.Digest); err != nil {
		return Result{}, err
	}

	start := time.Now()
	allAtOnce(ctx, rs)

	var res Result
	var errs []error
	for _, r := range rs {
		res.Targets = append(res.Targets, r.outcome)
		if r.outcome.Status == StatusRolledBack {
			res.RolledBack = true
		}
		if r.failure != nil && len(rs) > 1 {
			errs = append(errs, fmt.Errorf("target %s: %w", r.h.Name(), r.failure))
		} else if r.failure != nil {
			errs = append(errs, r.failure)
		}
	}
	if len(errs) == 0 {
		for _, r := range rs {
			r.prune(ctx, d.keep)
		}
	}
	err := errors.Join(errs...)
	d.log.Info("deploy", "pipeline", req.Pipeline, "environment", req.Environment, "run", req.RunID,
		"release", req.Release, "targets", len(rs), "rolled_back", res.RolledBack,
		"duration", time.Since(start).Round(time.Millisecond), "ok", err == nil) // the caller reports err
	return res, err
}

// prepare checks req and fills its defaults. Nothing is touched yet.
func (d *Deployer) prepare(req *Request) error {
	if err := validRelease(req.Release); err != nil {
		return err
	}
	if req.Archive == "" {
		return greenlight.Errorf(greenlight.EINVALID, "deploy: no artifact archive")
	}
	if len(req.Targets) == 0 {
		return greenlight.Errorf(greenlight.EINVALID, "deploy: environment %q has no targets", req.Environment)
	}
	seen := map[string]bool{}
	targets := make([]Target, len(req.Targets))
	for i, t := range req.Targets {
		t, err := t.checked()
		if err != nil {
			return err
		}
		if seen[t.Name()] {
			return greenlight.Errorf(greenlight.EINVALID, "deploy: target %s listed twice", t.Name())
		}
		seen[t.Name()] = true
		targets[i] = t
	}
	req.Targets = targets
	req.Digest = strings.ToLower(req.Digest)
	if req.HookTimeout <= 0 {
		req.HookTimeout = 5 * time.Minute
	}
	req.Health = req.Health.withDefaults()
	return nil
}

// newRollout prepares one target's part of the deploy; the health URL is
// resolved here so a bad template fails before any target changes.
func (d *Deployer) newRollout(req *Request, h host, targetEnv map[string]string, log *lineWriter) (*rollout, error) {
	r := &rollout{req: req, h: h, log: log, now: d.now}
	if req.Health.URL != "" {
		u, err := healthURL(req.Health.URL, h.Addr(), targetEnv)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", h.Name(), err)
		}
		r.health = u
	}
	r.env = map[string]string{}
	for k, v := range targetEnv {
		r.env[k] = v
	}
	// Set last: a target's env cannot pass for another run or environment.
	r.env["GREENLIGHT_PIPELINE"] = req.Pipeline
	r.env["GREENLIGHT_ENVIRONMENT"] = req.Environment
	r.env["GREENLIGHT_RUN"] = fmt.Sprint(req.RunID)
	r.env["GREENLIGHT_COMMIT"] = req.Commit
	r.outcome = greenlight.TargetOutcome{Target: h.Name(), Status: StatusFailed}
	return r, nil
}
