package source

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Refs asks the remote (git ls-remote) for its branches and tags, as a map
// of full ref names (refs/heads/main, refs/tags/v1) to commit shas. An
// annotated tag maps to the commit it points at. Only refs under heads/ and
// tags/ are listed; tags only when withTags.
func (g *Git) Refs(ctx context.Context, repo string, withTags bool) (map[string]string, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	args := []string{"ls-remote", "--heads"}
	if withTags {
		args = append(args, "--tags")
	}
	c := g.config(repo)
	out, err := g.exec(ctx, call{access: c.access}, append(args, "--end-of-options", repo)...)
	if err != nil {
		return nil, fmt.Errorf("ls-remote %s: %w", greenlight.RedactURL(repo), err)
	}
	refs := map[string]string{}
	peeled := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		sha, name, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		sha, err := checkSHA(sha)
		if err != nil {
			continue
		}
		if base, ok := strings.CutSuffix(name, "^{}"); ok {
			peeled[base] = sha
			continue
		}
		if strings.HasPrefix(name, "refs/heads/") || strings.HasPrefix(name, "refs/tags/") {
			refs[name] = sha
		}
	}
	for name, sha := range peeled {
		if _, ok := refs[name]; ok {
			refs[name] = sha
		}
	}
	return refs, nil
}
