package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/forge"
	"github.com/greenlight-cd/greenlight/mail"
	"github.com/greenlight-cd/greenlight/notify"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

// countingStore counts the queries by which the outbox senders look for
// work: while nothing is due, a sender that waits makes none.
type countingStore struct {
	greenlight.Store
	n atomic.Int64
}

func (s *countingStore) DueMail(ctx context.Context, now time.Time, limit int) ([]*greenlight.Mail, error) {
	s.n.Add(1)
	return s.Store.DueMail(ctx, now, limit)
}

func (s *countingStore) NextMailAttempt(ctx context.Context, after time.Time) (time.Time, error) {
	s.n.Add(1)
	return s.Store.NextMailAttempt(ctx, after)
}

func (s *countingStore) DueStatuses(ctx context.Context, now time.Time, limit int) ([]*greenlight.CommitStatus, error) {
	s.n.Add(1)
	return s.Store.DueStatuses(ctx, now, limit)
}

func (s *countingStore) NextStatusAttempt(ctx context.Context, after time.Time) (time.Time, error) {
	s.n.Add(1)
	return s.Store.NextStatusAttempt(ctx, after)
}

func (s *countingStore) DueNotices(ctx context.Context, now time.Time, limit int) ([]*greenlight.Notice, error) {
	s.n.Add(1)
	return s.Store.DueNotices(ctx, now, limit)
}

func (s *countingStore) NextNoticeAttempt(ctx context.Context, after time.Time) (time.Time, error) {
	s.n.Add(1)
	return s.Store.NextNoticeAttempt(ctx, after)
}

// sender is what the wait test needs of an outbox sender.
type sender interface {
	Run(ctx context.Context) error
	Kick()
}

// TestSendersWaitForDueTime: on the wall clock, an idle sender asks the
// store nothing; a row queued (and kicked, as the queuing side does) wakes
// it at once; a row due at T is sent at T, with no query in between.
func TestSendersWaitForDueTime(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Now().UTC() }
	tests := []struct {
		name  string
		start func(t *testing.T, cs *countingStore) sender
		queue func(t *testing.T, db greenlight.Store, due time.Time) (sent func() bool)
	}{
		{"mail", func(t *testing.T, cs *countingStore) sender {
			return notify.NewDispatcher(cs, &mail.Outbox{}, false, now, nil)
		}, func(t *testing.T, db greenlight.Store, due time.Time) func() bool {
			m := &greenlight.Mail{To: []string{"pm@example.com"}, Subject: "Reminder", Text: "x", CreatedAt: now(), NextAttempt: due}
			if _, err := db.EnqueueMail(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			return func() bool {
				list, err := db.Mails(t.Context(), 1)
				return err == nil && len(list) == 1 && list[0].SentAt != nil
			}
		}},
		{"status", func(t *testing.T, cs *countingStore) sender {
			srv := httptest.NewServer(&fakeForge{})
			t.Cleanup(srv.Close)
			client, err := forge.New(forge.Config{Type: forge.GitLab, API: srv.URL + "/api/v4", Repo: "acme/hello", Token: forgeToken})
			if err != nil {
				t.Fatal(err)
			}
			return notify.NewStatusSender(cs, func(string) forge.Client { return client }, now, nil)
		}, func(t *testing.T, db greenlight.Store, due time.Time) func() bool {
			s := &greenlight.CommitStatus{Pipeline: "hello", RunID: 7, SHA: "0123456789abcdef0123456789abcdef01234567",
				Context: "greenlight/hello", State: greenlight.StatusPending, Description: "waiting",
				TargetURL: "https://ci.example.com/runs/7", NextAttempt: due, UpdatedAt: now()}
			if err := db.QueueStatus(t.Context(), s); err != nil {
				t.Fatal(err)
			}
			return func() bool {
				list, err := db.CommitStatuses(t.Context(), s.Pipeline, s.SHA)
				return err == nil && len(list) == 1 && list[0].DoneAt != nil
			}
		}},
		{"notice", func(t *testing.T, cs *countingStore) sender {
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			t.Cleanup(srv.Close)
			return notify.NewPoster(cs, []notify.Target{{Name: "hook", Type: greenlight.NotifyWebhook, URL: srv.URL, Secret: "s"}}, now, nil)
		}, func(t *testing.T, db greenlight.Store, due time.Time) func() bool {
			n := &greenlight.Notice{Notification: "hook", Type: greenlight.NotifyWebhook, Pipeline: "hello", RunID: 7,
				Seq: 1, Event: greenlight.NoticeStageStarted, DeliveryID: "d1", Body: `{}`, NextAttempt: due, CreatedAt: now()}
			if _, err := db.QueueNotice(t.Context(), n); err != nil {
				t.Fatal(err)
			}
			return func() bool {
				list, err := db.Notices(t.Context(), "hook", 1)
				return err == nil && len(list) == 1 && list[0].Status == greenlight.NoticeDelivered
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := storetest.SQLite(t)
			cs := &countingStore{Store: db}
			s := tt.start(t, cs)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); s.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			checkWaits(t, cs, s.Kick, func(due time.Time) func() bool { return tt.queue(t, db, due) })
		})
	}
}

