// Package runner runs the build steps of a stage (SPEC §4) as local processes:
// one `/bin/sh -e -c` per step, in the checkout, with a clean environment, its
// output streamed into the stage log, and nothing of it left running after.
//
// # Containment
//
// Each step runs in its own process group, and when the step ends (success,
// failure, timeout or cancel) the whole group gets SIGKILL. Processes that left
// the group (setsid, setpgid) are found another way: New makes the server a
// child subreaper, so when a step's shell exits its orphaned descendants are
// re-parented to the server instead of to init. After each step the runner
// lists the server's own children (/proc/self/task/*/children) and claims those
// that came from the step: same process group, the step's random
// GREENLIGHT_STEP_ID in /proc/PID/environ, or an open descriptor on the step's
// output pipe. A claimed process and its whole subtree are stopped (SIGSTOP, so
// nothing forks while it is listed), killed and reaped; this repeats until no
// child of the server belongs to the step. A descendant that left the session,
// cleared its environment and closed its output at once is not found without
// a sandbox.
//
// With bwrap none of that is needed. A Run starts one sandbox (its own PID
// namespace, --unshare-pid --die-with-parent) holding an executor: this same
// program, re-executed in a hidden mode (RunExecutorIfRequested, executor.go)
// that takes step requests over a pipe, runs each step's shell and, when the
// shell exits, kills every other process of the namespace and reaps it
// before it reports the step's end (protocol.go, sandbox.go). Setting up the
// namespaces once per stage rather than once per step is the point: it costs
// milliseconds. Timeouts and cancel ask the executor to signal the step;
// when it does not answer in time, the runner kills bwrap, and the namespace
// dies with it. A program that did not call RunExecutorIfRequested gets one
// bwrap per step instead, whose namespace init the runner kills when the
// step ends.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Sandbox modes of Config.Sandbox.
const (
	SandboxAuto  = "auto"  // bwrap when it is on PATH and works, otherwise none (logged as an error)
	SandboxBwrap = "bwrap" // bwrap or New fails
	SandboxNone  = "none"  // plain processes: no filesystem isolation
)

const (
	killGrace = 3 * time.Second // between SIGTERM and SIGKILL on timeout or cancel
	waitDelay = 2 * time.Second // how long output may still flow after the step is killed
	copyBuf   = 256 << 10       // one read buffer per Run, whatever the output volume
	pipeSize  = 1 << 20         // fewer context switches when a step floods its output
)

