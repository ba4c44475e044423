package greenlight

import (
	"fmt"
	"time"
)

// The run's state machine. Every change of a run's or a stage's status goes
// through one of the methods below: each checks the move against the
// transition tables (RunStatus.CanBecome, StageStatus.CanBecome), changes
// the run in memory and returns the events the change means, for the caller
// to write in the same transaction as the run. An illegal move changes
// nothing and returns an *Error with code ECONFLICT.
//
// The methods decide nothing about when a move is due (that is the
// orchestrator's): they keep the run consistent, and say what happened.

// runMoves lists, for each non-terminal run status, the statuses it may
// become. A queued run may wait at once: its first due stage may be an
// approval, or a deploy held outside its windows. Only a waiting run is
// rejected or expires (its gate was decided or timed out), and a run
// succeeds only from running (its last stage succeeded), or queued when it
// has no stage left to run.
var runMoves = map[RunStatus][]RunStatus{
	RunQueued:  {RunRunning, RunWaiting, RunSucceeded, RunFailed, RunCancelled, RunSuperseded},
	RunRunning: {RunWaiting, RunSucceeded, RunFailed, RunCancelled, RunSuperseded},
	RunWaiting: {RunRunning, RunFailed, RunRejected, RunExpired, RunCancelled, RunSuperseded},
}

// stageMoves lists, for each non-terminal stage status, the statuses it may
// become. A running stage may become running again: a stage found running
// at startup was cut off by a restart and starts again. A pending stage
// fails without running when the configuration lost it or its gate could
// not open, is cancelled when its run is superseded before it opens, and is
// skipped when its run ends before it. A running deploy is skipped when a
// newer run is already live. Only a waiting stage (a gate) is rejected or
// expires.
var stageMoves = map[StageStatus][]StageStatus{
	StagePending: {StageRunning, StageWaiting, StageFailed, StageCancelled, StageSkipped},
	StageRunning: {StageRunning, StageWaiting, StageSucceeded, StageFailed, StageCancelled, StageSkipped},
	StageWaiting: {StageRunning, StageSucceeded, StageFailed, StageRejected, StageExpired, StageCancelled},
}

// CanBecome reports whether a run may move from s to next (runMoves).
// Terminal statuses are final.
func (s RunStatus) CanBecome(next RunStatus) bool {
	for _, n := range runMoves[s] {
		if n == next {
			return true
		}
	}
	return false
}

// CanBecome reports whether a stage may move from s to next (stageMoves).
// Terminal statuses are final.
func (s StageStatus) CanBecome(next StageStatus) bool {
	for _, n := range stageMoves[s] {
		if n == next {
			return true
		}
	}
	return false
}

// conflict is the error of an illegal move.
func (r *Run) conflict(format string, args ...any) *Error {
	return Errorf(ECONFLICT, "run %d: %s", r.ID, fmt.Sprintf(format, args...))
}

// moveRun sets the run's status to next, unless it already is next.
func (r *Run) moveRun(next RunStatus) error {
	if r.Status == next {
		return nil
	}
	if !r.Status.CanBecome(next) {
		return r.conflict("a %s run cannot become %s", r.Status, next)
	}
	r.Status = next
	return nil
}

// stageFor returns stage name of a run that is not finished, checking that
// it may become next.
func (r *Run) stageFor(name string, next StageStatus) (*Stage, error) {
	if r.Status.Terminal() {
		return nil, r.conflict("the run is already %s", r.Status)
	}
	s := r.Stage(name)
	if s == nil {
		return nil, r.conflict("there is no stage %q", name)
	}
	if !s.Status.CanBecome(next) {
		return nil, r.conflict("stage %s is %s and cannot become %s", name, s.Status, next)
	}
	return s, nil
}

// StartStage runs stage name: it becomes running (again, after a restart
// cut it off; each start counts in Attempts) and so does the run. A
// waiting stage starts when what held it ends (a deploy window opens).
// Reasons are cleared. Event: StageStarted.
func (r *Run) StartStage(name string, now time.Time) ([]EventData, error) {
	s, err := r.stageFor(name, StageRunning)
	if err != nil {
		return nil, err
	}
	if err := r.moveRun(RunRunning); err != nil {
		return nil, err
	}
	s.Status, s.StartedAt, s.FinishedAt, s.Error, s.Reason = StageRunning, &now, nil, "", ""
	s.Attempts++
	r.Reason = ""
	return []EventData{StageStarted{Stage: name, Attempt: s.Attempts}}, nil
}

