package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

func testEnvironmentLock(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	_, err := s.EnvironmentLock(ctx, "hello", "production")
	wantCode(t, err, greenlight.ENOTFOUND)
	if ok, err := s.UnlockEnvironment(ctx, "hello", "production"); err != nil || ok {
		t.Fatalf("unlocking an unlocked environment = %v, %v; want false", ok, err)
	}

	l := &greenlight.EnvironmentLock{Pipeline: "hello", Environment: "production", Reason: "incident 123", By: "admin", At: at(0)}
	if ok, err := s.LockEnvironment(ctx, l); err != nil || !ok {
		t.Fatalf("LockEnvironment = %v, %v; want true", ok, err)
	}
	// A second lock changes nothing: the first one's reason stays.
	again := &greenlight.EnvironmentLock{Pipeline: "hello", Environment: "production", Reason: "other", By: "ops", At: at(1)}
	if ok, err := s.LockEnvironment(ctx, again); err != nil || ok {
		t.Fatalf("locking a locked environment = %v, %v; want false", ok, err)
	}
	// Other environments and pipelines are not locked by it.
	if ok, err := s.LockEnvironment(ctx, &greenlight.EnvironmentLock{Pipeline: "other", Environment: "production", Reason: "x", By: "admin", At: at(0)}); err != nil || !ok {
		t.Fatalf("locking another pipeline's environment = %v, %v; want true", ok, err)
	}
	_, err = s.EnvironmentLock(ctx, "hello", "staging")
	wantCode(t, err, greenlight.ENOTFOUND)

	got, err := s.EnvironmentLock(ctx, "hello", "production")
	must(t, err)
	if *got != *l {
		t.Errorf("EnvironmentLock = %+v, want %+v", got, l)
	}
	must(t, s.InTx(ctx, func(tx greenlight.Tx) error {
		ok, err := tx.UnlockEnvironment(ctx, "hello", "production")
		if err == nil && !ok {
			t.Error("UnlockEnvironment in a transaction = false, want true")
		}
		return err
	}))
	_, err = s.EnvironmentLock(ctx, "hello", "production")
	wantCode(t, err, greenlight.ENOTFOUND)
	if _, err := s.EnvironmentLock(ctx, "other", "production"); err != nil {
		t.Errorf("the other pipeline's lock went too: %v", err)
	}

	// Racing locks: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.LockEnvironment(ctx, &greenlight.EnvironmentLock{Pipeline: "race", Environment: "production",
				Reason: "r", By: "admin", At: at(0)})
			if err != nil {
				t.Errorf("lock %d: %v", i, err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of 8 racing locks won, want 1", n)
	}
}
