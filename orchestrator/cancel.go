package orchestrator

import (
	"context"

	"github.com/greenlight-cd/greenlight"
)

// Cancel ends a run that has not finished: its running stage is stopped (a
// deploy rolls back), its approval links die and its approvers are told.
func (e *Engine) Cancel(ctx context.Context, id int64) (*greenlight.Run, error) {
	var conflict *greenlight.Error
	run, err := e.change(ctx, id, func(tx greenlight.Tx, run *greenlight.Run, em *emitter) error {
		if run.Status.Terminal() {
			conflict = greenlight.Errorf(greenlight.ECONFLICT, "run %d is already %s", id, run.Status)
			return errNoChange
		}
		if err := e.revokeGate(ctx, tx, run, em, "cancelled"); err != nil {
			return err
		}
		stage := ""
		for _, s := range run.Stages {
			if s.Status == greenlight.StageRunning || s.Status == greenlight.StageWaiting {
				stage = s.Name
			}
		}
		return e.finish(run, em, greenlight.RunCancelled, stage, greenlight.StageCancelled, "cancelled")
	})
	if err != nil {
		return nil, err
	}
	if conflict != nil {
		return nil, conflict
	}
	e.mu.Lock()
	if cancel, ok := e.active[id]; ok {
		cancel(errCancelled)
	}
	e.mu.Unlock()
	e.schedule(e.background(ctx), run.Pipeline)
	return run, nil
}
