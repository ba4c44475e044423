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
//
// # Privilege and limits
//
// The boundary itself is package sandbox's (see its doc). When the server is
// root, steps run as an unprivileged uid of the job's owner (Config.User
// overrides it), each in a user namespace of its own that maps only that
// uid, so the process limit counts one build's processes; the executor
// stays root inside, where no step can trace it or take its pipes. Limits
// (Limits: processes, memory, file size) are set by each step's own shell
// before its script (shlimits.go), never on the executor; the disk limit is
// watched from outside and the log cut as it is written (limits.go).
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
	"syscall"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/sandbox"
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
	// User is who steps run as when the server runs as root: a user name or
	// uid. Empty: an unprivileged uid of the pipeline's own (sandbox.Derived),
	// so builds of different pipelines cannot touch each other's files or
	// processes. Ignored when the server is not root: steps then run as the
	// server's uid, without capabilities, in their own user namespace.
	User string
	// Instance tells this installation's build uids from another's on the
	// same machine (the data directory; "" is fine for one installation).
	Instance string
	Path     string // PATH given to steps (default: the server's PATH)
	Log      *slog.Logger
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
	bwrap    string       // path of bwrap; "" when steps run without a sandbox
	setpriv  string       // path of setpriv, which drops to the build's uid inside bwrap; "" unless root
	exec     bool         // this program can run as the executor: one bwrap per Run, not per step
	shell    *shellLimits // how /bin/sh sets limits (probeShell); nil: prlimit does
	prlimit  string       // path of prlimit, which sets each step's limits when the shell cannot; "" then
	unshare  string       // path of unshare, which gives each step a user namespace of its own as root; "" otherwise
	hide     []string     // absolute, symlinks resolved when they exist
	user     *sandbox.Identity
	instance string
	path     string
	log      *slog.Logger
}

// New checks the configuration and picks the sandbox; without one it makes
// the server a child subreaper (so it can reap what steps leave behind).
func New(cfg Config) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Runner{path: cfg.Path, log: cfg.Log, instance: cfg.Instance}
	if cfg.User != "" && sandbox.Root() {
		id, err := sandbox.Lookup(cfg.User)
		if err != nil {
			return nil, greenlight.Errorf(greenlight.EINVALID, "runner: build user: %v", err)
		}
		if id.UID == 0 {
			return nil, greenlight.Errorf(greenlight.EINVALID, "runner: build user %s is root: builds must not run with root's rights", cfg.User)
		}
		r.user = &id
	}
	if sl, ok := probeShell(); ok {
		r.shell = &sl
	} else if p, err := exec.LookPath("prlimit"); err == nil {
		r.prlimit = p
	}
	if p, err := exec.LookPath("unshare"); err == nil && sandbox.Root() {
		r.unshare = p
	}
	for _, h := range cfg.Hide {
		abs, err := sandbox.RealPath(h)
		if err != nil {
			return nil, fmt.Errorf("runner: hide %s: %w", h, err)
		}
		r.hide = append(r.hide, abs)
	}
	if cfg.Sandbox == SandboxNone {
		r.log.Warn("build sandbox disabled: builds are NOT isolated from the server's files")
		return r, r.subreap()
	}
	probe := sandbox.Derived("build/probe")
	if r.user != nil {
		probe = *r.user
	}
	tools, err := sandbox.Find(probe)
	switch {
	case err == nil:
		r.bwrap, r.setpriv = tools.Bwrap, tools.Setpriv
		r.exec = canExecute(r.log)
		if r.prlimit == "" && r.shell == nil {
			r.log.Error("neither /bin/sh's ulimit nor prlimit can set limits here: build limits on processes, memory and file size do not apply")
		}
		if r.setpriv != "" && r.unshare == "" {
			r.log.Warn("unshare (util-linux) not found: concurrent builds of a pipeline share one process limit")
		}
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

// identity is who the steps of a job of owner run as: in bwrap started by
// root, the configured build user or one of the owner's own; the server
// itself otherwise (without bwrap builds are not isolated at all, and are
// logged as such).
func (r *Runner) identity(owner string) sandbox.Identity {
	switch {
	case r.setpriv == "":
		return sandbox.Self()
	case r.user != nil:
		return *r.user
	}
	return sandbox.Derived(r.instance + "\x00build\x00" + owner)
}

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
	Limits  Limits    // zero fields: DefaultLimits
	// Network is "" (the host's network) or "none" (only a loopback of the
	// sandbox's own; needs bwrap).
	Network string
	// Owner names whose code this is, for the uid steps run as when the
	// server is root (see Config.User): the pipeline, or the pipeline and
	// "pr" for a pull request's code.
	Owner string
}

