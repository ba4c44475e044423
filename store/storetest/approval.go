package storetest

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func testApproval(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	a := createApproval(t, s)
	if a.ID <= 0 {
		t.Fatalf("got approval id %d, want > 0", a.ID)
	}
	// Decisions come back in time order, not insertion order.
	late := greenlight.Decision{ApprovalID: a.ID, Approver: "cto@example.com", Verdict: greenlight.Approve,
		Comment: "ship it", IP: "192.0.2.1", UserAgent: "Mozilla/5.0", At: at(2 * time.Hour), Rule: "exec"}
	early := greenlight.Decision{ApprovalID: a.ID, Approver: "pm@example.com", Verdict: greenlight.Reject,
		Comment: "not yet", IP: "2001:db8::1", UserAgent: "curl/8", At: at(time.Hour)}
	must(t, s.AddDecision(ctx, &late))
	must(t, s.AddDecision(ctx, &early))
	a.Decisions = []greenlight.Decision{early, late}

	got, err := s.Approval(ctx, a.ID)
	must(t, err)
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, a)
	}
	got, err = s.ApprovalForStage(ctx, a.RunID, "approval")
	must(t, err)
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("for stage:\n got %+v\nwant %+v", got, a)
	}

	_, err = s.Approval(ctx, a.ID+100)
	wantCode(t, err, greenlight.ENOTFOUND)
	_, err = s.ApprovalForStage(ctx, a.RunID, "other")
	wantCode(t, err, greenlight.ENOTFOUND)
	wantCode(t, s.AddDecision(ctx, &greenlight.Decision{ApprovalID: a.ID + 100, At: at(0)}), greenlight.ENOTFOUND)

	dup := *a
	dup.ID = 0
	wantCode(t, s.CreateApproval(ctx, &dup), greenlight.ECONFLICT)
	orphan := *a
	orphan.ID, orphan.RunID = 0, a.RunID+100
	wantCode(t, s.CreateApproval(ctx, &orphan), greenlight.ENOTFOUND)

	// Approvals filters by status, newest first.
	b := createApproval(t, s)
	c := createApproval(t, s)
	_, err = s.SetApprovalStatus(ctx, b.ID, greenlight.ApprovalApproved, at(time.Hour))
	must(t, err)
	tests := []struct {
		status greenlight.ApprovalStatus
		want   []int64
	}{
		{"", []int64{c.ID, b.ID, a.ID}},
		{greenlight.ApprovalPending, []int64{c.ID, a.ID}},
		{greenlight.ApprovalApproved, []int64{b.ID}},
		{greenlight.ApprovalExpired, []int64{}},
	}
	for _, tt := range tests {
		list, err := s.Approvals(ctx, tt.status)
		must(t, err)
		ids := make([]int64, len(list))
		for i, x := range list {
			ids[i] = x.ID
		}
		if !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("approvals %q: got %v, want %v", tt.status, ids, tt.want)
		}
		for _, x := range list {
			if x.ID == a.ID && len(x.Decisions) != 2 {
				t.Errorf("approval %d in list: got %d decisions, want 2", a.ID, len(x.Decisions))
			}
		}
	}
	// A gate written without rules, exclusions or wait (as before they
	// existed) reads back with empty lists and opened when it was created.
	r := createRun(t, s, "legacy", at(0))
	old := &greenlight.Approval{RunID: r.ID, Pipeline: "legacy", Stage: "approval", Approvers: []string{"pm@example.com"},
		Required: 1, Deadline: at(time.Hour), Status: greenlight.ApprovalPending, CreatedAt: at(time.Second)}
	must(t, s.CreateApproval(ctx, old))
	got, err = s.Approval(ctx, old.ID)
	must(t, err)
	if !got.OpensAt.Equal(at(time.Second)) || got.Rules == nil || len(got.Rules) != 0 || got.Excluded == nil ||
		got.EscalateAt != nil || len(got.RemindAt) != 0 || got.CommentRequired != "" {
		t.Errorf("legacy gate reads back as %+v", got)
	}
}

func testApprovalConditional(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	a := createApproval(t, s)

	ok, err := s.LockApproval(ctx, a.ID, at(time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("lock of a pending approval: got false, want true")
	}
	ok, err = s.SetApprovalStatus(ctx, a.ID, greenlight.ApprovalRejected, at(time.Hour))
	must(t, err)
	if !ok {
		t.Fatal("first status change: got false, want true")
	}
	ok, err = s.SetApprovalStatus(ctx, a.ID, greenlight.ApprovalApproved, at(2*time.Hour))
	must(t, err)
	if ok {
		t.Fatal("second status change: got true, want false")
	}
	ok, err = s.LockApproval(ctx, a.ID, at(3*time.Hour))
	must(t, err)
	if ok {
		t.Fatal("lock of a decided approval: got true, want false")
	}
	got, err := s.Approval(ctx, a.ID)
	must(t, err)
	if got.Status != greenlight.ApprovalRejected || got.DecidedAt == nil || !got.DecidedAt.Equal(at(time.Hour)) {
		t.Fatalf("got status %s decided at %v, want rejected at %v", got.Status, got.DecidedAt, at(time.Hour))
	}

	_, err = s.LockApproval(ctx, a.ID+100, at(0))
	wantCode(t, err, greenlight.ENOTFOUND)
	_, err = s.SetApprovalStatus(ctx, a.ID+100, greenlight.ApprovalApproved, at(0))
	wantCode(t, err, greenlight.ENOTFOUND)
}

// testApprovalRace has 50 deciders run the approval transaction at once:
// exactly one changes the status, and only its decision is recorded.
func testApprovalRace(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	a := createApproval(t, s)
	const n = 50
	var wg sync.WaitGroup
	won := make(chan int, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			changed := false
			err := s.InTx(ctx, func(tx greenlight.Tx) error {
				changed = false // fn may run again after a serialization failure
				ok, err := tx.LockApproval(ctx, a.ID, at(time.Minute))
				if err != nil || !ok {
					return err
				}
				d := &greenlight.Decision{ApprovalID: a.ID, Approver: "pm@example.com",
					Verdict: greenlight.Approve, At: at(time.Duration(i) * time.Second)}
				if err := tx.AddDecision(ctx, d); err != nil {
					return err
				}
				changed, err = tx.SetApprovalStatus(ctx, a.ID, greenlight.ApprovalApproved, d.At)
				return err
			})
			if err != nil {
				errs <- err
				return
			}
			if changed {
				won <- i
			}
		})
	}
	wg.Wait()
	close(won)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var winners []int
	for i := range won {
		winners = append(winners, i)
	}
	if len(winners) != 1 {
		t.Fatalf("got %d status changes, want exactly 1", len(winners))
	}
	got, err := s.Approval(ctx, a.ID)
	must(t, err)
	if got.Status != greenlight.ApprovalApproved {
		t.Errorf("got status %s, want approved", got.Status)
	}
	if len(got.Decisions) != 1 || !got.Decisions[0].At.Equal(at(time.Duration(winners[0])*time.Second)) {
		t.Errorf("got decisions %+v, want only the winner's (%d)", got.Decisions, winners[0])
	}
}
