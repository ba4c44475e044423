package source

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Head returns the sha that refs/heads/<branch> points to in repo, asking the
// remote itself (git ls-remote), not the mirror. A branch the remote does not
// have is ENOTFOUND.
func (g *Git) Head(ctx context.Context, repo, branch string) (string, error) {
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	if err := checkBranch(branch); err != nil {
		return "", err
	}
	ref := "refs/heads/" + branch
	out, err := g.run(ctx, "ls-remote", "--end-of-options", repo, ref)
	if err != nil {
		return "", fmt.Errorf("ls-remote %s: %w", greenlight.RedactURL(repo), err)
	}
	// ls-remote matches patterns by their tail (refs/heads/main also matches
	// refs/remotes/x/refs/heads/main), so keep only the exact ref.
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		sha, name, ok := strings.Cut(sc.Text(), "\t")
		if ok && name == ref {
			if sha, err := checkSHA(sha); err == nil {
				return sha, nil
			}
		}
	}
	return "", greenlight.Errorf(greenlight.ENOTFOUND, "branch %q not found in %s", branch, greenlight.RedactURL(repo))
}

// Fetch brings the mirror of repo up to date: a clone --mirror the first
// time, an incremental fetch after. A mirror that fails to fetch (corrupted,
// half-deleted) is cloned afresh beside it and swapped in; if that clone
// fails too, the old mirror stays and both errors are returned.
func (g *Git) Fetch(ctx context.Context, repo string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	m := g.mirror(repo)
	m.mu.Lock()
	defer m.mu.Unlock()
	return g.fetchLocked(ctx, m)
}

// Ensure makes sure commit sha is in the mirror of repo, fetching only when it
// is not. A commit the remote does not have either is ENOTFOUND.
func (g *Git) Ensure(ctx context.Context, repo, sha string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	sha, err := checkSHA(sha)
	if err != nil {
		return err
	}
	m := g.mirror(repo)
	m.mu.RLock()
	ok := g.has(ctx, m, sha)
	m.mu.RUnlock()
	if ok {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Another caller may have fetched while we waited for the lock.
	if g.has(ctx, m, sha) {
		return nil
	}
	if err := g.fetchLocked(ctx, m); err != nil {
		return err
	}
	if !g.has(ctx, m, sha) {
		return greenlight.Errorf(greenlight.ENOTFOUND, "commit %s not found in %s", sha, greenlight.RedactURL(repo))
	}
	return nil
}

// has reports whether the mirror holds commit sha. The caller holds m.mu.
func (g *Git) has(ctx context.Context, m mirror, sha string) bool {
	if !exists(m.dir) {
		return false
	}
	_, err := g.run(ctx, "--git-dir="+m.dir, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

// fetchLocked updates or creates the mirror. The caller holds m.mu for
// writing.
func (g *Git) fetchLocked(ctx context.Context, m mirror) error {
	if !exists(m.dir) {
		if err := g.clone(ctx, m); err != nil {
			return fmt.Errorf("clone %s: %w", greenlight.RedactURL(m.repo), err)
		}
		return nil
	}
	_, ferr := g.run(ctx, "--git-dir="+m.dir, "fetch", "--prune", "--quiet", "origin")
	if ferr == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("fetch %s: %w", greenlight.RedactURL(m.repo), ferr)
	}
	g.log.Warn("fetch into mirror failed: cloning it again", "repo", greenlight.RedactURL(m.repo), "err", ferr)
	if cerr := g.clone(ctx, m); cerr != nil {
		return fmt.Errorf("fetch %s: %w (clone again: %w)", greenlight.RedactURL(m.repo), ferr, cerr)
	}
	return nil
}

// clone makes a fresh mirror in a temporary directory and renames it into
// place, so a crash or a failed clone never leaves a half-made mirror where
// the next fetch would find it.
func (g *Git) clone(ctx context.Context, m mirror) error {
	tmpRoot := filepath.Join(g.dir, "tmp")
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(tmpRoot, "clone-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "mirror.git")
	if _, err := g.run(ctx, "clone", "--mirror", "--quiet", "--end-of-options", m.repo, dst); err != nil {
		return err
	}
	// Swap: move any old mirror aside first; rename cannot replace a
	// non-empty directory.
	if exists(m.dir) {
		if err := os.Rename(m.dir, filepath.Join(tmp, "old.git")); err != nil {
			return fmt.Errorf("move old mirror aside: %w", err)
		}
	}
	if err := os.Rename(dst, m.dir); err != nil {
		return fmt.Errorf("install mirror: %w", err)
	}
	g.log.Info("mirrored repository", "repo", greenlight.RedactURL(m.repo), "dir", m.dir)
	return nil
}