// checkWaits is the common part of the loops' wait tests: idle for 2s,
// then a row due in 1.5s queued and kicked.
func checkWaits(t *testing.T, cs interface{ Load() int64 }, kick func(), queue func(due time.Time) (done func() bool)) {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // the first look, at start
	before := cs.Load()
	time.Sleep(2 * time.Second)
	if n := cs.Load() - before; n != 0 {
		t.Errorf("idle for 2s: %d queries for due work, want 0", n)
	}
	due := time.Now().Add(1500 * time.Millisecond)
	sent := queue(due)
	before = cs.Load()
	kick()
	deadline := time.Now().Add(200 * time.Millisecond)
	for cs.Load() == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if cs.Load() == before {
		t.Fatal("the kick after queuing did not wake the loop within 200ms")
	}
	time.Sleep(100 * time.Millisecond)
	woken := cs.Load()
	time.Sleep(time.Until(due.Add(-200 * time.Millisecond)))
	if sent() {
		t.Fatalf("done %s before it was due", time.Until(due))
	}
	if n := cs.Load() - woken; n != 0 {
		t.Errorf("waiting for the row due at T: %d queries before T, want 0", n)
	}
	for !sent() {
		if time.Now().After(due.Add(5 * time.Second)) {
			t.Fatal("not done within 5s of its due time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if late := time.Since(due); late > 400*time.Millisecond {
		t.Errorf("done %s after its due time, want within 400ms", late)
	} else {
		t.Logf("done %s after its due time", late)
	}
}

func (s *countingStore) Load() int64 { return s.n.Load() }

func (s *countingStore) Events(ctx context.Context, after int64, limit int) ([]greenlight.Event, error) {
	s.n.Add(1)
	return s.Store.Events(ctx, after, limit)
}

func (s *countingStore) Cursor(ctx context.Context, name string) (int64, error) {
	s.n.Add(1)
	return s.Store.Cursor(ctx, name)
}

// TestEventLoopWaitsForKick: an idle event loop reads nothing from the
// log; an event appended and kicked (as every writer in the server does)
// is handled at once.
func TestEventLoopWaitsForKick(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cs := &countingStore{Store: e.db}
	kicked := make(chan struct{}, 10)
	l := notify.NewLoop(cs, nil, notifyWith(e, cs, func() { kicked <- struct{}{} }))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	time.Sleep(300 * time.Millisecond) // the first look, at start
	before := cs.Load()
	time.Sleep(2 * time.Second)
	if n := cs.Load() - before; n != 0 {
		t.Errorf("idle for 2s: %d reads of the event log, want 0", n)
	}
	r := e.run(commit())
	a := e.approval(r, "pm@example.com")
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	start := time.Now()
	l.Kick()
	select {
	case <-kicked:
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Errorf("the event was handled %s after the kick, want at once", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the kick did not make the loop handle the event")
	}
}
