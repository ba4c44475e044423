package greenlight

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

var (
	allRunStatuses   = []RunStatus{RunQueued, RunRunning, RunWaiting, RunSucceeded, RunFailed, RunRejected, RunExpired, RunCancelled, RunSuperseded}
	allStageStatuses = []StageStatus{StagePending, StageRunning, StageWaiting, StageSucceeded, StageFailed, StageRejected, StageExpired, StageCancelled, StageSkipped}
)

// The whole run table, written out: every pair not listed is illegal.
func TestRunStatusCanBecome(t *testing.T) {
	legal := map[[2]RunStatus]bool{}
	for _, m := range [][2]RunStatus{
		{RunQueued, RunRunning},
		{RunQueued, RunWaiting}, // its first due stage is a gate, or a deploy held outside its windows
		{RunQueued, RunSucceeded},
		{RunQueued, RunFailed},
		{RunQueued, RunCancelled},
		{RunQueued, RunSuperseded},
		{RunRunning, RunWaiting},
		{RunRunning, RunSucceeded},
		{RunRunning, RunFailed},
		{RunRunning, RunCancelled},
		{RunRunning, RunSuperseded},
		{RunWaiting, RunRunning},
		{RunWaiting, RunFailed},
		{RunWaiting, RunRejected},
		{RunWaiting, RunExpired},
		{RunWaiting, RunCancelled},
		{RunWaiting, RunSuperseded},
	} {
		legal[m] = true
	}
	for _, from := range append(allRunStatuses, "bogus") {
		for _, to := range append(allRunStatuses, "bogus") {
			if got, want := from.CanBecome(to), legal[[2]RunStatus{from, to}]; got != want {
				t.Errorf("run %s → %s = %v, want %v", from, to, got, want)
			}
		}
	}
}

// The whole stage table, written out: every pair not listed is illegal.
func TestStageStatusCanBecome(t *testing.T) {
	legal := map[[2]StageStatus]bool{}
	for _, m := range [][2]StageStatus{
		{StagePending, StageRunning},
		{StagePending, StageWaiting},
		{StagePending, StageFailed},
		{StagePending, StageCancelled},
		{StagePending, StageSkipped},
		{StageRunning, StageRunning}, // cut off by a restart: starts again
		{StageRunning, StageWaiting},
		{StageRunning, StageSucceeded},
		{StageRunning, StageFailed},
		{StageRunning, StageCancelled},
		{StageRunning, StageSkipped},
		{StageWaiting, StageRunning},
		{StageWaiting, StageSucceeded},
		{StageWaiting, StageFailed},
		{StageWaiting, StageRejected},
		{StageWaiting, StageExpired},
		{StageWaiting, StageCancelled},
	} {
		legal[m] = true
	}
	for _, from := range append(allStageStatuses, "bogus") {
		for _, to := range append(allStageStatuses, "bogus") {
			if got, want := from.CanBecome(to), legal[[2]StageStatus{from, to}]; got != want {
				t.Errorf("stage %s → %s = %v, want %v", from, to, got, want)
			}
		}
	}
}

