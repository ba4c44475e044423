// Package deploy installs a build's artifact on an environment's targets
// (SPEC §4, §9), directories on the server's machine (local.go) or on hosts
// reached over SSH (ssh*.go, one pooled connection per host): it unpacks the release beside the earlier ones, runs the
// release's lifecycle hooks, switches `current` atomically, checks health, and
// on a failure rolls the targets it changed back to the release that was
// live (a rolling deploy tolerates MaxFailed failed hosts, each rolled back
// alone).
//
// Per target, in order: unpack into releases/.tmp-<release>-XXXX and rename
// it to releases/<release> (with .greenlight-release.json: the release's
// hooks, run and commit); `stop` of the previous release; `before_install`;
// `current` switched (a symlink renamed over the old one); `after_install`;
// `start`; `validate`; the health check. A failure of any of them, or
// cancellation, rolls back: `stop` of the new release (best effort),
// `current` back to the previous release (or removed), and `start` of the
// previous release with its own stored hooks if its `stop` ran. The newest
// Request.Keep releases are kept (default 5).
//
// A hook is a shell command line, run as `/bin/sh -e -c HOOK` in the release
// directory: `deploy/start.sh` runs that file, which must be executable. Its
// environment is the server's PATH and LANG, HOME (the release directory, or
// the home of the target's `user:`), the target's env, and
// GREENLIGHT_RELEASE_DIR, GREENLIGHT_ENVIRONMENT, GREENLIGHT_RUN,
// GREENLIGHT_COMMIT, GREENLIGHT_PIPELINE; nothing else of the server's. On a
// local target it runs confined, or as the target's user (hookuser.go): it
// is the repository's code. It runs in its own session, so servers it starts in the background outlive
// both the hook and the Greenlight process. Its output is appended to
// .greenlight-<hook>.log in the release directory and copied to the stage
// log while it runs; a background server that keeps writing there (nohup
// does not redirect a non-terminal stdout) neither holds up the deploy nor
// dies of a closed pipe. A hook past its timeout is killed with its whole
// process group.
//
// A strategy (strategy*.go) orders these per-target steps across the
// environment: all-at-once, rolling batches, canary and linear steps (of
// hosts, or of traffic through a router: router*.go), and blue-green groups.
// Each target's phase is reported through Request.Progress so that a deploy
// cut off by a crash can be resumed (Request.Resume) or undone (Rollback).
// Blue-green leaves the old group running after the switch, so traffic can
// go back at once; Retire runs its `stop` hook later.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/artifact"
	"github.com/greenlight-cd/greenlight/sandbox"
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
	Keep        int           // releases kept per target; default 5
	HookTimeout time.Duration // per hook and per router command; default 5m
	Log         io.Writer     // the stage log: what happens, step by step, per target
	// Active is the blue-green group that serves traffic now; "" when none
	// does, and then the first group is the idle one.
	Active string

	// Progress, when set, is called (from any goroutine, one call at a
	// time) each time a target's phase changes, before the deploy goes on:
	// the caller stores it so that a deploy cut off by a crash can resume or
	// roll back. An error stops the deploy, which then rolls back.
	Progress func(TargetState) error
	// Resume holds the stored states of an earlier, interrupted attempt of
	// this same release: targets stored live that still run it and pass
	// health are not redone, and each target's Previous is the release to
	// roll back to (not what `current` says now, which may already be this
	// release).
	Resume []TargetState
}

// Result is what a deploy did on each target it touched, in the order of
// Request.Targets (in blue-green, the idle group's targets), and whether it
// rolled any of them back.
type Result struct {
	Targets    []greenlight.TargetOutcome
	RolledBack bool
	// Active is the blue-green group serving traffic after the deploy: the
	// deployed group on success, Request.Active otherwise.
	Active string
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
	log     *slog.Logger
	base    []string // the server's PATH, HOME, LANG: all hooks get of its environment
	now     greenlight.Now
	unpack  func(archive, wantSHA256, dst string) error
	hide    []string // what hooks of local targets must not read (Config.Hide)
	sandbox string   // Config.Sandbox

	bwrapOnce sync.Once
	tools     sandbox.Tools // bwrap (and setpriv, for root) once found and checked; no Bwrap when hooks are not confined
}

// Config is how a Deployer runs the hooks of local targets (hookuser.go).
type Config struct {
	Log *slog.Logger // nil: discard
	// Hide lists what hooks of local targets must not read: the server's
	// data directory, its configuration's directory, key files, the SSH
	// agent's socket (the same list as the build runner's). Each must be an
	// absolute path; missing ones are skipped.
	Hide []string
	// Sandbox is SandboxAuto (default: bwrap when it works here) or
	// SandboxNone.
	Sandbox string
}

