package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Commit reads commit sha of repo: its title (the first line of the message)
// author and committer's email. Text is returned verbatim, HTML and stray carriage returns
// included: escaping belongs to whoever renders it. Branch is left empty.
func (g *Git) Commit(ctx context.Context, repo, sha string) (greenlight.Commit, error) {
	if err := checkRepo(repo); err != nil {
		return greenlight.Commit{}, err
	}
	sha, err := checkSHA(sha)
	if err != nil {
		return greenlight.Commit{}, err
	}
	var raw []byte
	err = g.withCommit(ctx, repo, sha, func(m mirror) (err error) {
		raw, err = g.run(ctx, "--git-dir="+m.dir, "cat-file", "commit", sha)
		return err
	})
	if err != nil {
		return greenlight.Commit{}, fmt.Errorf("read commit %s: %w", sha, err)
	}
	c := parseCommit(raw)
	c.SHA = sha
	return c, nil
}

// parseCommit reads a raw commit object: headers, a blank line, the message.
// It parses what git wrote, so it never fails; missing parts stay empty.
// The committer's email is read too: after a rebase, a cherry-pick or a
// merge made on the forge it is someone other than the author, and that
// person may not approve the run either.
func parseCommit(raw []byte) greenlight.Commit {
	var c greenlight.Commit
	headers, msg, _ := bytes.Cut(raw, []byte("\n\n"))
	seenAuthor, seenCommitter := false, false
	for _, line := range strings.Split(string(headers), "\n") {
		if ident, ok := strings.CutPrefix(line, "author "); ok && !seenAuthor {
			seenAuthor = true
			c.AuthorName, c.AuthorEmail = identity(ident)
		} else if ident, ok := strings.CutPrefix(line, "committer "); ok && !seenCommitter {
			seenCommitter = true
			_, c.CommitterEmail = identity(ident)
		}
	}
	c.Title = title(string(msg))
	return c
}

// identity splits a commit header's "Name <email> 1700000000 +0000"; git
// keeps '<' and '>' out of both name and email. Without the brackets it is
// all name.
func identity(ident string) (name, email string) {
	lt := strings.IndexByte(ident, '<')
	gt := strings.LastIndexByte(ident, '>')
	if lt < 0 || gt < lt {
		return strings.TrimSpace(ident), ""
	}
	return strings.TrimSpace(ident[:lt]), ident[lt+1 : gt]
}

// title is the first line of a commit message, without the CR of a CRLF.
func title(msg string) string {
	line, _, _ := strings.Cut(msg, "\n")
	return strings.TrimSuffix(line, "\r")
}

// Changes returns the titles of the commits in from..to (reachable from to,
// not from from), newest first, at most max of them (max <= 0: all). An empty
// from (nothing released yet) means all of to's history. Both commits are
// fetched if needed.
//
// A shallow mirror (Options.Depth) lists only the commits it holds: history
// beyond its depth is left out. If from cannot be fetched into it, to's
// mirrored history is listed, bounded by max.
func (g *Git) Changes(ctx context.Context, repo, from, to string, max int) ([]string, error) {
	list, err := g.Commits(ctx, repo, from, to, max)
	if err != nil {
		return nil, err
	}
	titles := make([]string, len(list))
	for i, c := range list {
		titles[i] = c.Title
	}
	return titles, nil
}

