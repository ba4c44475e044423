package storetest

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func newMail(key string, created time.Time) *greenlight.Mail {
	return &greenlight.Mail{Key: key, To: []string{"pm@example.com", "cto@example.com"},
		Subject: "Approve hello #1", Text: "Approve: http://x/approvals/t", HTML: "<p>Approve</p>",
		CreatedAt: created, NextAttempt: created}
}

func testMail(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	m := newMail("approval-1-pm", at(0))
	ok, err := s.EnqueueMail(ctx, m)
	must(t, err)
	if !ok || m.ID <= 0 {
		t.Fatalf("first enqueue: got %v with id %d, want true and an id", ok, m.ID)
	}
	again := newMail("approval-1-pm", at(time.Minute))
	again.Subject = "a second copy"
	ok, err = s.EnqueueMail(ctx, again)
	must(t, err)
	if ok || again.ID != 0 {
		t.Fatalf("same key again: got %v with id %d, want false and no id", ok, again.ID)
	}
	// Mail without a key is never deduplicated.
	for range 2 {
		ok, err := s.EnqueueMail(ctx, newMail("", at(time.Second)))
		must(t, err)
		if !ok {
			t.Fatal("keyless mail: got false, want true")
		}
	}
	list, err := s.Mails(ctx, 0)
	must(t, err)
	if len(list) != 3 {
		t.Fatalf("got %d mails, want 3", len(list))
	}
	if !reflect.DeepEqual(list[2], m) {
		t.Fatalf("round trip (oldest is last):\n got %+v\nwant %+v", list[2], m)
	}
	if list[0].ID < list[1].ID || list[1].ID < list[2].ID {
		t.Errorf("got ids %d, %d, %d, want newest first", list[0].ID, list[1].ID, list[2].ID)
	}
	limited, err := s.Mails(ctx, 1)
	must(t, err)
	if len(limited) != 1 || limited[0].ID != list[0].ID {
		t.Errorf("limit 1: got %d mails, want the newest", len(limited))
	}

	must(t, s.RedactMail(ctx, m.ID, "link removed", "<p>link removed</p>"))
	got, err := s.Mails(ctx, 0)
	must(t, err)
	if r := got[len(got)-1]; r.Text != "link removed" || r.HTML != "<p>link removed</p>" || r.Subject != m.Subject {
		t.Errorf("after RedactMail: %+v", r)
	}
	wantCode(t, s.RedactMail(ctx, m.ID+100, "", ""), greenlight.ENOTFOUND)

	// A decision mail keeps whose links it carries; other mail has none.
	decision := newMail("approval-2-cto", at(time.Hour))
	decision.ApprovalID, decision.Approver = 2, "cto@example.com"
	decision.Text = "Approve: http://x/approvals/" + greenlight.TokenPlaceholder + "?decision=approve"
	ok, err = s.EnqueueMail(ctx, decision)
	must(t, err)
	if !ok {
		t.Fatal("decision mail: got false, want true")
	}
	got, err = s.Mails(ctx, 1)
	must(t, err)
	if !reflect.DeepEqual(got[0], decision) {
		t.Errorf("decision mail round trip:\n got %+v\nwant %+v", got[0], decision)
	}
	due, err := s.DueMail(ctx, at(2*time.Hour), 0)
	must(t, err)
	found := 0
	for _, d := range due {
		if d.ID == decision.ID {
			found++
			if d.ApprovalID != 2 || d.Approver != "cto@example.com" {
				t.Errorf("DueMail lost the binding: %+v", d)
			}
		}
		if d.ID == m.ID {
			found++
			if d.ApprovalID != 0 || d.Approver != "" {
				t.Errorf("plain mail has a binding: %+v", d)
			}
		}
	}
	if found != 2 {
		t.Errorf("DueMail returned %d of the 2 mails due", found)
	}
	wantCode(t, s.MarkMailSent(ctx, m.ID+100, at(0)), greenlight.ENOTFOUND)
	wantCode(t, s.MarkMailFailed(ctx, m.ID+100, "x", at(0)), greenlight.ENOTFOUND)
}

