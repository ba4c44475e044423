package source

import (
	"path"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// The checks below run before any argument reaches git, so no sha, branch,
// path or URL can be read as an option even where git lacks --end-of-options.

// checkSHA accepts a full object name, 40 hex digits (SHA-1) or 64 (SHA-256),
// and returns it in lower case. Abbreviations are refused: they can become
// ambiguous as a repository grows.
func checkSHA(sha string) (string, error) {
	if !greenlight.ValidSHA(sha) {
		return "", greenlight.Errorf(greenlight.EINVALID, "invalid commit sha %q: want 40 or 64 hex digits", clip(sha))
	}
	return strings.ToLower(sha), nil
}

// checkBranch applies git's rules for a branch name (git check-ref-format
// --branch), so a name like "--upload-pack=…" is refused outright.
func checkBranch(b string) error {
	bad := func(why string) error {
		return greenlight.Errorf(greenlight.EINVALID, "invalid branch name %q: %s", clip(b), why)
	}
	switch {
	case b == "":
		return bad("empty")
	case len(b) > 255:
		return bad("too long")
	case b[0] == '-':
		return bad("starts with '-'")
	case b == "@":
		return bad("is '@'")
	case strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/"):
		return bad("starts or ends with '/'")
	case strings.HasSuffix(b, "."):
		return bad("ends with '.'")
	case strings.Contains(b, ".."), strings.Contains(b, "@{"), strings.Contains(b, "//"):
		return bad("contains '..', '@{' or '//'")
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return bad("contains a space, a control character or one of ~^:?*[\\")
		}
	}
	for _, part := range strings.Split(b, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return bad("a component starts with '.' or ends with '.lock'")
		}
	}
	return nil
}

// checkRepo refuses URLs git could read as an option or that would break the
// line-based protocols git speaks.
func checkRepo(repo string) error {
	if repo == "" {
		return greenlight.Errorf(greenlight.EINVALID, "empty repository URL")
	}
	if repo[0] == '-' {
		return greenlight.Errorf(greenlight.EINVALID, "invalid repository URL %q: starts with '-'", clip(repo))
	}
	if strings.ContainsAny(repo, "\x00\r\n") {
		return greenlight.Errorf(greenlight.EINVALID, "invalid repository URL: contains a control character")
	}
	return nil
}

// cleanPath turns a repository path into the form git's <rev>:<path> wants:
// relative to the root, no "..", no newline (cat-file --batch reads lines).
func cleanPath(p string) (string, error) {
	if strings.ContainsAny(p, "\x00\r\n") {
		return "", greenlight.Errorf(greenlight.EINVALID, "invalid path %q: contains a control character", clip(p))
	}
	c := path.Clean(strings.TrimPrefix(p, "./"))
	if p == "" || c == "." || strings.HasPrefix(c, "/") || c == ".." || strings.HasPrefix(c, "../") {
		return "", greenlight.Errorf(greenlight.EINVALID, "invalid path %q: want a file inside the repository", clip(p))
	}
	return c, nil
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
