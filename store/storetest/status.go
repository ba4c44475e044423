package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func newStatus(context string, state greenlight.StatusState, at time.Time) *greenlight.CommitStatus {
	return &greenlight.CommitStatus{Pipeline: "hello", RunID: 7, SHA: "0123456789abcdef0123456789abcdef01234567",
		Context: context, State: state, Description: "build running", TargetURL: "https://ci.example.com/runs/7",
		NextAttempt: at, UpdatedAt: at}
}

// testStatusOutbox: a queued status round-trips, a newer state of the same
// context replaces it (coalescing) and bumps its version, and marks made for
// an older version change nothing.
func testStatusOutbox(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	build := newStatus("greenlight/hello/build", greenlight.StatusRunning, at(0))
	must(t, s.QueueStatus(ctx, build))
	if build.ID <= 0 || build.Version != 1 {
		t.Fatalf("first queue: id %d version %d, want an id and version 1", build.ID, build.Version)
	}
	run := newStatus("greenlight/hello", greenlight.StatusPending, at(time.Second))
	must(t, s.QueueStatus(ctx, run))

	due, err := s.DueStatuses(ctx, at(0), 0)
	must(t, err)
	if len(due) != 1 || !reflect.DeepEqual(due[0], build) {
		t.Fatalf("due at 0: got %+v, want only %+v", due, build)
	}

	// Posting build v1 fails; meanwhile the build finished: v2 replaces v1.
	ok, err := s.MarkStatusFailed(ctx, build.ID, 1, "HTTP 502", at(time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("MarkStatusFailed of the current version: got false")
	}
	passed := newStatus("greenlight/hello/build", greenlight.StatusSuccess, at(2*time.Second))
	passed.Description = "build passed in 2s"
	must(t, s.QueueStatus(ctx, passed))
	if passed.ID != build.ID || passed.Version != 2 {
		t.Fatalf("newer state: id %d version %d, want id %d version 2", passed.ID, passed.Version, build.ID)
	}
	// The outcome of an attempt at v1 must not touch v2.
	for _, mark := range []func() (bool, error){
		func() (bool, error) { return s.MarkStatusDone(ctx, build.ID, 1, at(3*time.Second), "") },
		func() (bool, error) { return s.MarkStatusFailed(ctx, build.ID, 1, "late", at(time.Hour)) },
	} {
		ok, err := mark()
		must(t, err)
		if ok {
			t.Fatal("mark of a replaced version: got true, want false")
		}
	}
	due, err = s.DueStatuses(ctx, at(2*time.Second), 10)
	must(t, err)
	if len(due) != 2 || due[0].ID != build.ID || due[1].ID != run.ID {
		t.Fatalf("due at 2s: got %d statuses, want build then run", len(due))
	}
	if got := due[0]; got.State != greenlight.StatusSuccess || got.Attempts != 0 || got.LastError != "" ||
		got.Description != "build passed in 2s" || got.Version != 2 {
		t.Errorf("replaced status: got %+v, want success v2 with no attempts and no error", got)
	}

	ok, err = s.MarkStatusDone(ctx, build.ID, 2, at(4*time.Second), "")
	must(t, err)
	if !ok {
		t.Fatal("MarkStatusDone of the current version: got false")
	}
	ok, err = s.MarkStatusDone(ctx, run.ID, 1, at(4*time.Second), "HTTP 401: Bad credentials")
	must(t, err)
	if !ok {
		t.Fatal("MarkStatusDone (given up): got false")
	}
	due, err = s.DueStatuses(ctx, at(time.Hour), 0)
	must(t, err)
	if len(due) != 0 {
		t.Fatalf("due after done: got %d, want 0", len(due))
	}

	list, err := s.CommitStatuses(ctx, "hello", build.SHA)
	must(t, err)
	if len(list) != 2 || list[0].Context != "greenlight/hello" || list[1].Context != "greenlight/hello/build" {
		t.Fatalf("CommitStatuses: got %+v, want the run's then the build's", list)
	}
	if d := list[1].DoneAt; d == nil || !d.Equal(at(4*time.Second)) || list[1].Attempts != 1 {
		t.Errorf("posted status: done %v attempts %d, want done at 4s after 1 attempt", d, list[1].Attempts)
	}
	if list[0].LastError != "HTTP 401: Bad credentials" || list[0].DoneAt == nil {
		t.Errorf("given-up status: %+v, want done with its reason", list[0])
	}
	other, err := s.CommitStatuses(ctx, "other", build.SHA)
	must(t, err)
	if len(other) != 0 {
		t.Errorf("another pipeline's statuses: got %d, want 0", len(other))
	}

	// A new state after done makes the row due again.
	again := newStatus("greenlight/hello/build", greenlight.StatusRunning, at(time.Minute))
	must(t, s.QueueStatus(ctx, again))
	due, err = s.DueStatuses(ctx, at(time.Minute), 0)
	must(t, err)
	if len(due) != 1 || due[0].DoneAt != nil || due[0].Version != 3 || due[0].Attempts != 0 {
		t.Fatalf("re-queued after done: got %+v, want one due row at version 3", due)
	}
}