var (
	t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

// testRun is a run with stages build, staging, approval, production in the
// given statuses.
func testRun(status RunStatus, stages ...StageStatus) *Run {
	names := []string{"build", "staging", "approval", "production"}
	types := []StageType{StageBuild, StageDeploy, StageApproval, StageDeploy}
	r := &Run{ID: 7, Pipeline: "hello", Status: status}
	for i, st := range stages {
		r.Stages = append(r.Stages, Stage{Index: i, Name: names[i], Type: types[i], Status: st})
	}
	return r
}

func statuses(r *Run) []StageStatus {
	var out []StageStatus
	for _, s := range r.Stages {
		out = append(out, s.Status)
	}
	return out
}

// wantConflict checks that an illegal move failed with ECONFLICT and
// changed nothing.
func wantConflict(t *testing.T, name string, before, after *Run, err error) {
	t.Helper()
	if ErrorCode(err) != ECONFLICT {
		t.Errorf("%s: err = %v (code %q), want %s", name, err, ErrorCode(err), ECONFLICT)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("%s: an illegal move changed the run:\n got %+v\nwant %+v", name, after, before)
	}
}

func clone(r *Run) *Run {
	c := *r
	c.Stages = append([]Stage(nil), r.Stages...)
	return &c
}

const (
	pe = StagePending
	ru = StageRunning
	wa = StageWaiting
	su = StageSucceeded
	fa = StageFailed
	sk = StageSkipped
	ca = StageCancelled
)

func TestStartStage(t *testing.T) {
	tests := []struct {
		name     string
		run      *Run
		stage    string
		attempts int
	}{
		{"a queued run starts its first stage", testRun(RunQueued, pe, pe), "build", 1},
		{"a running run starts its next stage", testRun(RunRunning, su, pe), "staging", 1},
		{"a stage cut off by a restart starts again", testRun(RunRunning, ru, pe), "build", 2},
		{"a held deploy starts when its window opens", testRun(RunWaiting, su, wa), "staging", 1},
	}
	for _, tt := range tests {
		r := tt.run
		r.Reason = "outside the deploy windows"
		s := r.Stage(tt.stage)
		s.Reason, s.Error, s.FinishedAt = "held", "old error", &t0
		if tt.attempts == 2 {
			s.Attempts = 1
		}
		events, err := r.StartStage(tt.stage, t1)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if r.Status != RunRunning || r.Reason != "" {
			t.Errorf("%s: run %s reason %q, want running without reason", tt.name, r.Status, r.Reason)
		}
		if s.Status != StageRunning || !s.StartedAt.Equal(t1) || s.FinishedAt != nil || s.Error != "" || s.Reason != "" || s.Attempts != tt.attempts {
			t.Errorf("%s: stage = %+v", tt.name, *s)
		}
		if want := []EventData{StageStarted{Stage: tt.stage, Attempt: tt.attempts}}; !reflect.DeepEqual(events, want) {
			t.Errorf("%s: events = %v, want %v", tt.name, events, want)
		}
	}

	illegal := []struct {
		name  string
		run   *Run
		stage string
	}{
		{"a finished run", testRun(RunCancelled, ca, sk), "staging"},
		{"a finished stage", testRun(RunRunning, su, pe), "build"},
		{"an unknown stage", testRun(RunRunning, su, pe), "nope"},
		{"a skipped stage", testRun(RunRunning, su, sk), "staging"},
	}
	for _, tt := range illegal {
		before := clone(tt.run)
		events, err := tt.run.StartStage(tt.stage, t1)
		wantConflict(t, tt.name, before, tt.run, err)
		if events != nil {
			t.Errorf("%s: events %v", tt.name, events)
		}
	}
}

func TestWaitStage(t *testing.T) {
	for _, from := range []RunStatus{RunQueued, RunRunning} {
		r := testRun(from, su, su, pe, pe)
		if from == RunQueued {
			r = testRun(from, pe, pe) // a gate or a held deploy first
		}
		name := r.Stages[len(r.Stages)-2].Name
		events, err := r.WaitStage(name, "waiting for product (0 of 1)", t1)
		s := r.Stage(name)
		if err != nil || events != nil {
			t.Fatalf("%s run: %v, %v", from, events, err)
		}
		if r.Status != RunWaiting || r.Reason != "waiting for product (0 of 1)" ||
			s.Status != StageWaiting || s.Reason != r.Reason || !s.StartedAt.Equal(t1) {
			t.Errorf("%s run: run %s %q, stage %+v", from, r.Status, r.Reason, *s)
		}
		// Waiting again only says why anew.
		if _, err := r.WaitStage(name, "waiting for product (1 of 2)", t1.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if r.Reason != "waiting for product (1 of 2)" || s.Reason != r.Reason || !s.StartedAt.Equal(t1) || r.Status != RunWaiting {
			t.Errorf("%s run, reason updated: run %s %q, stage %+v", from, r.Status, r.Reason, *s)
		}
	}

	r := testRun(RunRunning, su, pe)
	if _, err := r.WaitStage("staging", "", t1); ErrorCode(err) != EINVALID || r.Status != RunRunning {
		t.Errorf("no reason: %v, run %s", err, r.Status)
	}
	for _, tt := range []struct {
		name  string
		run   *Run
		stage string
	}{
		{"a finished run", testRun(RunFailed, fa, sk), "staging"},
		{"a finished stage", testRun(RunRunning, su, pe), "build"},
		{"an unknown stage", testRun(RunRunning, su), "nope"},
	} {
		before := clone(tt.run)
		_, err := tt.run.WaitStage(tt.stage, "why", t1)
		wantConflict(t, tt.name, before, tt.run, err)
	}
}

func TestFinishStage(t *testing.T) {
	tests := []struct {
		name   string
		run    *Run
		stage  string
		status StageStatus
		errMsg string
	}{
		{"a build succeeds", testRun(RunRunning, ru, pe), "build", su, ""},
		{"a gate passes", testRun(RunWaiting, su, su, wa, pe), "approval", su, ""},
		{"a stale deploy is skipped", testRun(RunRunning, su, ru), "staging", sk, "a newer run is live"},
		{"a gate cannot pass any more", testRun(RunWaiting, su, su, wa, pe), "approval", fa, "rule qa cannot pass"},
	}
	for _, tt := range tests {
		r := tt.run
		runBefore := r.Status
		s := r.Stage(tt.stage)
		s.Reason = "waiting"
		events, err := r.FinishStage(tt.stage, tt.status, tt.errMsg, t1)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if s.Status != tt.status || !s.FinishedAt.Equal(t1) || s.Error != tt.errMsg || s.Reason != "" || r.Status != runBefore {
			t.Errorf("%s: stage %+v, run %s", tt.name, *s, r.Status)
		}
		if want := []EventData{StageFinished{Stage: tt.stage, Status: tt.status, Error: tt.errMsg}}; !reflect.DeepEqual(events, want) {
			t.Errorf("%s: events = %v, want %v", tt.name, events, want)
		}
	}
	for _, tt := range []struct {
		name   string
		run    *Run
		stage  string
		status StageStatus
	}{
		{"not a terminal status", testRun(RunRunning, ru, pe), "build", StageWaiting},
		{"a pending stage cannot succeed", testRun(RunRunning, su, pe), "staging", su},
		{"a running build is not rejected", testRun(RunRunning, ru, pe), "build", StageRejected},
		{"twice", testRun(RunRunning, su, pe), "build", su},
		{"a finished run", testRun(RunSucceeded, su, su), "staging", fa},
		{"an unknown stage", testRun(RunRunning, ru), "nope", su},
	} {
		before := clone(tt.run)
		_, err := tt.run.FinishStage(tt.stage, tt.status, "", t1)
		wantConflict(t, tt.name, before, tt.run, err)
	}
}

func TestResume(t *testing.T) {
	r := testRun(RunWaiting, su, su, su, pe)
	r.Reason = "waiting for approval"
	if err := r.Resume(); err != nil || r.Status != RunRunning || r.Reason != "" {
		t.Errorf("resume: %v, run %s %q", err, r.Status, r.Reason)
	}
	for _, tt := range []struct {
		name string
		run  *Run
	}{
		{"a running run", testRun(RunRunning, ru, pe)},
		{"a queued run", testRun(RunQueued, pe)},
		{"a finished run", testRun(RunRejected, su, su, StageRejected, sk)},
		{"a stage still waits", testRun(RunWaiting, su, su, wa, pe)},
	} {
		before := clone(tt.run)
		wantConflict(t, tt.name, before, tt.run, tt.run.Resume())
	}
}

func TestFinish(t *testing.T) {
	tests := []struct {
		name        string
		run         *Run
		status      RunStatus
		stage       string
		stageStatus StageStatus
		errMsg      string
		want        []StageStatus
		events      []EventData
	}{
		{"rejected at the gate", testRun(RunWaiting, su, su, wa, pe), RunRejected, "approval", StageRejected, "rejected by pm",
			[]StageStatus{su, su, StageRejected, sk},
			[]EventData{StageFinished{"approval", StageRejected, "rejected by pm"}, RunFinished{RunRejected, "rejected by pm"}}},
		{"expired at the gate", testRun(RunWaiting, su, su, wa, pe), RunExpired, "approval", StageExpired, "nobody approved",
			[]StageStatus{su, su, StageExpired, sk},
			[]EventData{StageFinished{"approval", StageExpired, "nobody approved"}, RunFinished{RunExpired, "nobody approved"}}},
		{"a build fails", testRun(RunRunning, ru, pe, pe, pe), RunFailed, "build", fa, "build: exit 1",
			[]StageStatus{fa, sk, sk, sk},
			[]EventData{StageFinished{"build", fa, "build: exit 1"}, RunFinished{RunFailed, "build: exit 1"}}},
		{"the last stage succeeded", testRun(RunRunning, su, su, su, su), RunSucceeded, "", "", "",
			[]StageStatus{su, su, su, su},
			[]EventData{RunFinished{RunSucceeded, ""}}},
		{"cancelled while queued", testRun(RunQueued, pe, pe), RunCancelled, "", ca, "cancelled",
			[]StageStatus{sk, sk},
			[]EventData{RunFinished{RunCancelled, "cancelled"}}},
		{"cancelled while running", testRun(RunRunning, su, ru, pe), RunCancelled, "staging", ca, "cancelled",
			[]StageStatus{su, ca, sk},
			[]EventData{StageFinished{"staging", ca, "cancelled"}, RunFinished{RunCancelled, "cancelled"}}},
		{"superseded before its gate opens", testRun(RunRunning, su, su, pe, pe), RunSuperseded, "approval", ca, "superseded by run #9",
			[]StageStatus{su, su, ca, sk},
			[]EventData{StageFinished{"approval", ca, "superseded by run #9"}, RunFinished{RunSuperseded, "superseded by run #9"}}},
		{"a stale deploy", testRun(RunRunning, su, ru, pe, pe), RunSuperseded, "staging", sk, "a newer run is live",
			[]StageStatus{su, sk, sk, sk},
			[]EventData{StageFinished{"staging", sk, "a newer run is live"}, RunFinished{RunSuperseded, "a newer run is live"}}},
		{"another stage in the way is cancelled", testRun(RunRunning, ru, pe), RunSuperseded, "", ca, "newer head",
			[]StageStatus{ca, sk},
			[]EventData{StageFinished{"build", ca, ""}, RunFinished{RunSuperseded, "newer head"}}},
		{"a gate that can no longer pass", testRun(RunWaiting, su, su, wa, pe), RunFailed, "approval", fa, "rule qa cannot pass",
			[]StageStatus{su, su, fa, sk},
			[]EventData{StageFinished{"approval", fa, "rule qa cannot pass"}, RunFinished{RunFailed, "rule qa cannot pass"}}},
	}
	for _, tt := range tests {
		r := tt.run
		r.Reason = "something"
		for i := range r.Stages {
			r.Stages[i].Reason = "something"
		}
		events, err := r.Finish(tt.status, tt.stage, tt.stageStatus, tt.errMsg, t1)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := statuses(r); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: stages %v, want %v", tt.name, got, tt.want)
		}
		if r.Status != tt.status || r.FinishedAt == nil || !r.FinishedAt.Equal(t1) || r.Error != tt.errMsg || r.Reason != "" {
			t.Errorf("%s: run %s finished %v error %q reason %q", tt.name, r.Status, r.FinishedAt, r.Error, r.Reason)
		}
		for _, s := range r.Stages {
			began := false
			for _, ev := range events {
				if f, ok := ev.(StageFinished); ok && f.Stage == s.Name {
					began = true
				}
			}
			if began && (s.FinishedAt == nil || !s.FinishedAt.Equal(t1) || s.Reason != "") {
				t.Errorf("%s: stage %s finished %v reason %q", tt.name, s.Name, s.FinishedAt, s.Reason)
			}
			if s.Name != tt.stage && s.Error != "" {
				t.Errorf("%s: stage %s error %q, want only %s's", tt.name, s.Name, s.Error, tt.stage)
			}
		}
		if !reflect.DeepEqual(events, tt.events) {
			t.Errorf("%s: events\n got %v\nwant %v", tt.name, events, tt.events)
		}
	}

	for _, tt := range []struct {
		name        string
		run         *Run
		status      RunStatus
		stage       string
		stageStatus StageStatus
	}{
		{"twice", testRun(RunFailed, fa, sk), RunCancelled, "", ca},
		{"not a terminal status", testRun(RunRunning, ru), RunWaiting, "build", fa},
		{"a running run is not rejected", testRun(RunRunning, ru), RunRejected, "build", StageRejected},
		{"a queued run does not expire", testRun(RunQueued, pe), RunExpired, "", ""},
		{"success with a stage to run", testRun(RunRunning, su, pe), RunSucceeded, "", ""},
		{"success with a stage running", testRun(RunRunning, su, ru), RunSucceeded, "", ""},
		{"the stage's status is not terminal", testRun(RunRunning, ru), RunFailed, "build", ru},
		{"the stage is already done", testRun(RunRunning, su, ru), RunFailed, "build", fa},
		{"an unknown stage", testRun(RunRunning, ru), RunFailed, "nope", fa},
	} {
		before := clone(tt.run)
		_, err := tt.run.Finish(tt.status, tt.stage, tt.stageStatus, "why", t1)
		wantConflict(t, tt.name, before, tt.run, err)
	}
}

func TestTakeBackStart(t *testing.T) {
	r := testRun(RunRunning, ru)
	r.Stages[0].Attempts = 2
	if err := r.TakeBackStart("build"); err != nil || r.Stages[0].Attempts != 1 || r.Stages[0].Status != StageRunning {
		t.Errorf("take back: %v, stage %+v", err, r.Stages[0])
	}
	for _, tt := range []struct {
		name string
		run  *Run
	}{
		{"no start counted", testRun(RunRunning, ru)},
		{"a finished stage", func() *Run { r := testRun(RunRunning, su, pe); r.Stages[0].Attempts = 1; return r }()},
		{"a finished run", func() *Run { r := testRun(RunCancelled, ca); r.Stages[0].Attempts = 1; return r }()},
	} {
		before := clone(tt.run)
		wantConflict(t, tt.name, before, tt.run, tt.run.TakeBackStart("build"))
	}
}

// Events keep the JSON their readers decode (notify, stored logs).
func TestEventData(t *testing.T) {
	tests := []struct {
		data EventData
		typ  EventType
		json string
	}{
		{RunCreated{}, EventRunCreated, ""},
		{RunCreated{Environment: "production", RollbackOf: 3}, EventRunCreated, `{"environment":"production","rollback_of":3}`},
		{StageStarted{Stage: "build", Attempt: 1}, EventStageStarted, `{"stage":"build","attempt":1}`},
		{StageFinished{Stage: "build", Status: StageSucceeded}, EventStageFinished, `{"stage":"build","status":"succeeded"}`},
		{StageFinished{Stage: "build", Status: StageFailed, Error: "exit 1"}, EventStageFinished, `{"stage":"build","status":"failed","error":"exit 1"}`},
		{RunFinished{Status: RunFailed, Error: "x"}, EventRunFinished, `{"status":"failed","error":"x"}`},
		{ApprovalOpened{ApprovalID: 4}, EventApprovalOpened, `{"approval":4}`},
		{ApprovalDecided{ApprovalID: 4, Approver: "a@x", Verdict: Approve, Status: ApprovalApproved}, EventApprovalDecided,
			`{"approval":4,"approver":"a@x","decision":"approve","status":"approved"}`},
		{Revocation{ApprovalID: 4, Reason: "cancelled"}, EventApprovalRevoked, `{"approval":4,"reason":"cancelled"}`},
		{ReleaseOutcome{Environment: "staging", Status: ReleaseLive}, EventReleaseLive, `{"environment":"staging","status":"live"}`},
		{ReleaseOutcome{Environment: "staging", Status: ReleaseRolledBack}, EventReleaseRolledBack, `{"environment":"staging","status":"rolled-back"}`},
		{ReleaseOutcome{Environment: "staging", Status: ReleaseFailed}, EventReleaseFailed, `{"environment":"staging","status":"failed"}`},
	}
	for _, tt := range tests {
		e := NewEvent("hello", 7, tt.data, t0)
		if e.Type != tt.typ || string(e.Data) != tt.json || e.Pipeline != "hello" || e.RunID != 7 || !e.CreatedAt.Equal(t0) {
			t.Errorf("%T: event %s %s, want %s %s", tt.data, e.Type, e.Data, tt.typ, tt.json)
		}
		if tt.json == "" {
			if e.Data != nil {
				t.Errorf("%T: data %q, want none", tt.data, e.Data)
			}
			continue
		}
		back := reflect.New(reflect.TypeOf(tt.data))
		if err := json.Unmarshal(e.Data, back.Interface()); err != nil || !reflect.DeepEqual(back.Elem().Interface(), tt.data) {
			t.Errorf("%T: read back %v, %v", tt.data, back.Elem().Interface(), err)
		}
	}
}