// testEnqueueMailRace: a subscriber handling one event twice, concurrently,
// still queues one mail.
func testEnqueueMailRace(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	var inserted atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			ok, err := s.EnqueueMail(ctx, newMail("run-3-failed", at(0)))
			if err != nil {
				errs <- err
			}
			if ok {
				inserted.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := inserted.Load(); got != 1 {
		t.Fatalf("got %d inserts, want exactly 1", got)
	}
	list, err := s.Mails(ctx, 0)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("got %d mails, want 1", len(list))
	}
}

func testDueMail(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	ids := map[string]int64{}
	for i, name := range []string{"a", "b", "c", "d"} {
		m := newMail(name, at(time.Duration(i)*time.Second))
		if name == "c" {
			m.NextAttempt = at(time.Hour) // deferred
		}
		_, err := s.EnqueueMail(ctx, m)
		must(t, err)
		ids[name] = m.ID
	}
	due := func(now time.Time, limit int) []int64 {
		t.Helper()
		list, err := s.DueMail(ctx, now, limit)
		must(t, err)
		got := make([]int64, len(list))
		for i, m := range list {
			got[i] = m.ID
		}
		return got
	}
	check := func(name string, got []int64, want ...string) {
		t.Helper()
		w := make([]int64, len(want))
		for i, n := range want {
			w[i] = ids[n]
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %v, want %v", name, got, w)
		}
	}
	check("before any is due", due(at(-time.Second), 0))
	check("at a's time (inclusive)", due(at(0), 0), "a")
	check("all but the deferred, oldest first", due(at(time.Minute), 0), "a", "b", "d")
	check("limit", due(at(time.Minute), 2), "a", "b")

	must(t, s.MarkMailSent(ctx, ids["a"], at(time.Minute)))
	must(t, s.MarkMailFailed(ctx, ids["b"], "550 mailbox unavailable", at(30*time.Minute)))
	check("sent and failed mail leave", due(at(time.Minute), 0), "d")
	check("failed mail returns at its next attempt", due(at(time.Hour), 0), "b", "c", "d")

	list, err := s.Mails(ctx, 0)
	must(t, err)
	for _, m := range list {
		switch m.ID {
		case ids["a"]:
			if m.SentAt == nil || !m.SentAt.Equal(at(time.Minute)) || m.Attempts != 1 {
				t.Errorf("sent mail: got sent_at %v attempts %d, want %v and 1", m.SentAt, m.Attempts, at(time.Minute))
			}
		case ids["b"]:
			if m.SentAt != nil || m.Attempts != 1 || m.LastError != "550 mailbox unavailable" || !m.NextAttempt.Equal(at(30*time.Minute)) {
				t.Errorf("failed mail: got %+v", m)
			}
		}
	}
	must(t, s.MarkMailFailed(ctx, ids["b"], "timeout", at(2*time.Hour)))
	list, err = s.DueMail(ctx, at(3*time.Hour), 0)
	must(t, err)
	for _, m := range list {
		if m.ID == ids["b"] && (m.Attempts != 2 || m.LastError != "timeout") {
			t.Errorf("failed twice: got attempts %d error %q, want 2 and timeout", m.Attempts, m.LastError)
		}
	}
}

func testRecordDelivery(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	tests := []struct {
		pipeline, id string
		want         bool
	}{
		{"hello", "d-1", true},
		{"hello", "d-1", false},
		{"hello", "d-2", true},
		{"other", "d-1", true}, // ids are per pipeline
		{"other", "d-1", false},
	}
	for i, tt := range tests {
		got, err := s.RecordDelivery(ctx, tt.pipeline, tt.id, at(time.Duration(i)*time.Second))
		must(t, err)
		if got != tt.want {
			t.Errorf("delivery %d (%s %s): got %v, want %v", i, tt.pipeline, tt.id, got, tt.want)
		}
	}
}