// Network values of Job.
const (
	NetworkHost = ""
	NetworkNone = "none"
)

// Run runs the job's steps in order and stops at the first one that fails,
// returning its *StepError. ctx is the stage: its deadline or cancellation
// ends the running step the same way a step timeout does. Bad input (a
// missing workspace, an invalid env name) is an EINVALID *greenlight.Error.
func (r *Runner) Run(ctx context.Context, job Job) error {
	if job.Workspace == "" {
		return greenlight.Errorf(greenlight.EINVALID, "runner: no workspace")
	}
	ws, err := sandbox.RealPath(job.Workspace)
	if err != nil {
		return greenlight.Errorf(greenlight.EINVALID, "runner: workspace %q: %v", job.Workspace, err)
	}
	if fi, err := os.Stat(ws); errors.Is(err, fs.ErrNotExist) {
		return greenlight.Errorf(greenlight.EINVALID, "runner: workspace %q does not exist", job.Workspace)
	} else if err != nil || !fi.IsDir() {
		return greenlight.Errorf(greenlight.EINVALID, "runner: workspace %q is not a directory", job.Workspace)
	}
	switch job.Network {
	case NetworkHost:
	case NetworkNone:
		if r.bwrap == "" {
			return greenlight.Errorf(greenlight.EINVALID, "runner: network: none needs the bubblewrap sandbox, which is not available here")
		}
	default:
		return greenlight.Errorf(greenlight.EINVALID, "runner: unknown network %q", job.Network)
	}
	js := &jobSpec{ws: ws, id: r.identity(job.Owner), limits: job.Limits.withDefaults(), network: job.Network}
	js.rl = js.limits.rlimits(r.bwrap != "")
	js.unshare, js.prlimit, js.ulimit = r.stepPrefix(js.rl)
	js.userns = r.setpriv != ""
	base := map[string]string{
		"PATH":   r.path,
		"HOME":   filepath.Join(ws, ".greenlight", "home"),
		"TMPDIR": filepath.Join(ws, ".greenlight", "tmp"),
		"LANG":   "C.UTF-8",
	}
	if err := prepareWorkspace(ws); err != nil {
		return err
	}
	if job.Cache != "" {
		if err := os.MkdirAll(job.Cache, 0o700); err != nil {
			return fmt.Errorf("runner: prepare cache: %w", err)
		}
		if js.cache, err = sandbox.RealPath(job.Cache); err != nil {
			return fmt.Errorf("runner: prepare cache: %w", err)
		}
		base["XDG_CACHE_HOME"] = js.cache
	}
	if err := r.handOver(js); err != nil {
		return err
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
	log := job.Log
	if log == nil {
		log = io.Discard
	}
	// Step output is masked first, then cut to the limits: a cut never
	// splits a secret before the masker has seen it whole.
	js.cap = &logCap{w: log, max: js.limits.Log}
	var out io.Writer = js.cap
	if len(job.Secrets) > 0 {
		values := make([]string, 0, len(job.Secrets))
		for _, v := range job.Secrets {
			values = append(values, v)
		}
		var flush func() error
		out, flush = newMasker(out, values)
		defer flush()
	}

	// The disk limit is watched from outside: the stage ends with a
	// *DiskError as its cause once the workspace and cache outgrow it.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	dirs := []string{ws}
	if js.cache != "" {
		dirs = append(dirs, js.cache)
	}
	go watchDisk(ctx, dirs, js.limits.Disk, stop)

	buf := make([]byte, copyBuf)
	var sb *execBox
	defer func() {
		if sb != nil {
			sb.close()
		}
	}()
	// Bare, or bwrap without the executor; a single step needs no executor
	// either: its own bwrap contains it as well and starts faster, as long
	// as its shell or prlimit can set its limits (else only the executor can).
	perStep := !r.exec || len(job.Steps) == 1 && (r.shell != nil || r.prlimit != "")
	for i, st := range job.Steps {
		if st.Name == "" {
			st.Name = fmt.Sprintf("step %d", i+1)
		}
		if err := ctx.Err(); err != nil {
			return stoppedBefore(ctx, st.Name)
		}
		sp := stepSpec{jobSpec: js, step: st, env: mergeEnv(base, job.Env, job.Secrets, st.Env), out: out, buf: buf}
		if !perStep && (sb == nil || sb.broken) {
			if sb != nil {
				sb.close()
			}
			if sb, err = r.startSandbox(ctx, js, buf); err != nil {
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
			return withCause(ctx, err)
		}
	}
	return nil
}

// stepPrefix is how each step's shell starts. As root, the step gets a
// user namespace of its own, mapping only its uid: the process limit then
// counts the step's processes alone, not every process of that uid on the
// host (other builds of the pipeline). The executor makes it as it forks
// the shell; a step run without the executor goes through unshare. Then
// the limits are set on the step, never on the executor: by the shell's
// own ulimit builtin before the script (ulimit), or else by prlimit.
func (r *Runner) stepPrefix(rl []rlimit) (unshare, prlimit []string, ulimit string) {
	if r.setpriv != "" && r.unshare != "" {
		unshare = []string{r.unshare, "--user", "--map-current-user", "--"}
	}
	switch {
	case r.shell != nil:
		ulimit = r.shell.prefix(rl)
	case r.prlimit != "":
		prlimit = prlimitArgs(r.prlimit, rl)
	}
	return unshare, prlimit, ulimit
}

// stoppedBefore is the error of a step that did not start because the
// stage had already ended.
func stoppedBefore(ctx context.Context, step string) error {
	err := ctx.Err()
	return withCause(ctx, &StepError{Step: step, ExitCode: -1, Cancelled: errors.Is(err, context.Canceled),
		TimedOut: errors.Is(err, context.DeadlineExceeded), Err: err})
}

// withCause turns a step stopped by the disk watcher into a failure that
// says so: not a cancel, which would end the run as cancelled.
func withCause(ctx context.Context, err error) error {
	var de *DiskError
	var se *StepError
	if errors.As(context.Cause(ctx), &de) && errors.As(err, &se) {
		se.Cancelled, se.TimedOut, se.Err = false, false, de
	}
	return err
}

// prepareWorkspace makes the steps' HOME and TMPDIR in the checkout
// through os.Root: a committed .greenlight that is a link, or holds links,
// is never followed out of the workspace.
func prepareWorkspace(ws string) error {
	root, err := os.OpenRoot(ws)
	if err != nil {
		return fmt.Errorf("runner: prepare workspace: %w", err)
	}
	defer root.Close()
	if fi, err := root.Lstat(".greenlight"); err == nil && !fi.IsDir() {
		// The repository's own .greenlight file or link: the runner's
		// directory takes its place, as the build file says it would.
		if err := root.RemoveAll(".greenlight"); err != nil {
			return fmt.Errorf("runner: prepare workspace: %w", err)
		}
	}
	for _, d := range []string{".greenlight/home", ".greenlight/tmp"} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return greenlight.Errorf(greenlight.EINVALID, "runner: the checkout's %s cannot be made (a link out of the checkout?): %v", d, err)
		}
	}
	return nil
}

// handOver gives the workspace and cache to the uid the steps run as, when
// that is not the server's: they are the only places steps may write. (The
// directories above them that uid cannot pass are covered in the sandbox:
// sandbox.Cover.)
func (r *Runner) handOver(js *jobSpec) error {
	if js.id.Credential() == nil {
		return nil
	}
	for _, d := range []string{js.ws, js.cache} {
		if d == "" {
			continue
		}
		if owned(d, js.id) {
			continue // a cache handed over before
		}
		if err := sandbox.Chown(d, js.id); err != nil {
			return fmt.Errorf("runner: hand %s to uid %d: %w", d, js.id.UID, err)
		}
	}
	return nil
}

// owned reports whether dir already belongs to id (a workspace is new each
// time; a cache is handed over once).
func owned(dir string, id sandbox.Identity) bool {
	fi, err := os.Lstat(dir)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == id.UID && st.Gid == id.GID
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
