package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
)

// MaxChangedFiles bounds ChangedFiles' answer.
const MaxChangedFiles = 100_000

// ErrTooManyFiles is returned (wrapped) by ChangedFiles when more than
// MaxChangedFiles paths changed (then with the first MaxChangedFiles of
// them) or git's answer passed 64 MiB (then with none). A path filter
// should count such a change as matching: a diff that large touches almost
// anything.
var ErrTooManyFiles = errors.New("too many changed files")

// maxDiffOutput bounds git's output for ChangedFiles: MaxChangedFiles paths
// of a few hundred bytes each.
const maxDiffOutput = 64 << 20

// ChangedFiles returns the paths of the files that differ between commits
// from and to of repo, relative to the repository's root, each once,
// sorted. A renamed file is listed under both its old
// and its new name, so a filter on either sees it. A submodule whose
// recorded commit changed is listed as its path. An empty from (nothing
// built yet) lists every file of to. Both commits are fetched if needed.
//
// from need not be an ancestor of to: the two trees are compared, as
// git diff from to does.
func (g *Git) ChangedFiles(ctx context.Context, repo, from, to string) ([]string, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	to, err := checkSHA(to)
	if err != nil {
		return nil, err
	}
	if from != "" {
		if from, err = checkSHA(from); err != nil {
			return nil, err
		}
		if err := g.Ensure(ctx, repo, from); err != nil {
			return nil, err
		}
	}
	if err := g.Ensure(ctx, repo, to); err != nil {
		return nil, err
	}
	m := g.mirror(repo)
	args := []string{"--git-dir=" + m.dir, "ls-tree", "-r", "-z", "--name-only", "--full-tree", to}
	if from != "" {
		// -M: renames with both names; --no-ext-diff and
		// --no-textconv keep attributes from running anything.
		args = []string{"--git-dir=" + m.dir, "diff-tree", "-r", "-z", "-M", "--name-status",
			"--no-ext-diff", "--no-textconv", from, to}
	}
	unlock, err := m.rlock(ctx)
	if err != nil {
		return nil, err
	}
	out, err := g.exec(ctx, call{maxOut: maxDiffOutput}, args...)
	unlock()
	if errors.Is(err, errTooMuchOutput) {
		return nil, fmt.Errorf("changed files %.7s..%.7s: %w", from, to, ErrTooManyFiles)
	}
	if err != nil {
		return nil, fmt.Errorf("changed files %.7s..%.7s: %w", from, to, err)
	}
	var paths []string
	if from == "" {
		paths = splitNUL(out)
	} else {
		paths = parseNameStatus(out)
	}
	if len(paths) > MaxChangedFiles {
		return paths[:MaxChangedFiles], fmt.Errorf("changed files %.7s..%.7s: %d paths: %w", from, to, len(paths), ErrTooManyFiles)
	}
	return paths, nil
}

// parseNameStatus reads diff-tree -z --name-status: "<status>\0<path>\0",
// with two paths after a rename (R<score>) or copy (C<score>). Paths are
// kept once each, sorted.
func parseNameStatus(out []byte) []string {
	fields := splitNUL(out)
	seen := make(map[string]bool, len(fields))
	paths := make([]string, 0, len(fields)/2)
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	for i := 0; i < len(fields); {
		status := fields[i]
		n := 1
		if status != "" && (status[0] == 'R' || status[0] == 'C') {
			n = 2
		}
		for j := 1; j <= n && i+j < len(fields); j++ {
			add(fields[i+j])
		}
		i += 1 + n
	}
	sort.Strings(paths)
	return paths
}

// splitNUL splits NUL-terminated records.
func splitNUL(out []byte) []string {
	out = bytes.TrimSuffix(out, []byte{0})
	if len(out) == 0 {
		return []string{}
	}
	parts := bytes.Split(out, []byte{0})
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = string(p)
	}
	return s
}
