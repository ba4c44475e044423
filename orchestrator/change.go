package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/greenlight-cd/greenlight"
)

// errNoChange aborts a change without error: the run was already elsewhere.
var errNoChange = errors.New("no change")

// emitter collects the events of one transition.
type emitter struct {
	run    *greenlight.Run
	events []*greenlight.Event
	now    greenlight.Now
}

func (em *emitter) emit(t greenlight.EventType, data any) {
	var raw json.RawMessage
	if data != nil {
		raw, _ = json.Marshal(data) // our own types; cannot fail
	}
	em.events = append(em.events, &greenlight.Event{Pipeline: em.run.Pipeline, RunID: em.run.ID,
		Type: t, Data: raw, CreatedAt: em.now()})
}

// change is one transition of run id: inside one transaction it loads the
// run, lets fn change it (and emit events, and use tx for related rows), then
// writes run and events. fn returning errNoChange rolls back quietly and
// change returns the run as it was.
func (e *Engine) change(ctx context.Context, id int64, fn func(tx greenlight.Tx, run *greenlight.Run, em *emitter) error) (*greenlight.Run, error) {
	var out *greenlight.Run
	emitted := false
	err := e.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		// The lock makes this read-modify-write safe against a concurrent
		// transition (a cancel racing a stage's success) on PostgreSQL.
		if err := tx.LockRun(ctx, id); err != nil {
			return err
		}
		run, err := tx.Run(ctx, id)
		if err != nil {
			return err
		}
		out = run
		em := &emitter{run: run, now: e.cfg.Now}
		if err := fn(tx, run, em); err != nil {
			return err
		}
		if err := tx.UpdateRun(ctx, run); err != nil {
			return err
		}
		for _, ev := range em.events {
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return err
			}
		}
		emitted = len(em.events) > 0
		return nil
	})
	if errors.Is(err, errNoChange) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", id, err)
	}
	if emitted {
		e.cfg.Events()
	}
	return out, nil
}

// finish moves a run to a terminal status: the stage that ended it gets
// stageStatus, every later stage is skipped, and run.finished is emitted.
func (e *Engine) finish(run *greenlight.Run, em *emitter, status greenlight.RunStatus, stage string, stageStatus greenlight.StageStatus, reason string) {
	now := e.cfg.Now()
	for i := range run.Stages {
		s := &run.Stages[i]
		switch {
		case s.Name == stage || s.Status == greenlight.StageRunning || s.Status == greenlight.StageWaiting:
			st := stageStatus
			if s.Name != stage {
				st = greenlight.StageCancelled
			}
			s.Status, s.FinishedAt = st, &now
			if s.Name == stage {
				s.Error = reason
			}
			em.emit(greenlight.EventStageFinished, map[string]string{"stage": s.Name, "status": string(st)})
		case s.Status == greenlight.StagePending:
			s.Status = greenlight.StageSkipped
		}
	}
	run.Status, run.FinishedAt, run.Error = status, &now, reason
	em.emit(greenlight.EventRunFinished, greenlight.RunFinished{Status: status, Error: reason})
}

// revokeGate closes a pending approval of a run that will no longer be
// decided, kills its links and tells its approvers.
func (e *Engine) revokeGate(ctx context.Context, tx greenlight.Tx, run *greenlight.Run, em *emitter, reason string) error {
	for _, s := range run.Stages {
		if s.Type != greenlight.StageApproval || s.Status != greenlight.StageWaiting {
			continue
		}
		a, err := tx.ApprovalForStage(ctx, run.ID, s.Name)
		if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
			continue
		}
		if err != nil {
			return err
		}
		now := e.cfg.Now()
		ok, err := tx.SetApprovalStatus(ctx, a.ID, greenlight.ApprovalRevoked, now)
		if err != nil {
			return err
		}
		if err := tx.RevokeTokens(ctx, a.ID, now); err != nil {
			return err
		}
		if ok {
			em.emit(greenlight.EventApprovalRevoked, greenlight.Revocation{ApprovalID: a.ID, Reason: reason})
		}
	}
	return nil
}
