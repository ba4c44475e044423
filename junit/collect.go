package junit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/greenlight-cd/greenlight"
)

// Bounds on what the build's reports may make the server read.
const (
	// MaxFiles is how many reports are read per build, over all patterns.
	MaxFiles = 200
	// MaxFileSize is the largest report read, in bytes.
	MaxFileSize = 16 << 20
	// MaxTotalSize is how many bytes of reports are read per build.
	MaxTotalSize = 64 << 20
	// MaxDirEntries is how many entries of one directory a pattern's
	// wildcard looks at: a build can make a directory of millions.
	MaxDirEntries = 10000
)

// The bounds in force: the constants, lowered by tests (making files is slow
// on some machines, and parsing 64 MiB is slow under the race detector).
var (
	dirEntries = MaxDirEntries
	fileSize   = int64(MaxFileSize)
	totalSize  = int64(MaxTotalSize)
)

// Collect reads the JUnit reports matching patterns in the workspace ws and
// sums them up; nil when no report could be read (none matched, or the
// build stopped before writing them), so that "no tests" is not shown as
// "0 passed". Patterns are relative slash-separated paths whose elements may
// hold path.Match wildcards (`*`, `?`, `[…]`); config checks them.
//
// Everything it notices about the reports (a pattern matching nothing, a
// file too large, a link out of the workspace, malformed XML) is written to
// log, one "==> " line each, for the build log. It never fails: the reports
// are a view of the build, not part of its outcome.
func Collect(ws string, patterns []string, log io.Writer) *greenlight.TestSummary {
	if len(patterns) == 0 {
		return nil
	}
	root, err := os.OpenRoot(ws)
	if err != nil {
		fmt.Fprintf(log, "==> test reports: cannot open the workspace: %v\n", err)
		return nil
	}
	defer root.Close()
	var files []string
	seen := map[string]bool{}
	for _, p := range patterns {
		names, err := glob(root, p)
		if err != nil {
			fmt.Fprintf(log, "==> test reports %s: %v\n", p, err)
		}
		if len(names) == 0 && err == nil {
			fmt.Fprintf(log, "==> test reports %s: no file matches\n", p)
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				files = append(files, n)
			}
		}
	}
	if len(files) > MaxFiles {
		fmt.Fprintf(log, "==> test reports: %d files match, only the first %d are read\n", len(files), MaxFiles)
		files = files[:MaxFiles]
	}
	var (
		sum    greenlight.TestSummary
		read   int
		budget = totalSize
	)
	for _, name := range files {
		if err := readReport(root, name, &sum, &budget); err != nil {
			fmt.Fprintf(log, "==> test report %s left out: %v\n", name, err)
			continue
		}
		read++
	}
	if read == 0 {
		return nil
	}
	if sum.Failures == nil {
		sum.Failures = []greenlight.TestFailure{}
	}
	fmt.Fprintf(log, "==> tests: %d passed, %d failed, %d skipped (%d %s)\n", sum.Passed, sum.Failed, sum.Skipped,
		read, plural(read, "report", "reports"))
	return &sum
}

// readReport parses one report into sum, taking its size from budget.
func readReport(root *os.Root, name string, sum *greenlight.TestSummary, budget *int64) error {
	// O_NONBLOCK: a FIFO planted under a report's name would otherwise
	// block the open until something writes to it. It is refused below.
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return openProblem(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	limit := min(fileSize, *budget)
	if fi.Size() > limit {
		return tooLarge(limit)
	}
	lr := &limitReader{r: f, n: limit}
	err = Parse(lr, sum)
	*budget -= lr.read // what was read counts, whether it parsed or not
	if lr.over {
		return tooLarge(limit)
	}
	return err
}

func tooLarge(limit int64) error {
	if limit < fileSize {
		return fmt.Errorf("%w: the reports together may hold %s", errLarge, size(totalSize))
	}
	return fmt.Errorf("%w: larger than %s", errLarge, size(fileSize))
}

func size(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func openProblem(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if strings.Contains(err.Error(), "escapes") {
		return errors.New("it is a link out of the workspace")
	}
	return err
}

// limitReader fails, rather than ends, past n bytes: a report that grows
// while it is read is refused, not cut into malformed XML.
type limitReader struct {
	r    io.Reader
	n    int64
	read int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.read >= l.n {
		// One byte more says whether the file goes on.
		var b [1]byte
		if n, _ := l.r.Read(b[:]); n > 0 {
			l.over = true
			return 0, errLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n-l.read {
		p = p[:l.n-l.read]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// glob returns the files of root matching pattern, sorted, at most
// MaxFiles+1 of them. Wildcards are matched one path element at a time
// against at most MaxDirEntries entries per directory; directories are
// opened through root, so a link out of the workspace matches nothing.
func glob(root *os.Root, pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("invalid pattern: %w", err)
	}
	parts := strings.Split(path.Clean(pattern), "/")
	cur := []string{"."}
	var problem error
	for i, part := range parts {
		last := i == len(parts)-1
		var next []string
		for _, dir := range cur {
			if !hasMeta(part) {
				next = append(next, path.Join(dir, part))
				continue
			}
			names, err := matchDir(root, dir, part, !last)
			if err != nil && problem == nil {
				problem = err
			}
			for _, n := range names {
				next = append(next, path.Join(dir, n))
			}
			if len(next) > MaxFiles {
				break
			}
		}
		cur = next
		if len(cur) == 0 {
			break
		}
	}
	// A literal last element may name nothing: keep what exists.
	var out []string
	for _, n := range cur {
		if fi, err := root.Lstat(n); err == nil && !fi.IsDir() {
			out = append(out, n)
		} else if err == nil && fi.IsDir() {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) && problem == nil {
			problem = openProblem(err)
			if n != path.Clean(pattern) {
				problem = fmt.Errorf("%s: %v", n, problem)
			}
		}
	}
	slices.Sort(out)
	if len(out) > MaxFiles+1 {
		out = out[:MaxFiles+1]
	}
	return out, problem
}

// matchDir lists the entries of dir matching part; dirsOnly keeps the
// directories (and links, which root resolves when they are opened).
func matchDir(root *os.Root, dir, part string, dirsOnly bool) ([]string, error) {
	// O_DIRECTORY: never block opening a FIFO planted under a directory's name.
	f, err := root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", dir, openProblem(err))
	}
	defer f.Close()
	var out []string
	seen := 0
	for seen < dirEntries {
		entries, err := f.ReadDir(min(1024, dirEntries-seen))
		seen += len(entries)
		for _, e := range entries {
			if dirsOnly && !e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			if ok, _ := path.Match(part, e.Name()); ok {
				out = append(out, e.Name())
			}
		}
		if err == io.EOF || len(entries) == 0 {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %v", dir, err)
		}
	}
	return out, fmt.Errorf("%s holds more than %d entries: only the first are matched", dir, dirEntries)
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
