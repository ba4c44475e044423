// Package source reads application repositories with the git command-line
// tool: it keeps one bare mirror per repository, fetches into it, checks exact
// commits out into fresh workspaces (with their submodules if asked), and
// reads commits, changelogs, changed files and files.
//
// git runs as a separate process with a fixed environment and argument lists
// (never a shell), so neither a repository URL, a branch name nor the user's
// git configuration can make it run commands. A private repository's
// credentials (Options: an HTTPS token, an ssh deploy key) reach git through
// its environment only: never its arguments, a config file or the log, and
// they are stripped from its error messages.
package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Git is a cache of bare mirrors in one directory, one per repository URL,
// named by the SHA-256 of the URL (<dir>/<hex>.git, locked through
// <dir>/<hex>.lock). <dir>/home is git's HOME and <dir>/tmp holds clones in
// progress.
//
// All methods are safe for concurrent use, and several Git values, in one
// process or several, may share a directory. Fetches into one mirror are
// serialised by a per-repository lock (a mutex and flock); reads of a mirror
// (Commit, Changes, ReadFile, Checkout) run concurrently with each other but
// never during a fetch. Read methods fetch on their own when the commit is
// not mirrored yet. A mirror found corrupted is cloned again, with a
// warning in the log.
//
// Errors carry git's stderr and the operation. A commit, branch or file that
// does not exist is a *greenlight.Error with code ENOTFOUND; a malformed sha,
// branch or path is EINVALID.
type Git struct {
	dir string
	log *slog.Logger
	env []string

	mu    sync.Mutex
	locks map[string]*rwsem     // by mirror name
	repos map[string]repoConfig // by repository URL, from Configure
}

// New returns a Git keeping its mirrors under dir. A nil log discards. It
// removes clones a crash left half-made in <dir>/tmp (never one another
// process is making).
func New(dir string, log *slog.Logger) *Git {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	g := &Git{
		dir:   dir,
		log:   log,
		env:   gitEnv(filepath.Join(dir, "home")),
		locks: make(map[string]*rwsem),
		repos: make(map[string]repoConfig),
	}
	g.removeStaleClones()
	return g
}

// gitEnv is the environment git runs with, to which a repository's access
// (options.go) adds credentials. HOME points into the cache so the server
// user's ~/.gitconfig is not read (credentials come from Configure);
// GIT_ALLOW_PROTOCOL shuts out ext:: and fd:: URLs, which run commands.
func gitEnv(home string) []string {
	env := []string{
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ALLOW_PROTOCOL=file:git:http:https:ssh",
		"GIT_CONFIG_NOSYSTEM=1",
		"HOME=" + home,
		"LANG=C",
		"LC_ALL=C",
		"PATH=" + os.Getenv("PATH"),
	}
	// An ssh agent is how many servers hold deploy keys; passing its socket
	// gives git no way to run anything.
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		env = append(env, "SSH_AUTH_SOCK="+sock)
	}
	return env
}

// mirror is one repository's bare mirror, its locks and options.
type mirror struct {
	repo     string
	name     string // hex SHA-256 of repo
	dir      string
	lockPath string
	mu       *rwsem
	repoConfig
}

func (g *Git) mirror(repo string) mirror {
	sum := sha256.Sum256([]byte(repo))
	name := hex.EncodeToString(sum[:])
	g.mu.Lock()
	mu, ok := g.locks[name]
	if !ok {
		mu = newRWSem()
		g.locks[name] = mu
	}
	g.mu.Unlock()
	return mirror{repo: repo, name: name, dir: filepath.Join(g.dir, name+".git"),
		lockPath: filepath.Join(g.dir, name+".lock"), mu: mu, repoConfig: g.config(repo)}
}

// run runs git with args and returns its stdout. The error holds git's
// trimmed stderr. A cancelled ctx kills git's whole process group (git runs
// helpers such as ssh and upload-pack as children).
func (g *Git) run(ctx context.Context, args ...string) ([]byte, error) {
	return g.exec(ctx, call{}, args...)
}

func (g *Git) runIn(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	return g.exec(ctx, call{stdin: stdin}, args...)
}

// call is what one git run needs besides its arguments.
type call struct {
	access access // credentials, for runs that reach the remote
	stdin  []byte
	maxOut int // stdout beyond this many bytes fails the run; 0: no limit
}

// errTooMuchOutput is the error of a run whose stdout passed call.maxOut.
var errTooMuchOutput = errors.New("git: output too large")

func (g *Git) exec(ctx context.Context, c call, args ...string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Join(g.dir, "home"), 0o700); err != nil {
		return nil, fmt.Errorf("git home: %w", err)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(g.env[:len(g.env):len(g.env)], c.access.env...)
	cmd.Dir = g.dir
	// A new session: no controlling terminal for ssh to prompt on, and a
	// process group to kill.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if c.stdin != nil {
		cmd.Stdin = bytes.NewReader(c.stdin)
	}
	var stdout, stderr bytes.Buffer
	out := &limitedBuffer{max: c.maxOut, buf: &stdout, strict: true}
	cmd.Stdout = out
	if c.maxOut == 0 {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &limitedBuffer{max: 4096, buf: &stderr}
	start := time.Now()
	err := cmd.Run()
	g.log.Debug("git", "args", redactArgs(args), "took", time.Since(start), "err", err)
	if out.over {
		return nil, errTooMuchOutput
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("git: %w", ctxErr)
		}
		msg := strings.TrimSpace(c.access.redact(stderr.String()))
		if msg == "" {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s", err, msg)
	}
	return stdout.Bytes(), nil
}

// limitedBuffer keeps the first max bytes written to it: git's stderr is for
// error messages, and a runaway remote must not fill memory.
type limitedBuffer struct {
	max  int
	buf  *bytes.Buffer
	over bool // more than max bytes were written
	// strict makes a write past max fail, so git gets EPIPE and stops
	// instead of producing output nobody reads.
	strict bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := b.max - b.buf.Len()
	if room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	if len(p) > room {
		b.over = true
		if b.strict {
			return 0, errTooMuchOutput
		}
	}
	return len(p), nil
}

func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = greenlight.RedactURL(a)
	}
	return out
}

// exists reports whether path exists; errors other than absence count as
// existing so callers go on to fail with git's message.
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}
