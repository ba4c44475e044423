// Package datadir keeps one Greenlight per data directory (SPEC §15). The
// first process to start on a data directory holds an exclusive flock(2) on
// <data_dir>/greenlight.lock for as long as it lives; another one started on
// the same directory is refused and told which process holds it.
//
// The lock is the kernel's: it is released when its holder exits, however it
// exits, so a file left behind by a crashed server never blocks the next one.
// What the file says (pid, start time, command line) is only informative.
// Several servers on one PostgreSQL database with different data directories
// are not affected: only the directory is locked, never the database.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockFile is the lock's file name inside the data directory.
const LockFile = "greenlight.lock"

// Lock is a data directory held by this process. Keep it until the process
// ends: closing it (or dropping the last reference to it) lets another
// Greenlight start on the directory.
type Lock struct {
	f *os.File
}

// Holder is what the lock file says about the process that holds it.
type Holder struct {
	PID     int
	Started time.Time
	Command string
	Unseen  bool // the pid is not a process this one can see
}

// InUseError is Acquire's error when another process holds the directory.
// Holder is zero when that process had not yet written who it is.
type InUseError struct {
	Dir    string
	Holder Holder
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("data directory %s is in use by another Greenlight (%s): stop it first, or give this one another data_dir",
		e.Dir, e.Holder)
}

// String is "pid 1234, started 2026-12-07T20:01:02Z" or as much of it as is known.
func (h Holder) String() string {
	if h.PID == 0 {
		return "its pid is not written in " + LockFile + " yet"
	}
	s := "pid " + strconv.Itoa(h.PID)
	if !h.Started.IsZero() {
		s += ", started " + h.Started.UTC().Format(time.RFC3339)
	}
	if h.Unseen {
		s += ", not visible from here: in a container or on another machine sharing the directory"
	}
	return s
}

// Acquire creates dir if needed (0700, as the server does) and takes its lock
// without waiting: it returns an *InUseError if another process (or another
// Acquire of this process) holds it. On success it writes this process's pid,
// the time and its command line into the lock file.
//
// The descriptor is close-on-exec, so builds, hooks and the apps they leave
// running never inherit it: a lock inherited by a deployed app would outlive
// the server and block its restart.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	// O_NOFOLLOW: a symlink put in its place must not have us truncate
	// another file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the data directory's lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		h := holder(f)
		f.Close()
		return nil, &InUseError{Dir: dir, Holder: h}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the data directory %s: %w", dir, err)
	}
	me := Holder{PID: os.Getpid(), Started: time.Now().UTC().Truncate(time.Second), Command: strings.Join(os.Args, " ")}
	if err := write(f, me); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Close releases the lock. The file stays: removing it would let a process
// that opened it just before lock a file no one else can find.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}

// write replaces the file's content with h, in one write, then cuts off what
// an earlier, longer content left behind.
func write(f *os.File, h Holder) error {
	text := fmt.Sprintf("pid: %d\nstarted: %s\ncommand: %s\n", h.PID, h.Started.Format(time.RFC3339),
		strings.ReplaceAll(h.Command, "\n", " "))
	if _, err := f.WriteAt([]byte(text), 0); err != nil {
		return err
	}
	if err := f.Truncate(int64(len(text))); err != nil {
		return err
	}
	return f.Sync()
}

// holder reads who holds the lock. The holder writes right after taking it,
// so an empty file, or one naming a process that is gone (written by an
// earlier holder that crashed), is read again for up to a second.
func holder(f *os.File) Holder {
	var h Holder
	for range 20 {
		h = parse(f)
		if h.PID > 0 && alive(h.PID) {
			return h
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.PID > 0 && !alive(h.PID) {
		// The lock is held, so its holder lives: in another PID namespace
		// (a container) or on another machine sharing the directory.
		h.Unseen = true
	}
	return h
}

func parse(f *os.File) Holder {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	var h Holder
	for line := range strings.SplitSeq(string(buf[:n]), "\n") {
		key, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch key {
		case "pid":
			h.PID, _ = strconv.Atoi(value)
		case "started":
			h.Started, _ = time.Parse(time.RFC3339, value)
		case "command":
			h.Command = value
		}
	}
	return h
}

// alive says whether a process with this pid exists (EPERM: it does, as
// another user's).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
