package orchestrator

import (
	"context"
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

// add appends the events of data, as a Run method returns them.
func (em *emitter) add(data ...greenlight.EventData) {
	for _, d := range data {
		em.events = append(em.events, greenlight.NewEvent(em.run.Pipeline, em.run.ID, d, em.now()))
	}
}

// apply records the events of a Run method's change, or returns its error.
func (em *emitter) apply(data []greenlight.EventData, err error) error {
	if err != nil {
		return err
	}
	em.add(data...)
	return nil
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

// finish moves a run to a terminal status (Run.Finish): the stage that
// ended it gets stageStatus, every later stage is skipped, and run.finished
// is emitted.
func (e *Engine) finish(run *greenlight.Run, em *emitter, status greenlight.RunStatus, stage string, stageStatus greenlight.StageStatus, reason string) error {
	return em.apply(run.Finish(status, stage, stageStatus, reason, e.cfg.Now()))
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
			em.add(greenlight.Revocation{ApprovalID: a.ID, Reason: reason})
		}
	}
	return nil
}