// NewWith returns a Deployer configured by cfg, or an EINVALID error.
func NewWith(cfg Config) (*Deployer, error) {
	d := New(cfg.Log)
	switch cfg.Sandbox {
	case "", SandboxAuto:
		d.sandbox = SandboxAuto
	case SandboxNone:
		d.sandbox = SandboxNone
	default:
		return nil, greenlight.Errorf(greenlight.EINVALID, "deploy: unknown hook sandbox %q (want auto or none)", cfg.Sandbox)
	}
	for _, h := range cfg.Hide {
		if !filepath.IsAbs(h) {
			return nil, greenlight.Errorf(greenlight.EINVALID, "deploy: hidden path %q is not absolute", h)
		}
		real, err := sandbox.RealPath(h)
		if err != nil {
			return nil, fmt.Errorf("deploy: hide %s: %w", h, err)
		}
		d.hide = append(d.hide, real)
	}
	d.bwrapPath() // now, so that a missing sandbox is logged at startup
	return d, nil
}

// New returns a Deployer that logs to log, with nothing hidden from hooks
// beyond what every sandbox hides: NewWith(Config{Log: log}).
func New(log *slog.Logger) *Deployer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := []string{"PATH=" + envOr("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG=" + envOr("LANG", "C.UTF-8")}
	if home := os.Getenv("HOME"); home != "" {
		base = append(base, "HOME="+home)
	}
	return &Deployer{log: log, base: base, now: time.Now, unpack: artifact.Unpack, sandbox: SandboxAuto}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Deploy installs req.Release on the targets as req.Strategy says and
// returns nil once they are live and healthy (in rolling, failed hosts
// within MaxFailed are rolled back and reported in Result, and Deploy still
// succeeds). Otherwise its error says what failed and whether the targets
// were rolled back, e.g. `hook start failed: exit status 1; rolled back to
// release 11`; Result tells each target's outcome. A bad request (a release
// name, a digest mismatch, a health URL naming an env the target lacks) is a
// *greenlight.Error of code EINVALID, returned before any target is touched.
// Cancelling ctx rolls back what was changed, router weights included.
func (d *Deployer) Deploy(ctx context.Context, req Request) (Result, error) {
	if err := d.prepare(&req, true); err != nil {
		return Result{}, err
	}
	dep, err := d.newDeployment(&req)
	if err != nil {
		return Result{}, err
	}
	defer dep.close()
	if err := verifyDigest(req.Archive, req.Digest); err != nil {
		return Result{}, err
	}

	start := time.Now()
	for _, r := range dep.rs {
		if r.stored == nil {
			if err := r.report(PhasePending, ""); err != nil {
				return Result{}, fmt.Errorf("record progress: %w", err)
			}
		}
	}
	err = dep.run(ctx)
	if err != nil && len(req.Resume) > 0 {
		err = errors.Join(err, dep.undoNotReached(ctx))
	}
	res := dep.result()
	if err == nil {
		for _, r := range dep.rs {
			if r.outcome.Status == StatusLive {
				r.prune(ctx, req.Keep)
			}
		}
	}
	d.log.Info("deploy", "pipeline", req.Pipeline, "environment", req.Environment, "run", req.RunID,
		"release", req.Release, "strategy", req.Strategy.Type, "targets", len(dep.rs), "rolled_back", res.RolledBack,
		"duration", time.Since(start).Round(time.Millisecond), "ok", err == nil) // the caller reports err
	return res, err
}

// prepare checks req and fills its defaults. Nothing is touched yet. A
// rollback needs no archive.
func (d *Deployer) prepare(req *Request, install bool) error {
	if err := validRelease(req.Release); err != nil {
		return err
	}
	if install && req.Archive == "" {
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
	if req.Parallel <= 0 {
		req.Parallel = 10
	}
	if req.Keep <= 0 {
		req.Keep = 5
	}
	h, err := req.Health.check()
	if err != nil {
		return err
	}
	req.Health = h
	s, err := req.Strategy.check(req)
	if err != nil {
		return err
	}
	req.Strategy = s
	if req.Router != nil {
		rt, err := req.Router.check()
		if err != nil {
			return err
		}
		req.Router = &rt
	}
	return nil
}

// serverHost is a host name or an IP address, as a router's server.
var serverHost = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.:-]*$`)

// newRollout prepares one target's part of the deploy; the health URL and
// the router's server address are resolved here so a bad template fails
// before any target changes.
func (d *Deployer) newRollout(req *Request, h host, t Target, log *lineWriter, track *tracker) (*rollout, error) {
	r := &rollout{req: req, h: h, group: t.Group, log: log, now: d.now, track: track, hooks: req.Hooks}
	r.health = checker{h: req.Health, run: r.runHealthCommand}
	if req.Health.URL != "" {
		u, err := healthURL(req.Health.URL, h.Addr(), t.Env)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", h.Name(), err)
		}
		r.health.url = u
	}
	if port, ok := t.Env["PORT"]; ok && req.Router != nil {
		// It goes into the router's configuration: a host:port and nothing else.
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || !serverHost.MatchString(h.Addr()) {
			return nil, greenlight.Errorf(greenlight.EINVALID, "target %s: %s:%s is not a host and port", h.Name(), h.Addr(), port)
		}
		r.server = net.JoinHostPort(h.Addr(), port)
	}
	r.env = map[string]string{}
	for k, v := range t.Env {
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