// WaitStage parks stage name, and the run, waiting for what reason says
// (an approval, a deploy window); reason is shown on both. A stage already
// waiting only has its reason updated. Waiting emits no event: what is
// waited for has its own (EventApprovalOpened).
func (r *Run) WaitStage(name, reason string, now time.Time) ([]EventData, error) {
	if reason == "" {
		return nil, Errorf(EINVALID, "run %d: stage %s waits without a reason", r.ID, name)
	}
	s := r.Stage(name)
	if s != nil && s.Status == StageWaiting && r.Status == RunWaiting {
		s.Reason, r.Reason = reason, reason
		return nil, nil
	}
	s, err := r.stageFor(name, StageWaiting)
	if err != nil {
		return nil, err
	}
	if err := r.moveRun(RunWaiting); err != nil {
		return nil, err
	}
	s.Status, s.StartedAt, s.FinishedAt, s.Error, s.Reason = StageWaiting, &now, nil, "", reason
	r.Reason = reason
	return nil, nil
}

// FinishStage ends stage name with status (succeeded, failed, rejected,
// expired, cancelled or skipped) and errText; the run's status is left as
// it is (see Resume and Finish). Event: StageFinished.
func (r *Run) FinishStage(name string, status StageStatus, errText string, now time.Time) ([]EventData, error) {
	if !status.Terminal() {
		return nil, r.conflict("stage %s cannot finish as %s", name, status)
	}
	s, err := r.stageFor(name, status)
	if err != nil {
		return nil, err
	}
	s.Status, s.FinishedAt, s.Error, s.Reason = status, &now, errText, ""
	return []EventData{StageFinished{Stage: name, Status: status, Error: errText}}, nil
}

// Resume moves a waiting run on to running once nothing holds it (its gate
// passed: FinishStage first); the run's reason is cleared. No event: the
// stage's finish says it.
func (r *Run) Resume() error {
	if r.Status != RunWaiting {
		return r.conflict("only a waiting run resumes; this one is %s", r.Status)
	}
	for _, s := range r.Stages {
		if s.Status == StageWaiting {
			return r.conflict("stage %s still waits", s.Name)
		}
	}
	r.Status, r.Reason = RunRunning, ""
	return nil
}

// Finish ends the run with terminal status and errText. Stage stage (""
// for none) ends with stageStatus and errText; any other running or
// waiting stage is cancelled; pending stages are skipped (no event: they
// never began). A run succeeds only when all its stages are done.
// Events: StageFinished for each stage that began, then RunFinished.
func (r *Run) Finish(status RunStatus, stage string, stageStatus StageStatus, errText string, now time.Time) ([]EventData, error) {
	if !status.Terminal() {
		return nil, r.conflict("a run cannot finish as %s", status)
	}
	if !r.Status.CanBecome(status) {
		return nil, r.conflict("a %s run cannot become %s", r.Status, status)
	}
	if stage != "" {
		if !stageStatus.Terminal() {
			return nil, r.conflict("stage %s cannot finish as %s", stage, stageStatus)
		}
		if _, err := r.stageFor(stage, stageStatus); err != nil {
			return nil, err
		}
	}
	for _, s := range r.Stages {
		if status == RunSucceeded && !s.Status.Terminal() {
			return nil, r.conflict("it cannot succeed: stage %s is %s", s.Name, s.Status)
		}
	}
	var events []EventData
	for i := range r.Stages {
		s := &r.Stages[i]
		switch {
		case s.Name == stage:
			s.Status, s.FinishedAt, s.Error, s.Reason = stageStatus, &now, errText, ""
			events = append(events, StageFinished{Stage: s.Name, Status: stageStatus, Error: errText})
		case s.Status == StageRunning || s.Status == StageWaiting:
			s.Status, s.FinishedAt, s.Reason = StageCancelled, &now, ""
			events = append(events, StageFinished{Stage: s.Name, Status: StageCancelled})
		case s.Status == StagePending:
			s.Status = StageSkipped
		}
	}
	r.Status, r.FinishedAt, r.Error, r.Reason = status, &now, errText, ""
	return append(events, RunFinished{Status: status, Error: errText}), nil
}

// TakeBackStart undoes the count of the start of stage name, which an
// orderly shutdown cut off: only a crash counts against a stage. The stage
// stays running, to start again.
func (r *Run) TakeBackStart(name string) error {
	s := r.Stage(name)
	if r.Status.Terminal() || s == nil || s.Status != StageRunning || s.Attempts == 0 {
		return r.conflict("stage %s has no start to take back", name)
	}
	s.Attempts--
	return nil
}