// Commits is Changes with each commit's id and author: what an approver is
// asked to ship.
func (g *Git) Commits(ctx context.Context, repo, from, to string, max int) ([]greenlight.Change, error) {
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
	}
	if err := g.Ensure(ctx, repo, to); err != nil {
		return nil, err
	}
	m := g.mirror(repo)
	rev := to
	if from != "" {
		rev = from + ".." + to
		if err := g.Ensure(ctx, repo, from); err != nil {
			if m.opts.Depth == 0 || greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
				return nil, err
			}
			rev = to
		}
	}
	// %x1f (unit separator) cannot occur in a commit id or, in practice, an
	// author name; the message comes last, so one in it does no harm.
	args := []string{"--git-dir=" + m.dir, "log", "-z", "--format=%H%x1f%an%x1f%B"}
	if max > 0 {
		args = append(args, "--max-count="+strconv.Itoa(max))
	}
	args = append(args, "--end-of-options", rev)
	unlock, err := m.rlock(ctx)
	if err != nil {
		return nil, err
	}
	out, err := g.run(ctx, args...)
	unlock()
	if err != nil {
		return nil, fmt.Errorf("changes %s..%s: %w", from, to, err)
	}
	list := []greenlight.Change{}
	for _, rec := range strings.Split(string(out), "\x00") {
		// git log -z ends each record with NUL; %B ends with a newline.
		if rec == "" {
			continue
		}
		f := strings.SplitN(rec, "\x1f", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("changes %s..%s: unexpected git log record %q", from, to, rec)
		}
		list = append(list, greenlight.Change{SHA: f[0], Author: f[1], Title: title(f[2])})
	}
	return list, nil
}

// ReadFile returns the content of path at commit sha of repo. A path that is
// not a file at that commit is ENOTFOUND.
func (g *Git) ReadFile(ctx context.Context, repo, sha, path string) ([]byte, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	sha, err := checkSHA(sha)
	if err != nil {
		return nil, err
	}
	clean, err := cleanPath(path)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = g.withCommit(ctx, repo, sha, func(m mirror) (err error) {
		// cat-file --batch says "missing" or names the object's type
		// instead of failing, so an absent file and an absent commit can be
		// told apart in one process.
		out, err := g.runIn(ctx, []byte(sha+":"+clean+"\n"), "--git-dir="+m.dir, "cat-file", "--batch")
		if err != nil {
			return err
		}
		data, err = batchBlob(out, clean, sha)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read file %s: %w", clean, err)
	}
	return data, nil
}

// batchBlob reads one answer of git cat-file --batch:
// "<oid> <type> <size>\n<content>\n" or "<name> missing\n".
func batchBlob(out []byte, path, sha string) ([]byte, error) {
	header, rest, _ := bytes.Cut(out, []byte("\n"))
	f := strings.Fields(string(header))
	if len(f) != 3 || f[1] != "blob" {
		return nil, greenlight.Errorf(greenlight.ENOTFOUND, "file %s not found at commit %.7s", path, sha)
	}
	size, err := strconv.Atoi(f[2])
	if err != nil || size > len(rest) {
		return nil, fmt.Errorf("cat-file: malformed answer %q", clip(string(header)))
	}
	return rest[:size], nil
}

// withCommit runs read under the mirror's read lock. If it fails because the
// commit is not mirrored yet, it fetches and runs read once more; if it fails
// with the commit present and the mirror turns out corrupted, the mirror is
// cloned again and read runs once more.
func (g *Git) withCommit(ctx context.Context, repo, sha string, read func(m mirror) error) error {
	m := g.mirror(repo)
	// attempt reports whether the commit is present when read fails.
	attempt := func() (present bool, err error) {
		unlock, err := m.rlock(ctx)
		if err != nil {
			return true, err
		}
		defer unlock()
		if err = read(m); err == nil {
			return true, nil
		}
		return ctx.Err() != nil || g.has(ctx, m, sha), err
	}
	present, err := attempt()
	if err == nil {
		return nil
	}
	if present {
		// A missing file is an answer, not damage.
		var ge *greenlight.Error
		if ctx.Err() != nil || errors.As(err, &ge) {
			return err
		}
		recloned, rerr := g.repair(ctx, m)
		if rerr != nil || !recloned {
			return errors.Join(err, rerr)
		}
	} else if err := g.Ensure(ctx, repo, sha); err != nil {
		return err
	}
	_, err = attempt()
	return err
}
