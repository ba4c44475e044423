package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func testRunRoundTrip(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	r := newRun("hello", at(0))
	r.Params = map[string]string{"KEY": "value", "OTHER": "x y"}
	r.Hooks = greenlight.Hooks{Start: "deploy/start.sh", Stop: "deploy/stop.sh"}
	r.TriggeredBy = "ada@example.com"
	r.Commit.CommitterEmail = "grace@example.com"
	r.Reason = "queued behind run #3"
	r.Stages[1].Reason = "outside the deploy windows"
	must(t, s.CreateRun(ctx, r))
	if r.ID <= 0 {
		t.Fatalf("got run id %d, want > 0", r.ID)
	}
	for i, st := range r.Stages {
		if st.Index != i {
			t.Errorf("stage %s: got index %d, want %d", st.Name, st.Index, i)
		}
	}
	got, err := s.Run(ctx, r.ID)
	must(t, err)
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}

	second := createRun(t, s, "hello", at(time.Second))
	if second.ID <= r.ID {
		t.Fatalf("got second run id %d, want > %d", second.ID, r.ID)
	}
}

func testRunNotFound(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	_, err := s.Run(ctx, 12)
	wantCode(t, err, greenlight.ENOTFOUND)
	if got := greenlight.ErrorMessage(err); got != "run 12 not found" {
		t.Errorf("got message %q, want %q", got, "run 12 not found")
	}
	err = s.UpdateRun(ctx, &greenlight.Run{ID: 12, Status: greenlight.RunFailed})
	wantCode(t, err, greenlight.ENOTFOUND)

	// A run with fewer stored stages than given is ENOTFOUND, and writes nothing.
	r := createRun(t, s, "hello", at(0))
	r.Status = greenlight.RunRunning
	r.Stages = append(r.Stages, greenlight.Stage{Name: "extra", Status: greenlight.StageRunning})
	wantCode(t, s.UpdateRun(ctx, r), greenlight.ENOTFOUND)
	got, err := s.Run(ctx, r.ID)
	must(t, err)
	if got.Status != greenlight.RunQueued || len(got.Stages) != 3 {
		t.Errorf("after a failed update: got status %s with %d stages, want queued with 3", got.Status, len(got.Stages))
	}
}

func testUpdateRun(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	r := createRun(t, s, "hello", at(0))
	r.Status = greenlight.RunFailed
	r.FinishedAt = ptr(at(time.Minute))
	r.Artifact = &greenlight.ArtifactRef{SHA256: "ab12", Size: 12345}
	r.Error = "build failed: exit status 1"
	r.Hooks = greenlight.Hooks{Validate: "deploy/check.sh"}
	r.Stages[0].Status = greenlight.StageFailed
	r.Stages[0].StartedAt = ptr(at(time.Second))
	r.Stages[0].FinishedAt = ptr(at(time.Minute))
	r.Stages[0].Error = "exit status 1"
	r.Stages[0].Attempts = 2
	r.Stages[0].Reason = "waiting for qa (0 of 1)"
	r.Reason = "waiting for qa (0 of 1)"
	r.Commit.CommitterEmail = "grace@example.com"
	r.Tests = &greenlight.TestSummary{Passed: 3, Failed: 1, Skipped: 2,
		Failures: []greenlight.TestFailure{{Name: "pkg.TestX", Message: "want 1, got 2"}}}
	r.Stages[1].Status = greenlight.StageSkipped
	r.Stages[2].Status = greenlight.StageSkipped
	must(t, s.UpdateRun(ctx, r))
	got, err := s.Run(ctx, r.ID)
	must(t, err)
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("after update:\n got %+v\nwant %+v", got, r)
	}

	// Clearing nullable fields clears them.
	r.FinishedAt, r.Artifact, r.Stages[0].StartedAt, r.Tests = nil, nil, nil, nil
	r.Reason, r.Stages[0].Reason = "", ""
	must(t, s.UpdateRun(ctx, r))
	got, err = s.Run(ctx, r.ID)
	must(t, err)
	if got.FinishedAt != nil || got.Artifact != nil || got.Stages[0].StartedAt != nil || got.Tests != nil ||
		got.Reason != "" || got.Stages[0].Reason != "" {
		t.Fatalf("got finished %v artifact %v started %v tests %v reasons %q %q, want all empty",
			got.FinishedAt, got.Artifact, got.Stages[0].StartedAt, got.Tests, got.Reason, got.Stages[0].Reason)
	}
}

