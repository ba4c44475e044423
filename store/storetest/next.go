package storetest

import (
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// wantNext checks a Next* method: the earliest due time strictly after
// after, zero when there is none.
func wantNext(t *testing.T, what string, next func(after time.Time) (time.Time, error), after, want time.Duration, none bool) {
	t.Helper()
	got, err := next(at(after))
	must(t, err)
	if none {
		if !got.IsZero() {
			t.Errorf("%s after +%s: got %v, want none", what, after, got)
		}
		return
	}
	if !got.Equal(at(want)) {
		t.Errorf("%s after +%s: got %v, want %v", what, after, got, at(want))
	}
}

// testNextMailAttempt: the earliest next attempt of unsent mail after a
// time; sent mail and mail due at or before it do not count.
func testNextMailAttempt(t *testing.T, s greenlight.Store) {
	ctx := t.Context()
	next := func(after time.Time) (time.Time, error) { return s.NextMailAttempt(ctx, after) }
	wantNext(t, "empty", next, 0, 0, true)
	now := newMail("now", at(0))
	reminder := newMail("reminder", at(0))
	reminder.NextAttempt = at(time.Hour)
	escalation := newMail("escalation", at(0))
	escalation.NextAttempt = at(2 * time.Hour)
	for _, m := range []*greenlight.Mail{now, reminder, escalation} {
		_, err := s.EnqueueMail(ctx, m)
		must(t, err)
	}
	wantNext(t, "mail", next, -time.Second, 0, false)
	wantNext(t, "mail", next, 0, time.Hour, false) // strictly after
	wantNext(t, "mail", next, time.Minute, time.Hour, false)
	must(t, s.MarkMailSent(ctx, reminder.ID, at(time.Minute)))
	wantNext(t, "mail after the reminder was sent", next, time.Minute, 2*time.Hour, false)
	must(t, s.MarkMailFailed(ctx, now.ID, "421", at(90*time.Minute)))
	wantNext(t, "mail after a failure", next, time.Minute, 90*time.Minute, false)
	wantNext(t, "mail", next, 2*time.Hour, 0, true)
}

// testNextStatusAttempt: the earliest next attempt of statuses not done.
func testNextStatusAttempt(t *testing.T, s greenlight.Store) {
	ctx := t.Context()
	next := func(after time.Time) (time.Time, error) { return s.NextStatusAttempt(ctx, after) }
	wantNext(t, "empty", next, 0, 0, true)
	build := newStatus("greenlight/hello/build", greenlight.StatusRunning, at(0))
	must(t, s.QueueStatus(ctx, build))
	wantNext(t, "status", next, -time.Second, 0, false)
	wantNext(t, "status", next, 0, 0, true)
	ok, err := s.MarkStatusFailed(ctx, build.ID, build.Version, "HTTP 502", at(time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("MarkStatusFailed: got false")
	}
	wantNext(t, "status backing off", next, time.Second, time.Minute, false)
	ok, err = s.MarkStatusDone(ctx, build.ID, build.Version, at(time.Minute), "")
	must(t, err)
	if !ok {
		t.Fatal("MarkStatusDone: got false")
	}
	wantNext(t, "status done", next, 0, 0, true)
}

// testNextNoticeAttempt: the earliest next attempt of the heads of the
// pending queues; a notice behind a head does not count.
func testNextNoticeAttempt(t *testing.T, s greenlight.Store) {
	ctx := t.Context()
	next := func(after time.Time) (time.Time, error) { return s.NextNoticeAttempt(ctx, after) }
	wantNext(t, "empty", next, 0, 0, true)
	head := newNotice("hook", "a", 1, greenlight.NoticeStageStarted, at(0))
	behind := newNotice("hook", "a", 2, greenlight.NoticeStageStarted, at(0))
	behind.NextAttempt = at(time.Minute) // not a head: never due before head is done
	other := newNotice("hook", "b", 3, greenlight.NoticeStageStarted, at(0))
	for _, n := range []*greenlight.Notice{head, behind, other} {
		_, err := s.QueueNotice(ctx, n)
		must(t, err)
	}
	wantNext(t, "notice", next, -time.Second, 0, false)
	wantNext(t, "notice", next, 0, 0, true) // behind waits for its head
	_, err := s.MarkNoticeFailed(ctx, head.ID, "timeout", at(time.Hour))
	must(t, err)
	_, err = s.MarkNoticeFailed(ctx, other.ID, "timeout", at(2*time.Hour))
	must(t, err)
	wantNext(t, "notice heads backing off", next, 0, time.Hour, false)
	_, err = s.MarkNoticeDone(ctx, head.ID, greenlight.NoticeDropped, at(time.Second), "410 Gone")
	must(t, err)
	wantNext(t, "notice after the head was dropped", next, time.Second, time.Minute, false)
}

// testNextRetirement: the earliest DueAt of retirements not done.
func testNextRetirement(t *testing.T, s greenlight.Store) {
	ctx := t.Context()
	next := func(after time.Time) (time.Time, error) { return s.NextRetirement(ctx, after) }
	wantNext(t, "empty", next, 0, 0, true)
	rel := &greenlight.Release{Pipeline: "hello", Environment: "production", RunID: 1, Status: greenlight.ReleaseLive, DeployedAt: at(0)}
	must(t, s.CreateRelease(ctx, rel))
	var rs []*greenlight.Retirement
	for _, due := range []time.Duration{time.Hour, time.Minute} {
		r := &greenlight.Retirement{Pipeline: "hello", Environment: "production", Group: "blue", ReleaseID: rel.ID, DueAt: at(due)}
		must(t, s.CreateRetirement(ctx, r))
		rs = append(rs, r)
	}
	wantNext(t, "retirement", next, 0, time.Minute, false)
	wantNext(t, "retirement", next, time.Minute, time.Hour, false)
	_, err := s.FinishRetirement(ctx, rs[0].ID, at(time.Second), "retired")
	must(t, err)
	wantNext(t, "retirement after one finished", next, time.Minute, 0, true)
}
