package deploy

import (
	"context"
	"io"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// host is one target as the deploy flow sees it: the per-host operations that
// a rollout sequences and a strategy drives. Local directories implement it
// (local.go), and SSH hosts the same operations remotely (ssh.go).
//
// Contract:
//   - A host is used by one goroutine at a time; different hosts run in
//     parallel. Only one deploy touches a target at a time (the orchestrator
//     runs one deploy per environment).
//   - Methods that wait take ctx first and stop when it is done.
//   - Errors carry lowercase context; none of them panics on a bad release.
//   - Release names are already validated (validRelease) when they reach a host.
type host interface {
	// Name identifies the target in logs and outcomes.
	Name() string
	// Addr is what {host} becomes in a health URL.
	Addr() string
	// Current returns the release `current` points to, "" if none.
	Current(ctx context.Context) (string, error)
	// Install puts the verified archive into releases/<info.Release> with
	// info stored beside the files, replacing a leftover of an interrupted
	// attempt. Installing the release that is already current keeps its
	// directory (same run, same artifact) and only refreshes info.
	Install(ctx context.Context, archive string, info releaseInfo) error
	// Info returns what Install stored with a release. A release installed
	// by something else has no info: ok is false and err nil.
	Info(ctx context.Context, release string) (info releaseInfo, ok bool, err error)
	// Run runs one hook command in the release's directory with env (plus the
	// host's base environment and GREENLIGHT_RELEASE_DIR), writing its output
	// to log. It returns when the hook's shell exits, not when processes it
	// started in the background do; those keep running. A hook is the
	// repository's code: a local host runs it confined or as the target's
	// user (hookuser.go), able to write in that release's directory and
	// nowhere else of the target; an SSH host runs it as its login user.
	// A health check's command runs the same way: the server's
	// configuration names it, but what it runs (./bin/selfcheck) is
	// usually the release's.
	Run(ctx context.Context, release, hook, command string, env map[string]string, timeout time.Duration, log io.Writer) error
	// Reap kills a hook that an earlier server process started here and
	// was still running when that process died (a crash, kill -9): its
	// process group, as noted by Run while the hook runs, and only while the
	// hook's own shell still runs (a later process reusing the pid is left
	// alone). What such a hook started in the background and left running
	// is for the release's `stop` hook. It is a no-op when no hook was cut
	// off, and says on log what it killed.
	Reap(ctx context.Context, log io.Writer) error
	// Switch points `current` at releases/<release> atomically; "" removes it.
	Switch(ctx context.Context, release string) error
	// Prune removes all but the newest keep releases, never one in protect,
	// and leftovers of interrupted installs.
	Prune(ctx context.Context, keep int, protect ...string) error
}

// releaseInfo is stored with each release so that a later deploy, rolling
// back, knows the hooks of the release it returns to, not those of the one
// that failed.
type releaseInfo struct {
	Release     string           `json:"release"`
	Pipeline    string           `json:"pipeline"`
	Environment string           `json:"environment"`
	RunID       int64            `json:"run"`
	Commit      string           `json:"commit"`
	Artifact    string           `json:"artifact"`
	Hooks       greenlight.Hooks `json:"hooks"`
	InstalledAt time.Time        `json:"installed_at"`
}
