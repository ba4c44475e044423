package notify_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/notify"
	"github.com/greenlight-cd/greenlight/store"
)

// flakyStore is the real store with one fault switch: while down,
// EnqueueMail fails as if the database were unreachable.
type flakyStore struct {
	*store.DB
	down atomic.Bool
}

func (f *flakyStore) EnqueueMail(ctx context.Context, m *greenlight.Mail) (bool, error) {
	if f.down.Load() {
		return false, errors.New("database is down")
	}
	return f.DB.EnqueueMail(ctx, m)
}

func TestHandlerErrorStopsAtTheEventAndRetries(t *testing.T) {
	e := newEnv(t)
	flaky := &flakyStore{DB: e.db}
	n := notifyWith(e, flaky)
	r1, r2 := e.run(commit()), e.run(commit())
	first := e.event(greenlight.EventStageStarted, r1.ID, map[string]string{"stage": "build"})
	failing := e.event(greenlight.EventRunFinished, r1.ID, greenlight.RunFinished{Status: greenlight.RunFailed})
	last := e.event(greenlight.EventRunFinished, r2.ID, greenlight.RunFinished{Status: greenlight.RunFailed})

	flaky.down.Store(true)
	err := n.Drain(t.Context())
	if err == nil {
		t.Fatal("Drain with the database down succeeded, want an error")
	}
	if got := e.cursor(); got != first.Seq {
		t.Errorf("cursor = %d, want %d: stop before event %d, never skip it", got, first.Seq, failing.Seq)
	}
	if n := len(e.mails()); n != 0 {
		t.Errorf("mails = %d, want 0", n)
	}

	flaky.down.Store(false)
	if err := n.Drain(t.Context()); err != nil {
		t.Fatalf("Drain after recovery: %v", err)
	}
	if got := e.cursor(); got != last.Seq {
		t.Errorf("cursor = %d, want %d", got, last.Seq)
	}
	if n := len(e.mails()); n != 2 {
		t.Errorf("mails = %d, want 2 (one per failed run)", n)
	}
}

func TestRunWakesOnKickAndStopsWithContext(t *testing.T) {
	e := newEnv(t)
	kicked := make(chan struct{}, 10)
	n := notifyWith(e, e.db, func() { kicked <- struct{}{} })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	r := e.run(commit())
	a := e.approval(r, "pm@example.com")
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	n.Kick()
	n.Kick() // never blocks, however often
	select {
	case <-kicked: // Enqueued was called: the mail is queued
	case <-time.After(5 * time.Second):
		t.Fatal("the notifier did not queue the approval mail")
	}
	if got := len(e.mails()); got != 1 {
		t.Errorf("mails = %d, want 1", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after ctx is done", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx was done")
	}
}

func TestRunRefusesUnusableConfig(t *testing.T) {
	e := newEnv(t)
	for _, cfg := range []notify.Config{
		{Store: e.db, PublicURL: ""},
		{Store: e.db, PublicURL: "/relative"},
		{Store: e.db, PublicURL: "javascript:alert(1)"},
		{PublicURL: publicURL},
	} {
		err := notify.New(cfg).Run(t.Context())
		if greenlight.ErrorCode(err) != greenlight.EINVALID {
			t.Errorf("Run with %+v = %v, want EINVALID", cfg, err)
		}
	}
}
