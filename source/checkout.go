package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/greenlight-cd/greenlight"
)

// Checkout puts commit sha of repo into dst, which must not exist or be
// empty, fetching the commit first if the mirror lacks it.
//
// The workspace is a real git repository (its own HEAD, index and refs, with
// the mirror's branches and tags, so builds can run git describe) that borrows
// the mirror's objects through objects/info/alternates (clone --shared)
// instead of copying them. Measured here on a 50-file repository (median of
// 40, interleaved): clone --shared --template= then checkout 13 ms; the same
// with hook templates 15 ms; a hard-linking clone --local 16 ms; git init plus
// a hand-written alternates file 8 ms, but without branches and tags, so git
// describe fails. File creation dominates, hence --template=.
//
// A workspace relies on its commit staying in the mirror: fetches prune refs
// but gc keeps unreachable objects for two weeks, and workspaces are
// short-lived.
func (g *Git) Checkout(ctx context.Context, repo, sha, dst string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	sha, err := checkSHA(sha)
	if err != nil {
		return err
	}
	dst, err = filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("checkout %s: %w", sha, err)
	}
	if entries, err := os.ReadDir(dst); err == nil && len(entries) > 0 {
		return greenlight.Errorf(greenlight.ECONFLICT, "checkout destination %s is not empty", dst)
	}
	m := g.mirror(repo)
	if !exists(m.dir) {
		if err := g.Ensure(ctx, repo, sha); err != nil {
			return err
		}
	}
	err = g.checkout(ctx, m, sha, dst)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	// The usual cause of failure is a commit pushed after the last fetch.
	m.mu.RLock()
	ok := g.has(ctx, m, sha)
	m.mu.RUnlock()
	if ok {
		return err
	}
	if err := g.Ensure(ctx, repo, sha); err != nil {
		return err
	}
	return g.checkout(ctx, m, sha, dst)
}

// checkout is one attempt; it leaves dst empty when it fails.
func (g *Git) checkout(ctx context.Context, m mirror, sha, dst string) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, err := g.run(ctx, "clone", "--shared", "--no-checkout", "--template=", "--quiet", "--", m.dir, dst)
	if err == nil {
		// checkout takes no --end-of-options in git 2.39; the sha is
		// validated hex, and "--" ends it as a revision.
		_, err = g.run(ctx, "-C", dst, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha, "--")
	}
	if err != nil {
		empty(dst)
		return fmt.Errorf("checkout %s of %s: %w", sha, redact(m.repo), err)
	}
	return nil
}

// empty removes what a failed attempt left in dir, keeping dir itself.
func empty(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
