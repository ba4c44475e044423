package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A mirror is guarded twice: by a sync.RWMutex inside this process and by
// flock(2) on <dir>/<name>.lock across processes (two servers, or a server
// and a command-line tool, sharing one cache directory). Readers take both
// shared, a fetch or a re-clone both exclusive; the mutex comes first so
// this process's goroutines queue in memory rather than on the file.

// rlock takes m's locks for reading; unlock releases them.
func (m mirror) rlock(ctx context.Context) (unlock func(), err error) {
	m.mu.RLock()
	f, err := flock(ctx, m.lockPath, syscall.LOCK_SH)
	if err != nil {
		m.mu.RUnlock()
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	return func() { f.Close(); m.mu.RUnlock() }, nil
}

// lock takes m's locks for writing; unlock releases them.
func (m mirror) lock(ctx context.Context) (unlock func(), err error) {
	m.mu.Lock()
	f, err := flock(ctx, m.lockPath, syscall.LOCK_EX)
	if err != nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	return func() { f.Close(); m.mu.Unlock() }, nil
}

// flock opens path and locks it (LOCK_SH or LOCK_EX); closing the file
// unlocks. flock(2) cannot be interrupted by a context, so it is tried
// without blocking and retried with a growing pause until ctx ends.
func flock(ctx context.Context, path string, how int) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	pause := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// removeStaleClones removes what crashed clones left in <dir>/tmp. A clone
// works in tmp/<mirror name>-<random> while holding that mirror's exclusive
// lock, so a directory whose mirror can be locked at once is abandoned; one
// whose mirror is locked may be another process's clone in progress and is
// left alone.
func (g *Git) removeStaleClones() {
	tmp := filepath.Join(g.dir, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		name, _, ok := strings.Cut(e.Name(), "-")
		if !ok || len(name) != 64 {
			continue
		}
		f, err := os.OpenFile(filepath.Join(g.dir, name+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
				g.log.Warn("remove unfinished clone", "dir", e.Name(), "err", err)
			}
		}
		f.Close()
	}
}
