package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/greenlight-cd/greenlight/sandbox"
)

// Limits bound what one build stage may use. A zero field takes its default
// (DefaultLimits); the pipeline's configuration raises or lowers them.
type Limits struct {
	Processes int   // processes and threads alive at once in the sandbox
	Memory    int64 // bytes of data (heap and other private memory) per process
	Disk      int64 // bytes in the workspace and cache together; also the largest file
	Log       int64 // bytes of step output kept in the stage log; the rest is cut
	Tmp       int64 // bytes of /tmp and /dev/shm, which live in memory
}

// DefaultLimits are generous for real builds and small for a machine: a
// fork bomb stops at 2,048 tasks, a runaway allocation at 4 GiB, a log at
// 64 MiB.
var DefaultLimits = Limits{
	Processes: 2048,
	Memory:    4 << 30,
	Disk:      10 << 30,
	Log:       64 << 20,
	Tmp:       512 << 20,
}

// LineMax is the longest line of step output kept whole; the rest of a
// longer line is replaced by a marker.
const LineMax = 64 << 10

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.Processes > 0 {
		d.Processes = l.Processes
	}
	if l.Memory > 0 {
		d.Memory = l.Memory
	}
	if l.Disk > 0 {
		d.Disk = l.Disk
	}
	if l.Log > 0 {
		d.Log = l.Log
	}
	if l.Tmp > 0 {
		d.Tmp = l.Tmp
	}
	return d
}

// rlimits are the resource limits a step's processes get, set by its own
// shell (shellLimits) or by prlimit: processes (counted in the step's own
// user namespace, so per build), data size and file size. Soft and hard
// alike: the step cannot raise them.
func (l Limits) rlimits(sandboxed bool) []rlimit {
	rl := []rlimit{
		{syscall.RLIMIT_DATA, uint64(l.Memory)},
		{syscall.RLIMIT_FSIZE, uint64(l.Disk)},
	}
	// Without a sandbox the process count would be the server's own uid's:
	// its threads and every other build's would count against it.
	if sandboxed {
		rl = append(rl, rlimit{rlimitNPROC, uint64(l.Processes)})
	}
	return rl
}

const rlimitNPROC = 6 // RLIMIT_NPROC on Linux; the syscall package does not name it

type rlimit struct {
	res int
	max uint64
}

// prlimitArgs is the command prefix that sets the limits when the shell
// cannot (an unknown /bin/sh): util-linux's prlimit, which sets them and
// execs the step's shell in the same process, inside the step's user
// namespace, so the process count is the build's own.
func prlimitArgs(prlimit string, rl []rlimit) []string {
	args := []string{prlimit}
	for _, r := range rl {
		name := map[int]string{syscall.RLIMIT_DATA: "--data", syscall.RLIMIT_FSIZE: "--fsize", rlimitNPROC: "--nproc"}[r.res]
		args = append(args, fmt.Sprintf("%s=%d:%d", name, r.max, r.max))
	}
	return append(args, "--")
}

// logCap keeps a stage log within its limits. Step output passes through
// it last (after the secrets' masker): a line longer than LineMax keeps its
// first LineMax bytes and a marker, and once the log holds max bytes of
// step output the rest is dropped behind one marker line. The runner's own
// header and footer lines are written with own set and always pass.
type logCap struct {
	w       io.Writer
	max     int64
	total   int64
	line    int  // bytes of the current line kept so far
	cutLine bool // dropping the rest of an over-long line
	full    bool // the log is at its limit: step output is dropped
	own     bool // the runner's own lines: never cut
}