// Config configures a Runner.
type Config struct {
	Sandbox string // SandboxAuto (default), SandboxBwrap or SandboxNone
	// Hide lists what steps must not read: directories (the server's data
	// dir, its config dir) get an empty tmpfs over them in bwrap, files (ssh
	// keys, known_hosts) an unreadable /dev/null bound over them. Without
	// bwrap nothing is hidden, which is why pull-request builds need it.
	Hide []string
	Path string // PATH given to steps (default: the server's PATH)
	Log  *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Sandbox == "" {
		c.Sandbox = SandboxAuto
	}
	if c.Path == "" {
		c.Path = os.Getenv("PATH")
	}
	if c.Path == "" {
		c.Path = "/usr/local/bin:/usr/bin:/bin"
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	switch c.Sandbox {
	case SandboxAuto, SandboxBwrap, SandboxNone:
	default:
		return greenlight.Errorf(greenlight.EINVALID, "runner: unknown sandbox %q (want auto, bwrap or none)", c.Sandbox)
	}
	for _, h := range c.Hide {
		if h == "" {
			return greenlight.Errorf(greenlight.EINVALID, "runner: empty path in hide list")
		}
	}
	return nil
}

// Runner runs jobs. It is safe for concurrent use: each Run is independent.
type Runner struct {
	bwrap string   // path of bwrap; "" when steps run without a sandbox
	exec  bool     // this program can run as the executor: one bwrap per Run, not per step
	hide  []string // absolute, symlinks resolved when they exist
	path  string
	log   *slog.Logger
}

// New checks the configuration and picks the sandbox; without one it makes
// the server a child subreaper (so it can reap what steps leave behind).
func New(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Runner{path: cfg.Path, log: cfg.Log}
	for _, h := range cfg.Hide {
		abs, err := realPath(h)
		if err != nil {
			return nil, fmt.Errorf("runner: hide %s: %w", h, err)
		}
		r.hide = append(r.hide, abs)
	}
	if cfg.Sandbox == SandboxNone {
		r.log.Warn("build sandbox disabled: builds are NOT isolated from the server's files")
		return r, r.subreap()
	}
	bw, err := findBwrap()
	switch {
	case err == nil:
		r.bwrap = bw
		r.exec = canExecute(r.log)
	case cfg.Sandbox == SandboxBwrap:
		return nil, greenlight.Errorf(greenlight.EINVALID, "runner: sandbox bwrap: %v", err)
	default:
		r.log.Error("bwrap unavailable: builds are NOT isolated; install bubblewrap", "err", err)
		return r, r.subreap()
	}
	return r, nil
}

// subreap makes the server a child subreaper, so that what a step leaves
// behind re-parents to it and can be killed. Only without bwrap: its pid
// namespace already contains steps, and a subreaper server would also inherit
// the long-running apps that deploy hooks start.
func (r *Runner) subreap() error {
	if err := becomeSubreaper(); err != nil {
		return fmt.Errorf("runner: become child subreaper: %w", err)
	}
	return nil
}

// Isolated reports whether steps run inside bwrap.
func (r *Runner) Isolated() bool { return r.bwrap != "" }

// Step is one shell command of a build stage.
type Step struct {
	Name    string
	Run     string
	Timeout time.Duration // 0: only the stage's deadline (ctx) applies
	Env     map[string]string
}

// Job is a build stage's steps and where they run.
type Job struct {
	Workspace string            // the checkout; steps run here (cwd), writable
	Cache     string            // optional dir kept between runs (writable in the sandbox), exported as XDG_CACHE_HOME
	Env       map[string]string // build file env + GREENLIGHT_* vars (the caller fills these)
	// Secrets are more variables, whose values (MinMaskLen bytes or more) are
	// replaced by *** wherever they appear in the log.
	Secrets map[string]string
	Steps   []Step
	Log     io.Writer // the stage log; output is written as it comes, from one goroutine at a time
}

// Run runs the job's steps in order and stops at the first one that fails,
// returning its *StepError. ctx is the stage: its deadline or cancellation
// ends the running step the same way a step timeout does. Bad input (a
// missing workspace, an invalid env name) is an EINVALID *greenlight.Error.
func (r *Runner) Run(ctx context.Context, job Job) error {
	if job.Workspace == "" {
		return greenlight.Errorf(greenlight.EINVALID, "runner: no workspace")
	}
	ws, err := realPath(job.Workspace)
	if err != nil {
		return greenlight.Errorf(greenlight.EINVALID, "runner: workspace %q: %v", job.Workspace, err)
	}
	if fi, err := os.Stat(ws); errors.Is(err, fs.ErrNotExist) {
		return greenlight.Errorf(greenlight.EINVALID, "runner: workspace %q does not exist", job.Workspace)
	} else if err != nil || !fi.IsDir() {
		return greenlight.Errorf(greenlight.EINVALID, "runner: workspace %q is not a directory", job.Workspace)
	}
	base := map[string]string{
		"PATH":   r.path,
		"HOME":   filepath.Join(ws, ".greenlight", "home"),
		"TMPDIR": filepath.Join(ws, ".greenlight", "tmp"),
		"LANG":   "C.UTF-8",
	}
	for _, d := range []string{base["HOME"], base["TMPDIR"]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("runner: prepare workspace: %w", err)
		}
	}
	cache := ""
	if job.Cache != "" {
		if err := os.MkdirAll(job.Cache, 0o755); err != nil {
			return fmt.Errorf("runner: prepare cache: %w", err)
		}
		if cache, err = realPath(job.Cache); err != nil {
			return fmt.Errorf("runner: prepare cache: %w", err)
		}
		base["XDG_CACHE_HOME"] = cache
	}
	if err := checkEnv(job.Env); err != nil {
		return err
	}
	if err := checkEnv(job.Secrets); err != nil {
		return err
	}
	for _, st := range job.Steps {
		if err := checkEnv(st.Env); err != nil {
			return fmt.Errorf("step %q: %w", st.Name, err)
		}
	}
	out := job.Log
	if out == nil {
		out = io.Discard
	}
	if len(job.Secrets) > 0 {
		values := make([]string, 0, len(job.Secrets))
		for _, v := range job.Secrets {
			values = append(values, v)
		}
		var flush func() error
		out, flush = newMasker(out, values)
		defer flush()
	}
	buf := make([]byte, copyBuf)
	var sb *sandbox
	defer func() {
		if sb != nil {
			sb.close()
		}
	}()
	// Bare, or bwrap without the executor; a single step needs no executor
	// either: its own bwrap contains it as well and starts faster.
	perStep := !r.exec || len(job.Steps) == 1
	for i, st := range job.Steps {
		if st.Name == "" {
			st.Name = fmt.Sprintf("step %d", i+1)
		}
		if err := ctx.Err(); err != nil {
			return &StepError{Step: st.Name, ExitCode: -1, Cancelled: errors.Is(err, context.Canceled),
				TimedOut: errors.Is(err, context.DeadlineExceeded), Err: err}
		}
		sp := stepSpec{step: st, ws: ws, cache: cache, env: mergeEnv(base, job.Env, job.Secrets, st.Env), out: out, buf: buf}
		if !perStep && (sb == nil || sb.broken) {
			if sb != nil {
				sb.close()
			}
			if sb, err = r.startSandbox(ctx, ws, cache, buf); err != nil {
				r.log.Warn("build sandbox executor did not start: one bwrap per step", "err", err)
				perStep = true
			}
		}
		if perStep {
			err = r.runStep(ctx, sp)
		} else {
			err = sb.runStep(ctx, sp)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// canExecute reports whether this program can serve as the sandbox's
// executor: RunExecutorIfRequested was called first (see reexecReady), and
// its image can be opened for bwrap to execute.
func canExecute(log *slog.Logger) bool {
	if !reexecReady.Load() {
		return false
	}
	f, err := openSelf()
	if err != nil {
		log.Warn("own executable cannot be opened: one bwrap per build step", "err", err)
		return false
	}
	f.Close()
	return true
}

// openSelf opens the running program's image. bwrap executes it through
// the descriptor (/proc/self/fd/N), not by path: a binary under /tmp or
// the hidden data dir is invisible in the sandbox, and one replaced on disk
// since the server started would be another program.
func openSelf() (*os.File, error) { return os.Open("/proc/self/exe") }

// realPath makes p absolute and resolves its symlinks when it exists, so bwrap
// binds and the process's cwd agree on one path.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

// checkEnv refuses names and values that would corrupt the environment block.
func checkEnv(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return greenlight.Errorf(greenlight.EINVALID, "invalid env name %q", k)
		}
		if strings.ContainsRune(v, 0) {
			return greenlight.Errorf(greenlight.EINVALID, "env %s: value contains a NUL byte", k)
		}
	}
	return nil
}

// mergeEnv layers the environments, later ones winning, into a sorted list.
func mergeEnv(layers ...map[string]string) []string {
	m := make(map[string]string, 16)
	for _, l := range layers {
		for k, v := range l {
			m[k] = v
		}
	}
	env := make([]string, 0, len(m)+1)
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// findBwrap looks bwrap up on the server's PATH and checks that it can make a
// sandbox here (user namespaces may be disabled).
func findBwrap() (string, error) {
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		return "", fmt.Errorf("bwrap not found on PATH: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bw, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
		"--unshare-all", "--die-with-parent", "--new-session", "/bin/true")
	cmd.Env = []string{}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bwrap does not work here: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return bw, nil
}
