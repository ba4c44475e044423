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
// Submodules may not use the file transport (a repository could point one
// at any repository on the server's disk, another pipeline's mirror
// included): git's own rule since 2.38.1, which the GIT_ALLOW_PROTOCOL of
// every other git run would override. It is allowed only when the
// superproject itself is a local repository: whoever can push to it already
// works on this machine's disk.
func (g *Git) submodules(ctx context.Context, m mirror, dst string) error {
	allow := "git:http:https:ssh"
	if isLocal(m.repo) {
		allow = "file:" + allow
	}
	a := access{
		env:     append(append([]string(nil), m.access.env...), "GIT_ALLOW_PROTOCOL="+allow),
		secrets: m.access.secrets,
	}
	args := []string{"-C", dst, "submodule", "--quiet", "update", "--init", "--recursive"}
	if _, err := g.exec(ctx, call{access: a}, args...); err != nil {
		return fmt.Errorf("%w: %w", errSubmodules, err)
	}
	return nil
}

// isLocal reports whether repo is a path or a file:// URL.
func isLocal(repo string) bool {
	return strings.HasPrefix(repo, "file://") || filepath.IsAbs(repo)
}
