package source

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// errSubmodules marks a checkout that failed in its submodules: the mirror
// is not to blame, so it is not checked or cloned again.
var errSubmodules = errors.New("submodules")

// submodules initialises and updates dst's submodules, recursively, at the
// commits the checked-out superproject records. Relative URLs in
// .gitmodules are resolved by git against the workspace's origin, which is
// repo; the fetches carry repo's credentials (the token's scope includes the
// host when submodules are on, see newAccess).
//
// Submodules are cloned from their remotes into the workspace, not mirrored:
// they are usually small, and each is at a fixed commit.
//
// Since git 2.38.1 submodules may not use the file transport (a repository
// could point one at any repository on the server's disk). It is allowed
// again only when the superproject itself is a local repository: whoever
// can push to it already works on this machine's disk.
func (g *Git) submodules(ctx context.Context, m mirror, dst string) error {
	args := []string{"-C", dst}
	if isLocal(m.repo) {
		args = append(args, "-c", "protocol.file.allow=always")
	}
	args = append(args, "submodule", "--quiet", "update", "--init", "--recursive")
	if _, err := g.exec(ctx, call{access: m.access}, args...); err != nil {
		return fmt.Errorf("%w: %w", errSubmodules, err)
	}
	return nil
}

// isLocal reports whether repo is a path or a file:// URL.
func isLocal(repo string) bool {
	return strings.HasPrefix(repo, "file://") || filepath.IsAbs(repo)
}
