package source

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	c := g.config(repo)
	out, err := g.exec(ctx, call{access: c.access}, "ls-remote", "--end-of-options", repo, ref)
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
// time, an incremental fetch after. When a fetch fails and the mirror is
// found corrupted (git fsck), it is cloned afresh beside it and swapped in; if
// that clone fails too, the old mirror stays and both errors are returned. A
// fetch that fails with a sound mirror (remote down, credentials refused)
// leaves it as it is.
func (g *Git) Fetch(ctx context.Context, repo string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	m := g.mirror(repo)
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return g.fetchLocked(ctx, m)
}

// Ensure makes sure commit sha is in the mirror of repo, fetching only when it
// is not: the branches first, then the commit itself by its sha (a commit on
// no branch, or beyond a shallow mirror's depth; the server must allow it,
// as GitHub and GitLab do). A commit the remote does not have either is
// ENOTFOUND.
func (g *Git) Ensure(ctx context.Context, repo, sha string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	sha, err := checkSHA(sha)
	if err != nil {
		return err
	}
	m := g.mirror(repo)
	runlock, err := m.rlock(ctx)
	if err != nil {
		return err
	}
	ok := g.has(ctx, m, sha)
	runlock()
	if ok {
		return nil
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return g.ensureLocked(ctx, m, sha)
}

// ensureLocked is Ensure under the exclusive lock.
func (g *Git) ensureLocked(ctx context.Context, m mirror, sha string) error {
	// Another caller may have fetched while we waited for the lock.
	if g.has(ctx, m, sha) {
		return nil
	}
	if err := g.fetchLocked(ctx, m); err != nil {
		return err
	}
	if g.has(ctx, m, sha) {
		return nil
	}
	if _, err := g.exec(ctx, call{access: m.access}, g.fetchArgs(m, sha)...); err == nil && g.has(ctx, m, sha) {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("fetch %s: %w", greenlight.RedactURL(m.repo), ctx.Err())
	}
	// A fetch that brings nothing new can succeed on a mirror whose packs
	// are damaged; the commit then looks absent while it is not.
	if recloned, err := g.repairLocked(ctx, m); err != nil {
		return err
	} else if recloned && g.has(ctx, m, sha) {
		return nil
	}
	return greenlight.Errorf(greenlight.ENOTFOUND, "commit %s not found in %s", sha, greenlight.RedactURL(m.repo))
}

// has reports whether the mirror holds commit sha. The caller holds m's lock.
func (g *Git) has(ctx context.Context, m mirror, sha string) bool {
	if !exists(m.dir) {
		return false
	}
	_, err := g.run(ctx, "--git-dir="+m.dir, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

// fetchArgs is the fetch of the mirror's refs, or of the commits in shas. A
// shallow mirror fetches Depth commits of history; a mirror made shallow
// that is now configured for full history is deepened; a full one stays
// full.
func (g *Git) fetchArgs(m mirror, shas ...string) []string {
	// A fetch may start gc --auto, which by default detaches and goes on
	// repacking after fetch returns, outside the mirror's lock.
	args := []string{"--git-dir=" + m.dir, "-c", "gc.autoDetach=false", "fetch", "--quiet"}
	shallow := exists(filepath.Join(m.dir, "shallow"))
	switch {
	case m.opts.Depth > 0 && shallow:
		args = append(args, "--depth="+strconv.Itoa(m.opts.Depth))
	case m.opts.Depth == 0 && shallow && len(shas) == 0:
		args = append(args, "--unshallow")
	}
	if len(shas) == 0 {
		return append(args, "--prune", "origin")
	}
	return append(append(args, "origin"), shas...)
}

// fetchLocked updates or creates the mirror. The caller holds m's lock for
// writing.
func (g *Git) fetchLocked(ctx context.Context, m mirror) error {
	if !exists(m.dir) {
		if err := g.clone(ctx, m); err != nil {
			return fmt.Errorf("clone %s: %w", greenlight.RedactURL(m.repo), err)
		}
		return nil
	}
	_, ferr := g.exec(ctx, call{access: m.access}, g.fetchArgs(m)...)
	if ferr == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("fetch %s: %w", greenlight.RedactURL(m.repo), ferr)
	}
	herr := g.check(ctx, m)
	if herr == nil {
		// The remote's fault (down, moved, credentials refused): the
		// mirror is sound, and cloning it again would fail the same way.
		return fmt.Errorf("fetch %s: %w", greenlight.RedactURL(m.repo), ferr)
	}
	g.log.Warn("mirror is corrupted: cloning it again", "repo", greenlight.RedactURL(m.repo), "fetch_err", ferr, "fsck_err", herr)
	if cerr := g.clone(ctx, m); cerr != nil {
		return fmt.Errorf("fetch %s: %w (mirror corrupted; clone again: %w)", greenlight.RedactURL(m.repo), ferr, cerr)
	}
	return nil
}

// check reports what is wrong with the mirror, or nil when git finds every
// object reachable from its refs (fsck --connectivity-only: blobs are
// located, not read; 0.4 s of CPU on 10,000 commits, where a full fsck takes
// three times as long and grows with the size of every file ever
// committed) and every pack ends with the checksum its index records.
// That second test is what catches a truncated pack: git then refuses the
// whole pack, but fsck --connectivity-only looks objects up in the index
// only. A pack damaged in its middle passes both and shows up as a failing
// read.
func (g *Git) check(ctx context.Context, m mirror) error {
	if !exists(filepath.Join(m.dir, "HEAD")) {
		return fmt.Errorf("no HEAD in %s", m.dir)
	}
	if _, err := g.run(ctx, "--git-dir="+m.dir, "fsck", "--connectivity-only", "--no-dangling", "--no-progress"); err != nil {
		return err
	}
	return checkPacks(filepath.Join(m.dir, "objects", "pack"))
}

// checkPacks compares each pack's trailing checksum with the copy its
// index (version 2) keeps just before the index's own checksum.
func checkPacks(dir string) error {
	idxs, err := filepath.Glob(filepath.Join(dir, "*.idx"))
	if err != nil {
		return err
	}
	for _, idx := range idxs {
		pack := strings.TrimSuffix(idx, ".idx") + ".pack"
		ib, err := os.ReadFile(idx)
		if err != nil {
			return err
		}
		pf, err := os.Open(pack)
		if os.IsNotExist(err) {
			continue // a pack git removed between the glob and here
		}
		if err != nil {
			return fmt.Errorf("pack of %s: %w", filepath.Base(idx), err)
		}
		ok := false
		for _, size := range []int{20, 32} { // SHA-1, SHA-256
			if len(ib) < 2*size {
				continue
			}
			want := ib[len(ib)-2*size : len(ib)-size]
			fi, err := pf.Stat()
			if err != nil || fi.Size() < int64(size) {
				continue
			}
			got := make([]byte, size)
			if _, err := pf.ReadAt(got, fi.Size()-int64(size)); err == nil && bytes.Equal(got, want) {
				ok = true
				break
			}
		}
		pf.Close()
		if !ok {
			return fmt.Errorf("pack %s does not match its index (truncated or damaged)", filepath.Base(pack))
		}
	}
	return nil
}

// repair checks a mirror that failed a read and clones it again if it is
// corrupted; recloned says whether it did, so the read can be retried.
func (g *Git) repair(ctx context.Context, m mirror) (recloned bool, err error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	return g.repairLocked(ctx, m)
}

func (g *Git) repairLocked(ctx context.Context, m mirror) (recloned bool, err error) {
	if !exists(m.dir) {
		return false, nil
	}
	herr := g.check(ctx, m)
	if herr == nil || ctx.Err() != nil {
		return false, nil
	}
	g.log.Warn("mirror is corrupted: cloning it again", "repo", greenlight.RedactURL(m.repo), "fsck_err", herr)
	if err := g.clone(ctx, m); err != nil {
		return false, fmt.Errorf("clone %s again (mirror corrupted): %w", greenlight.RedactURL(m.repo), err)
	}
	return true, nil
}

// clone makes a fresh mirror in a temporary directory and renames it into
// place, so a crash or a failed clone never leaves a half-made mirror where
// the next fetch would find it. The caller holds m's lock for writing, which
// also marks tmp/<name>-* as in use (see removeStaleClones).
func (g *Git) clone(ctx context.Context, m mirror) error {
	tmpRoot := filepath.Join(g.dir, "tmp")
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(tmpRoot, m.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "mirror.git")
	args := []string{"clone", "--mirror", "--quiet"}
	if m.opts.Depth > 0 {
		// --depth alone would fetch only the default branch.
		args = append(args, "--depth="+strconv.Itoa(m.opts.Depth), "--no-single-branch")
	}
	if _, err := g.exec(ctx, call{access: m.access}, append(args, "--end-of-options", m.repo, dst)...); err != nil {
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
	g.log.Info("mirrored repository", "repo", greenlight.RedactURL(m.repo), "dir", m.dir, "depth", m.opts.Depth)
	return nil
}
