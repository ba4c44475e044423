package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A mirror is guarded twice: by an rwsem inside this process and by
// flock(2) on <dir>/<name>.lock across processes (two servers, or a server
// and a command-line tool, sharing one cache directory). Readers take both
// shared, a fetch or a re-clone both exclusive; the mutex comes first so
// this process's goroutines queue in memory rather than on the file.

// rlock takes m's locks for reading; unlock releases them.
func (m mirror) rlock(ctx context.Context) (unlock func(), err error) {
	if err := m.mu.acquire(ctx, false); err != nil {
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	f, err := flock(ctx, m.lockPath, syscall.LOCK_SH)
	if err != nil {
		m.mu.release(false)
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	return func() { f.Close(); m.mu.release(false) }, nil
}

// lock takes m's locks for writing; unlock releases them.
func (m mirror) lock(ctx context.Context) (unlock func(), err error) {
	if err := m.mu.acquire(ctx, true); err != nil {
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	f, err := flock(ctx, m.lockPath, syscall.LOCK_EX)
	if err != nil {
		m.mu.release(true)
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	return func() { f.Close(); m.mu.release(true) }, nil
}

// rwsem is a readers-writer lock whose waiters give up when their ctx ends:
// a sync.RWMutex cannot be abandoned, so one slow fetch would stall every
// reader (a webhook's paths filter among them) for as long as it runs. Like
// sync.RWMutex it lets no new reader in while a writer waits, so a stream of
// readers cannot starve a fetch.
type rwsem struct {
	mu      sync.Mutex
	readers int           // holding
	writer  bool          // holding
	waiting int           // writers waiting
	changed chan struct{} // closed, and replaced, whenever the state changes
}

func newRWSem() *rwsem { return &rwsem{changed: make(chan struct{})} }

// acquire takes s shared, or exclusive when write, or returns ctx's error.
func (s *rwsem) acquire(ctx context.Context, write bool) error {
	s.mu.Lock()
	if write {
		s.waiting++
	}
	for {
		if write && !s.writer && s.readers == 0 {
			s.waiting--
			s.writer = true
			s.mu.Unlock()
			return nil
		}
		if !write && !s.writer && s.waiting == 0 {
			s.readers++
			s.mu.Unlock()
			return nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			if write {
				// Readers held back for this writer may go now.
				s.mu.Lock()
				s.waiting--
				s.broadcast()
				s.mu.Unlock()
			}
			return ctx.Err()
		case <-changed:
		}
		s.mu.Lock()
	}
}

// release gives back what acquire(ctx, write) took.
func (s *rwsem) release(write bool) {
	s.mu.Lock()
	if write {
		s.writer = false
	} else {
		s.readers--
	}
	s.broadcast()
	s.mu.Unlock()
}

// broadcast wakes every waiter to look again; s.mu must be held.
func (s *rwsem) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
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
