package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

func testInTx(t *testing.T, s greenlight.Store) {
	ctx := context.Background()

	// Commit: writes are visible inside and after.
	var committed int64
	err := s.InTx(ctx, func(tx greenlight.Tx) error {
		r := newRun("hello", at(0))
		if err := tx.CreateRun(ctx, r); err != nil {
			return err
		}
		committed = r.ID
		got, err := tx.Run(ctx, r.ID)
		if err != nil {
			return err
		}
		if len(got.Stages) != 3 {
			t.Errorf("inside the transaction: got %d stages, want 3", len(got.Stages))
		}
		return tx.AppendEvent(ctx, &greenlight.Event{Pipeline: "hello", RunID: r.ID, Type: greenlight.EventRunCreated, CreatedAt: at(0)})
	})
	must(t, err)
	if _, err := s.Run(ctx, committed); err != nil {
		t.Fatalf("after commit: %v", err)
	}

	// Error: everything rolls back and the error comes back unchanged.
	boom := errors.New("boom")
	var rolledBack int64
	err = s.InTx(ctx, func(tx greenlight.Tx) error {
		r := newRun("hello", at(0))
		if err := tx.CreateRun(ctx, r); err != nil {
			return err
		}
		rolledBack = r.ID
		if err := tx.SetCursor(ctx, "mailer", 42); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got error %v, want %v", err, boom)
	}
	_, err = s.Run(ctx, rolledBack)
	wantCode(t, err, greenlight.ENOTFOUND)
	if c, err := s.Cursor(ctx, "mailer"); err != nil || c != 0 {
		t.Fatalf("after rollback: got cursor %d, %v; want 0", c, err)
	}

	// Panic: rolls back, and the panic goes on to the caller.
	var panicked int64
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		_ = s.InTx(ctx, func(tx greenlight.Tx) error {
			r := newRun("hello", at(0))
			if err := tx.CreateRun(ctx, r); err != nil {
				return err
			}
			panicked = r.ID
			panic("bad input")
		})
	}()
	_, err = s.Run(ctx, panicked)
	wantCode(t, err, greenlight.ENOTFOUND)

	// The store still works: no connection or lock was left behind.
	events, err := s.Events(ctx, 0, 10)
	must(t, err)
	if len(events) != 1 {
		t.Fatalf("got %d events, want only the committed one", len(events))
	}
	must(t, s.SetCursor(ctx, "mailer", events[0].Seq))
}