func (c *logCap) Write(p []byte) (int, error) {
	if c.own {
		c.line, c.cutLine = 0, false
		_, err := c.w.Write(p)
		return len(p), err
	}
	if c.full {
		return len(p), nil
	}
	// The common case, every line short and the log far from full, writes
	// p as it is: no copy of what may be hundreds of megabytes.
	if !c.cutLine && c.total+int64(len(p)) <= c.max {
		if line, ok := fitLines(p, c.line); ok {
			c.line = line
			c.total += int64(len(p))
			_, err := c.w.Write(p)
			return len(p), err
		}
	}
	var out []byte
	rest := p
	for len(rest) > 0 {
		nl := bytes.IndexByte(rest, '\n')
		seg := rest
		if nl >= 0 {
			seg = rest[:nl+1]
		}
		rest = rest[len(seg):]
		if c.cutLine {
			if nl >= 0 {
				c.cutLine, c.line = false, 0
			}
			continue
		}
		if room := LineMax - c.line; len(seg) > room {
			out = append(out, seg[:room]...)
			out = append(out, fmt.Sprintf("… [line cut: longer than %d bytes]\n", LineMax)...)
			c.cutLine, c.line = nl < 0, 0
			continue
		}
		out = append(out, seg...)
		c.line += len(seg)
		if nl >= 0 {
			c.line = 0
		}
	}
	if c.total+int64(len(out)) > c.max {
		keep := c.max - c.total
		if i := bytes.LastIndexByte(out[:keep], '\n'); i >= 0 {
			keep = int64(i + 1)
		} else {
			keep = 0
		}
		out = append(out[:keep:keep], fmt.Sprintf("\n==> log cut: the build printed more than %s; the rest is not kept\n", size(c.max))...)
		c.full = true
	}
	c.total += int64(len(out))
	_, err := c.w.Write(out)
	return len(p), err
}

// fitLines reports whether no line of p, the first continuing one of line
// bytes, grows longer than LineMax, and the length of the last line then.
// It looks for the last newline within each LineMax bytes, scanning back
// from the window's end, so dense output costs a few calls per buffer, not
// one per line.
func fitLines(p []byte, line int) (int, bool) {
	for {
		room := LineMax - line // a newline must come within the next room bytes
		if len(p) <= room {
			if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
				return len(p) - i - 1, true
			}
			return line + len(p), true
		}
		i := bytes.LastIndexByte(p[:room], '\n')
		if i < 0 {
			return 0, false
		}
		p, line = p[i+1:], 0
	}
}

// ownLine writes a line of the runner's own (a step's header or footer).
func (c *logCap) ownWrite(w io.Writer, format string, args ...any) error {
	c.own = true
	defer func() { c.own = false }()
	_, err := fmt.Fprintf(w, format, args...)
	return err
}

// size formats a byte count for messages: "64 MiB".
func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// DiskError is why a stage was stopped for using more disk than its limit
// (or for making its workspace impossible to measure: Err).
type DiskError struct {
	Used, Limit int64
	Err         error
}

func (e *DiskError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("disk limit: the workspace and cache cannot be measured: %v", e.Err)
	}
	return fmt.Sprintf("disk limit exceeded: the workspace and cache hold %s, more than the limit of %s", approx(e.Used), size(e.Limit))
}

func approx(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// watchDisk measures dirs until ctx ends and calls stop with a *DiskError
// once they hold more than limit, or cannot be measured. A walk costs time
// in proportion to the files, so it waits twenty times as long as the last
// walk took between walks, and at least a second: a big tree is measured
// less often.
func watchDisk(ctx context.Context, dirs []string, limit int64, stop context.CancelCauseFunc) {
	wait := time.Second
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		start := time.Now()
		used, err := diskUsage(ctx, dirs)
		if ctx.Err() != nil {
			return
		}
		if err != nil || used > limit {
			stop(&DiskError{Used: used, Limit: limit, Err: err})
			return
		}
		wait = max(time.Second, 20*time.Since(start))
	}
}

// diskUsage adds up the blocks of every file under dirs, going down by
// descriptors (sandbox.WalkAt: no path too long to follow, no link
// followed). What cannot be measured (a directory it may not read, a tree
// nested too deep) is an error: a build must not hide bytes from it. Files
// removed while still open are not counted (each is still bounded by the
// file size limit).
func diskUsage(ctx context.Context, dirs []string) (int64, error) {
	var total int64
	for _, d := range dirs {
		err := sandbox.WalkAt(d, func(dirfd int, name string, fd int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var st unix.Stat_t
			var err error
			if fd >= 0 {
				err = unix.Fstat(fd, &st)
			} else {
				err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
			}
			if err == nil {
				total += st.Blocks * 512
			}
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
