package source

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A goroutine waiting for a mirror held by a slow fetch must give up when
// its ctx ends, not queue behind the fetch for as long as it takes.
func TestMirrorLockHonoursContext(t *testing.T) {
	g := newGit(t)
	m := g.mirror("https://example.com/repo.git")
	unlock, err := m.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	for _, tc := range []struct {
		name string
		take func(context.Context) (func(), error)
	}{
		{"rlock", m.rlock},
		{"lock", m.lock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				u, err := tc.take(ctx)
				if err == nil {
					u()
				}
				done <- err
			}()
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("%s with a cancelled ctx = %v, want context.Canceled", tc.name, err)
				}
			case <-time.After(time.Minute):
				t.Fatalf("%s ignored its cancelled ctx", tc.name)
			}
		})
	}
}

// Readers share a mirror; a writer waits for them and, once they leave,
// gets it; readers arriving while a writer waits queue behind it.
func TestMirrorLockSharing(t *testing.T) {
	g := newGit(t)
	m := g.mirror("https://example.com/repo.git")
	ctx := context.Background()
	r1, err := m.rlock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := m.rlock(ctx)
	if err != nil {
		t.Fatal("second reader blocked by the first:", err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := m.lock(ctx)
		if err != nil {
			t.Error(err)
			u = func() {}
		}
		got <- u
	}()
	r1()
	r2()
	unlock := <-got
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.rlock(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("rlock while written = %v, want context.Canceled", err)
	}
	unlock()
	r, err := m.rlock(ctx)
	if err != nil {
		t.Fatal("rlock after the writer left:", err)
	}
	r()
}
