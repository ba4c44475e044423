package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func newNotice(notification, pipeline string, seq int64, event string, created time.Time) *greenlight.Notice {
	return &greenlight.Notice{Notification: notification, Type: greenlight.NotifyWebhook, Pipeline: pipeline,
		RunID: 7, Seq: seq, Event: event, DeliveryID: fmt.Sprintf("%s-%d-%s", notification, seq, event),
		Body: `{"event":"` + event + `"}`, NextAttempt: created, CreatedAt: created}
}

func ids(list []*greenlight.Notice) []int64 {
	out := []int64{}
	for _, n := range list {
		out = append(out, n.ID)
	}
	return out
}

// testNotices: queuing is idempotent per (notification, seq, event), every
// field round-trips, and the marks apply to pending notices only.
func testNotices(t *testing.T, s greenlight.Store) {
	ctx := t.Context()
	n := newNotice("itsm", "hello", 3, greenlight.NoticeRunFailed, at(0))
	ok, err := s.QueueNotice(ctx, n)
	must(t, err)
	if !ok || n.ID == 0 {
		t.Fatalf("first QueueNotice = %v, id %d; want inserted with an id", ok, n.ID)
	}
	again := newNotice("itsm", "hello", 3, greenlight.NoticeRunFailed, at(time.Second))
	again.DeliveryID = "other"
	if ok, err := s.QueueNotice(ctx, again); err != nil || ok {
		t.Fatalf("second QueueNotice of the same event = %v, %v; want false, nil", ok, err)
	}
	// Another notification, or another event of the same seq, is its own notice.
	if ok, err := s.QueueNotice(ctx, newNotice("chat", "hello", 3, greenlight.NoticeRunFailed, at(0))); err != nil || !ok {
		t.Fatalf("QueueNotice for another notification = %v, %v; want true", ok, err)
	}

	list, err := s.Notices(ctx, "itsm", 0)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("Notices(itsm) = %d, want 1", len(list))
	}
	got := list[0]
	want := *n
	want.Status = greenlight.NoticePending
	if *got != want {
		t.Errorf("round trip:\n got %+v\nwant %+v", *got, want)
	}
	if all, err := s.Notices(ctx, "", 0); err != nil || len(all) != 2 || all[0].Notification != "chat" {
		t.Errorf("Notices(\"\") = %v, %v; want both, newest first", ids(all), err)
	}

	if ok, err := s.MarkNoticeFailed(ctx, n.ID, "500 Internal Server Error", at(time.Minute)); err != nil || !ok {
		t.Fatalf("MarkNoticeFailed = %v, %v", ok, err)
	}
	if due, err := s.DueNotices(ctx, at(30*time.Second), 0); err != nil || len(due) != 1 || due[0].Notification != "chat" {
		t.Fatalf("DueNotices before the retry = %v, %v; want only chat's", ids(due), err)
	}
	due, err := s.DueNotices(ctx, at(time.Minute), 0)
	must(t, err)
	if len(due) != 2 || due[0].ID != n.ID || due[0].Attempts != 1 || due[0].LastError != "500 Internal Server Error" {
		t.Fatalf("DueNotices at the retry = %+v; want itsm's first with 1 attempt and its error", due)
	}
	if ok, err := s.MarkNoticeDone(ctx, n.ID, greenlight.NoticeDelivered, at(time.Minute), ""); err != nil || !ok {
		t.Fatalf("MarkNoticeDone = %v, %v", ok, err)
	}
	if ok, err := s.MarkNoticeDone(ctx, n.ID, greenlight.NoticeDropped, at(time.Hour), "late"); err != nil || ok {
		t.Fatalf("MarkNoticeDone of a done notice = %v, %v; want false", ok, err)
	}
	if ok, err := s.MarkNoticeFailed(ctx, n.ID, "late", at(time.Hour)); err != nil || ok {
		t.Fatalf("MarkNoticeFailed of a done notice = %v, %v; want false", ok, err)
	}
	list, err = s.Notices(ctx, "itsm", 0)
	must(t, err)
	if g := list[0]; g.Status != greenlight.NoticeDelivered || g.Attempts != 2 || g.DoneAt == nil || !g.DoneAt.Equal(at(time.Minute)) {
		t.Errorf("after delivery: %+v; want delivered, 2 attempts, done at the mark", g)
	}
}

// testNoticeQueues: a notice waits for every older pending notice of its
// notification and pipeline, due or not; other queues do not wait for it.
func testNoticeQueues(t *testing.T, s greenlight.Store) {
	ctx := t.Context()
	queue := func(notification, pipeline string, seq int64) *greenlight.Notice {
		n := newNotice(notification, pipeline, seq, greenlight.NoticeStageStarted, at(0))
		if _, err := s.QueueNotice(ctx, n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	a1, a2 := queue("hook", "a", 1), queue("hook", "a", 2)
	b1 := queue("hook", "b", 3)
	c1 := queue("chat", "a", 1)
	due, err := s.DueNotices(ctx, at(0), 0)
	must(t, err)
	if fmt.Sprint(ids(due)) != fmt.Sprint([]int64{a1.ID, b1.ID, c1.ID}) {
		t.Fatalf("DueNotices = %v, want the heads %v", ids(due), []int64{a1.ID, b1.ID, c1.ID})
	}
	// The head backs off: its successor still waits, even though it is due.
	if _, err := s.MarkNoticeFailed(ctx, a1.ID, "timeout", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	due, err = s.DueNotices(ctx, at(time.Minute), 0)
	must(t, err)
	if fmt.Sprint(ids(due)) != fmt.Sprint([]int64{b1.ID, c1.ID}) {
		t.Fatalf("DueNotices while the head backs off = %v, want %v", ids(due), []int64{b1.ID, c1.ID})
	}
	// Dropped, the head no longer holds its queue.
	if _, err := s.MarkNoticeDone(ctx, a1.ID, greenlight.NoticeDropped, at(time.Minute), "410 Gone"); err != nil {
		t.Fatal(err)
	}
	due, err = s.DueNotices(ctx, at(time.Minute), 1)
	must(t, err)
	if fmt.Sprint(ids(due)) != fmt.Sprint([]int64{a2.ID}) {
		t.Fatalf("DueNotices(limit 1) after the drop = %v, want %v", ids(due), []int64{a2.ID})
	}
}

// testDeleteRunsNotices: deleting a run deletes its done notices and keeps
// the pending ones, which still go out.
func testDeleteRunsNotices(t *testing.T, s greenlight.Store) {
	ctx := t.Context()
	run := createRun(t, s, "hello", at(0))
	queue := func(seq int64) *greenlight.Notice {
		n := newNotice("hook", "hello", seq, greenlight.NoticeRunStarted, at(0))
		n.RunID = run.ID
		if _, err := s.QueueNotice(ctx, n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	done, pending := queue(1), queue(2)
	if _, err := s.MarkNoticeDone(ctx, done.ID, greenlight.NoticeDelivered, at(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRuns(ctx, []int64{run.ID}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Notices(ctx, "", 0)
	must(t, err)
	if len(list) != 1 || list[0].ID != pending.ID {
		t.Errorf("notices after DeleteRuns = %v, want only the pending %d", ids(list), pending.ID)
	}
}