func testRunsFilter(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	// ids by creation order: 0 hello queued, 1 other running, 2 hello failed,
	// 3 hello waiting, 4 other succeeded.
	specs := []struct {
		pipeline string
		status   greenlight.RunStatus
	}{
		{"hello", greenlight.RunQueued},
		{"other", greenlight.RunRunning},
		{"hello", greenlight.RunFailed},
		{"hello", greenlight.RunWaiting},
		{"other", greenlight.RunSucceeded},
	}
	ids := make([]int64, len(specs))
	for i, sp := range specs {
		r := newRun(sp.pipeline, at(time.Duration(i)*time.Second))
		r.Status = sp.status
		must(t, s.CreateRun(ctx, r))
		ids[i] = r.ID
	}
	tests := []struct {
		name   string
		filter greenlight.RunFilter
		want   []int // indexes into ids, in the expected order
	}{
		{"all newest first", greenlight.RunFilter{}, []int{4, 3, 2, 1, 0}},
		{"pipeline", greenlight.RunFilter{Pipeline: "hello"}, []int{3, 2, 0}},
		{"one status", greenlight.RunFilter{Statuses: []greenlight.RunStatus{greenlight.RunRunning}}, []int{1}},
		{"statuses", greenlight.RunFilter{Statuses: []greenlight.RunStatus{greenlight.RunQueued, greenlight.RunWaiting, greenlight.RunSucceeded}}, []int{4, 3, 0}},
		{"pipeline and status", greenlight.RunFilter{Pipeline: "other", Statuses: []greenlight.RunStatus{greenlight.RunSucceeded}}, []int{4}},
		{"limit", greenlight.RunFilter{Limit: 2}, []int{4, 3}},
		{"pipeline and limit", greenlight.RunFilter{Pipeline: "hello", Limit: 2}, []int{3, 2}},
		{"unknown pipeline", greenlight.RunFilter{Pipeline: "nope"}, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := s.Runs(ctx, tt.filter)
			must(t, err)
			got := make([]int64, len(runs))
			for i, r := range runs {
				got[i] = r.ID
				if len(r.Stages) != 3 || r.Stages[2].Name != "approval" {
					t.Errorf("run %d: got stages %+v, want the 3 stages in order", r.ID, r.Stages)
				}
			}
			want := make([]int64, len(tt.want))
			for i, k := range tt.want {
				want[i] = ids[k]
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got runs %v, want %v", got, want)
			}
		})
	}
}

func testTimesUTC(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	zone := time.FixedZone("UTC+2", 2*3600)
	local := time.Date(2026, 1, 2, 5, 4, 5, 123456789, zone) // nanoseconds are dropped
	r := createRun(t, s, "hello", local)
	got, err := s.Run(ctx, r.ID)
	must(t, err)
	want := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	if got.CreatedAt != want {
		t.Errorf("got created_at %v, want %v (UTC, microseconds)", got.CreatedAt, want)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("got location %v, want UTC", got.CreatedAt.Location())
	}
}

// testLockRun: concurrent read-modify-write transactions on one run lose no
// update when each takes the run's lock first.
func testLockRun(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	wantCode(t, s.LockRun(ctx, 999999), greenlight.ENOTFOUND)
	r := createRun(t, s, "hello", at(0))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.InTx(ctx, func(tx greenlight.Tx) error {
				if err := tx.LockRun(ctx, r.ID); err != nil {
					return err
				}
				got, err := tx.Run(ctx, r.ID)
				if err != nil {
					return err
				}
				got.Error += "x" // a counter that only a serialized read-modify-write keeps exact
				return tx.UpdateRun(ctx, got)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got, err := s.Run(ctx, r.ID)
	must(t, err)
	if len(got.Error) != n {
		t.Fatalf("after %d locked increments the counter is %d: an update was lost", n, len(got.Error))
	}
}

// testStageAttempts: a stage's start is counted in the transaction that
// marks it running, and the list recovery reads at startup returns the
// count (the engine gives up on a stage the server stopped under twice). A
// transaction that fails counts nothing.
func testStageAttempts(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	r := createRun(t, s, "hello", at(0))
	start := func(fail error) error {
		return s.InTx(ctx, func(tx greenlight.Tx) error {
			if err := tx.LockRun(ctx, r.ID); err != nil {
				return err
			}
			run, err := tx.Run(ctx, r.ID)
			if err != nil {
				return err
			}
			run.Status, run.Stages[0].Status = greenlight.RunRunning, greenlight.StageRunning
			run.Stages[0].Attempts++
			if err := tx.UpdateRun(ctx, run); err != nil {
				return err
			}
			return fail
		})
	}
	must(t, start(nil))
	must(t, start(nil))
	boom := errors.New("boom")
	if err := start(boom); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the transaction's own error", err)
	}
	runs, err := s.Runs(ctx, greenlight.RunFilter{Statuses: []greenlight.RunStatus{greenlight.RunRunning}})
	must(t, err)
	if len(runs) != 1 || runs[0].ID != r.ID {
		t.Fatalf("got %d running runs, want run %d", len(runs), r.ID)
	}
	if st := runs[0].Stages[0]; st.Status != greenlight.StageRunning || st.Attempts != 2 {
		t.Errorf("stage %s started %d times, want running, 2", st.Status, st.Attempts)
	}
	if st := runs[0].Stages[1]; st.Attempts != 0 {
		t.Errorf("a stage never started has %d starts", st.Attempts)
	}
}
