package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/runner"
)

// build checks the commit out into a fresh workspace, runs the build file's
// steps and packs the artifact. It returns what the stage's success records on
// the run (the artifact and the deploy hooks), written in the same
// transaction as the success itself.
func (e *Engine) build(ctx context.Context, run *greenlight.Run, p *config.Pipeline, sc *config.Stage) (func(*greenlight.Run), error) {
	out, err := e.cfg.Logs.Create(run.ID, sc.Name)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer out.Close()
	apply, err := e.buildIn(ctx, run, p, sc, out)
	if err = stageErr(ctx, err); err != nil {
		fmt.Fprintf(out, "==> build failed: %s\n", err.Error())
	}
	return apply, err
}

func (e *Engine) buildIn(ctx context.Context, run *greenlight.Run, p *config.Pipeline, sc *config.Stage, out io.Writer) (func(*greenlight.Run), error) {
	sha := run.Commit.SHA
	// A pull request's code may come from anyone (a fork): without bwrap
	// its steps could read the server's keys, config and database, so it
	// does not run at all rather than run unconfined.
	if run.PullRequest != nil && !e.cfg.Runner.Isolated() {
		return nil, errNoSandbox
	}
	fmt.Fprintf(out, "==> checkout %s of %s\n", sha, greenlight.RedactURL(p.Source.Repo))
	// Commit and Checkout fetch the commit when the mirror lacks it.
	if run.Commit.Title == "" && run.Commit.AuthorName == "" {
		c, err := e.cfg.Git.Commit(ctx, p.Source.Repo, sha)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w%s", run.Commit.Short(), err, forkHint(run, p))
		}
		if _, err := e.change(ctx, run.ID, func(_ greenlight.Tx, r *greenlight.Run, _ *emitter) error {
			c.Branch, c.Tag = r.Commit.Branch, r.Commit.Tag
			r.Commit = c
			return nil
		}); err != nil {
			return nil, err
		}
		run.Commit = c
	}
	ws := filepath.Join(e.cfg.WorkDir, "workspaces", strconv.FormatInt(run.ID, 10))
	if err := os.RemoveAll(ws); err != nil {
		return nil, fmt.Errorf("clean workspace: %w", err)
	}
	defer os.RemoveAll(ws)
	// A pull request's .gitmodules is its author's: its submodules are
	// fetched without the repository's credentials (CheckoutUntrusted).
	checkout := e.cfg.Git.Checkout
	if run.PullRequest != nil {
		checkout = e.cfg.Git.CheckoutUntrusted
	}
	if err := checkout(ctx, p.Source.Repo, sha, ws); err != nil {
		return nil, fmt.Errorf("checkout %s: %w", run.Commit.Short(), err)
	}
	data, err := readBuildFile(ws, sc.File)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, greenlight.Errorf(greenlight.EINVALID, "build file %s not found in commit %s", sc.File, run.Commit.Short())
	}
	if err != nil {
		return nil, greenlight.Errorf(greenlight.EINVALID, "build file %s cannot be read: %v", sc.File, err)
	}
	b, err := config.ParseBuild(sc.File, data)
	if err != nil {
		return nil, greenlight.Errorf(greenlight.EINVALID, "build file %s is invalid:\n%v", sc.File, err)
	}
	env := map[string]string{}
	for k, v := range b.Env {
		env[k] = v
	}
	for k, v := range run.Params {
		env["GREENLIGHT_PARAM_"+k] = v
	}
	env["GREENLIGHT_PIPELINE"] = run.Pipeline
	env["GREENLIGHT_RUN"] = strconv.FormatInt(run.ID, 10)
	env["GREENLIGHT_COMMIT"] = sha
	env["GREENLIGHT_BRANCH"] = run.Commit.Branch
	if run.Commit.Tag != "" {
		env["GREENLIGHT_TAG"] = run.Commit.Tag
	}
	// The pipeline's secrets are for its own commits; a pull request's code
	// (perhaps from a fork) never sees them.
	secrets := p.Secrets
	if pr := run.PullRequest; pr != nil {
		secrets = nil
		env["GREENLIGHT_PULL_REQUEST"] = strconv.Itoa(pr.Number)
		env["GREENLIGHT_BASE_BRANCH"] = pr.BaseBranch
		fmt.Fprintf(out, "==> pull request #%d (%s → %s): build only, in the sandbox, without the pipeline's secrets or its shared cache\n", pr.Number, pr.HeadBranch, pr.BaseBranch)
	}
	steps := make([]runner.Step, len(b.Steps))
	for i, s := range b.Steps {
		steps[i] = runner.Step{Name: s.Name, Run: s.Run, Timeout: s.Timeout, Env: s.Env}
	}
	cache, throwaway, err := e.buildCache(run, sc.Cache)
	if err != nil {
		return nil, err
	}
	if throwaway {
		defer os.RemoveAll(cache)
	}
	job := runner.Job{Workspace: ws, Cache: cache, Env: env, Secrets: secrets, Steps: steps, Log: out,
		Owner: run.Pipeline, Limits: runner.Limits(sc.Limits)}
	if sc.Network == config.NetworkNone {
		job.Network = runner.NetworkNone
	}
	if run.PullRequest != nil {
		job.Owner += "/pr"
	}
	err = e.cfg.Runner.Run(ctx, job)
	if err != nil {
		err = diskFull(err, ws, out) // before the workspace's files are read or removed
	}
	e.recordTests(ctx, run, ws, b.JUnit, out)
	if err != nil {
		return nil, err
	}
	var ref *greenlight.ArtifactRef
	if len(b.Artifacts) > 0 {
		start := time.Now()
		r, err := e.cfg.Artifacts.Pack(ctx, ws, b.Artifacts)
		if err != nil {
			return nil, diskFull(fmt.Errorf("pack artifact: %w", err), ws, out)
		}
		ref = &r
		fmt.Fprintf(out, "==> artifact sha256:%s (%d bytes) in %s\n", r.SHA256, r.Size, time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, "==> no artifacts listed in %s: nothing to deploy\n", sc.File)
	}
	return func(r *greenlight.Run) { r.Artifact, r.Hooks = ref, b.Hooks }, nil
}

