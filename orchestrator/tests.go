package orchestrator

import (
	"context"
	"io"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/junit"
)

// recordTests reads the build's JUnit reports (the build file's
// reports.junit) from the workspace and records their summary on the run at
// once: after a failed build as after a passing one, since failing tests are
// what people must see, and before the stage's outcome is recorded, so that
// whatever tells people about it can show the summary. What the reports lack
// or break is written to the build log (out), never failing the build.
func (e *Engine) recordTests(ctx context.Context, run *greenlight.Run, ws string, patterns []string, out io.Writer) {
	if ctx.Err() != nil {
		return // a cancelled or timed-out build's reports are not waited for
	}
	sum := junit.Collect(ws, patterns, out)
	if sum == nil && run.Tests == nil {
		return
	}
	// nil over an earlier summary: a build run again (after a crash) that
	// wrote no report must not show the first attempt's.
	run.Tests = sum
	if _, err := e.change(ctx, run.ID, func(_ greenlight.Tx, r *greenlight.Run, _ *emitter) error {
		if r.Status.Terminal() || (sum == nil && r.Tests == nil) {
			return errNoChange
		}
		r.Tests = sum
		return nil
	}); err != nil {
		e.cfg.Log.Error("record test summary", "run", run.ID, "err", err)
	}
}