// buildCache is the run's XDG_CACHE_HOME (Go's build cache, pip's, npm's…).
// Whatever writes a cache decides what the next build that reads it links
// into its artifact, so by default each branch (or tag) has its own,
// cache/<pipeline>/branch/<name>: a pusher of a feature branch cannot plant
// objects in what main builds from. `cache: shared` opts into one cache for
// the pipeline's branches, `cache: none` into an empty one each run. A pull
// request's code is anyone's: it always gets a throwaway cache of its own,
// removed after its build (throwaway is true then).
func (e *Engine) buildCache(run *greenlight.Run, mode string) (dir string, throwaway bool, err error) {
	base := filepath.Join(e.cfg.WorkDir, "cache", run.Pipeline)
	switch {
	case run.PullRequest != nil || mode == config.CacheNone:
		dir, throwaway = filepath.Join(e.cfg.WorkDir, "workspaces", strconv.FormatInt(run.ID, 10)+".cache"), true
		if err := os.RemoveAll(dir); err != nil { // left by a crash
			return "", false, fmt.Errorf("throwaway cache: %w", err)
		}
	case mode == config.CacheShared:
		dir = filepath.Join(base, "shared")
	case run.Commit.Tag != "":
		dir = filepath.Join(base, "tag", cacheName(run.Commit.Tag))
	default:
		dir = filepath.Join(base, "branch", cacheName(run.Commit.Branch))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("build cache: %w", err)
	}
	return dir, throwaway, nil
}

// cacheName makes a ref name one path element: "feature/x" is
// "feature%2Fx", and nothing names "." or "..".
func cacheName(ref string) string {
	name := url.PathEscape(ref)
	if name == "" || name == "." || name == ".." {
		name = "%" + name
	}
	return name
}

// errNoSandbox fails a pull request's build on a server without bwrap.
var errNoSandbox = greenlight.Errorf(greenlight.EINVALID, "pull-request builds need the bubblewrap sandbox: install bubblewrap")

// readBuildFile reads the build file from the checkout through os.Root: the
// commit is untrusted, and a build file that is a link out of the workspace
// (to the server's database, say) must not be read. Past the size limit only
// enough is read for the parser to refuse it.
func readBuildFile(ws, name string) ([]byte, error) {
	root, err := os.OpenRoot(ws)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, config.MaxBuildFileSize+1))
}

// forkHint explains a pull request's commit that the repository lacks: the
// mirror fetches every ref of the repository, which on GitHub, Gitea and
// GitLab includes the heads of pull requests from forks (refs/pull/N/head,
// refs/merge-requests/N/head); a forge without them cannot be built from.
func forkHint(run *greenlight.Run, p *config.Pipeline) string {
	pr := run.PullRequest
	if pr == nil || pr.HeadRepo == "" || pr.HeadRepo == p.Source.Repo {
		return ""
	}
	return fmt.Sprintf(" (pull request #%d comes from %s; the repository does not publish its head as refs/pull/%d/head)",
		pr.Number, greenlight.RedactURL(pr.HeadRepo), pr.Number)
}
