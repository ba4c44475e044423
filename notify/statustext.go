package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// update is one context's new state.
type update struct {
	context     string
	state       greenlight.StatusState
	description string
}

// updates decides which contexts event e changes and to what. States follow
// the events, not the run as it is now, so that each context goes through
// the states the run went through, in order. Descriptions name the state in
// a few words and hold no secrets: no step output, no error text, and of
// approvals only counts. Statuses are public on public repositories, so
// approvers' addresses and comments stay out.
func (r *StatusReporter) updates(ctx context.Context, e greenlight.Event, run *greenlight.Run) ([]update, error) {
	runCtx := "greenlight/" + run.Pipeline
	if run.PullRequest != nil {
		// A request's head is often a commit a branch run builds too; with
		// the same contexts each run would overwrite the other's result.
		runCtx += "/pr"
	}
	stageCtx := func(stage string) string { return runCtx + "/" + stage }
	switch e.Type {
	case greenlight.EventRunCreated:
		return []update{{runCtx, greenlight.StatusPending, "queued"}}, nil

	case greenlight.EventStageStarted:
		var d struct {
			Stage string `json:"stage"`
		}
		if !r.decode(ctx, e, &d) {
			return nil, nil
		}
		st := run.Stage(d.Stage)
		if st == nil {
			return nil, nil
		}
		return []update{
			{stageCtx(st.Name), greenlight.StatusRunning, stageRunning(st)},
			{runCtx, greenlight.StatusRunning, "running " + st.Name},
		}, nil

	case greenlight.EventApprovalOpened:
		var d greenlight.ApprovalOpened
		if !r.decode(ctx, e, &d) {
			return nil, nil
		}
		a, err := r.cfg.Store.Approval(ctx, d.ApprovalID)
		if err != nil {
			return nil, fmt.Errorf("load approval %d: %w", d.ApprovalID, err)
		}
		waiting := approval.Reason(a, a.OpensAt) // "waiting for product (0 of 1) and qa (0 of 1)"
		if p := approval.Progress(a); len(p) == 1 && p[0].Name == approval.DefaultRule {
			waiting = "waiting for approval"
			if p[0].Required > 1 {
				waiting = fmt.Sprintf("waiting for %d approvals", p[0].Required)
			}
		}
		return []update{
			{stageCtx(a.Stage), greenlight.StatusPending, waiting},
			{runCtx, greenlight.StatusPending, waiting + " at " + a.Stage},
		}, nil

	case greenlight.EventApprovalDecided:
		// Only a gate still open says something new here; a closing decision
		// is reported by the stage.finished that follows it.
		var d greenlight.ApprovalDecided
		if !r.decode(ctx, e, &d) || d.Status != greenlight.ApprovalPending || d.Verdict != greenlight.Approve {
			return nil, nil
		}
		a, err := r.cfg.Store.Approval(ctx, d.ApprovalID)
		if err != nil {
			return nil, fmt.Errorf("load approval %d: %w", d.ApprovalID, err)
		}
		desc := approval.Summary(a) // "product (1 of 1) and qa (0 of 1)"
		if p := approval.Progress(a); len(p) == 1 && p[0].Name == approval.DefaultRule {
			desc = fmt.Sprintf("%d of %d approvals", p[0].Approved, p[0].Required)
		}
		return []update{{stageCtx(a.Stage), greenlight.StatusPending, desc}}, nil

	case greenlight.EventStageFinished:
		var d struct {
			Stage  string                 `json:"stage"`
			Status greenlight.StageStatus `json:"status"`
		}
		if !r.decode(ctx, e, &d) {
			return nil, nil
		}
		st := run.Stage(d.Stage)
		if st == nil || d.Status == greenlight.StageSkipped {
			return nil, nil
		}
		return []update{{stageCtx(st.Name), stageState(d.Status), stageDone(st, d.Status)}}, nil

	case greenlight.EventRunFinished:
		var d greenlight.RunFinished
		if !r.decode(ctx, e, &d) {
			return nil, nil
		}
		return []update{{runCtx, runState(d.Status), runDone(run, d.Status)}}, nil
	}
	return nil, nil
}

func (r *StatusReporter) decode(ctx context.Context, e greenlight.Event, v any) bool {
	if err := json.Unmarshal(e.Data, v); err != nil {
		r.cfg.Log.ErrorContext(ctx, "forge statuses: skipped event with unreadable data",
			"seq", e.Seq, "type", e.Type, "err", err)
		return false
	}
	return true
}

func stageRunning(st *greenlight.Stage) string {
	switch st.Type {
	case greenlight.StageBuild:
		return st.Name + " running"
	case greenlight.StageDeploy:
		return "deploying to " + st.Environment
	}
	return st.Name + " running"
}

// stageDone describes a finished stage: "build passed in 42s", "deploy to
// staging failed after 3s", "rejected".
func stageDone(st *greenlight.Stage, status greenlight.StageStatus) string {
	took := func(prefix string) string {
		if st.StartedAt == nil || st.FinishedAt == nil {
			return ""
		}
		return prefix + span(st.FinishedAt.Sub(*st.StartedAt))
	}
	switch st.Type {
	case greenlight.StageApproval:
		switch status {
		case greenlight.StageSucceeded:
			return "approved"
		case greenlight.StageRejected:
			return "rejected"
		case greenlight.StageExpired:
			return "approval expired: nobody approved in time"
		case greenlight.StageCancelled:
			return "approval no longer needed"
		}
	case greenlight.StageDeploy:
		switch status {
		case greenlight.StageSucceeded:
			return "deployed to " + st.Environment + took(" in ")
		case greenlight.StageFailed:
			return "deploy to " + st.Environment + " failed" + took(" after ")
		case greenlight.StageCancelled:
			return "deploy to " + st.Environment + " cancelled"
		}
	default:
		switch status {
		case greenlight.StageSucceeded:
			return st.Name + " passed" + took(" in ")
		case greenlight.StageFailed:
			return st.Name + " failed" + took(" after ")
		}
	}
	return st.Name + " " + string(status)
}

// runDone describes a finished run: "succeeded in 3m2s", "failed at build",
// "rejected at approval".
func runDone(run *greenlight.Run, status greenlight.RunStatus) string {
	switch status {
	case greenlight.RunSucceeded:
		if run.FinishedAt != nil {
			return "succeeded in " + span(run.FinishedAt.Sub(run.CreatedAt))
		}
		return "succeeded"
	case greenlight.RunFailed:
		for _, s := range run.Stages {
			if s.Status == greenlight.StageFailed {
				return "failed at " + s.Name
			}
		}
		return "failed"
	case greenlight.RunRejected:
		for _, s := range run.Stages {
			if s.Status == greenlight.StageRejected {
				return "rejected at " + s.Name
			}
		}
		return "rejected"
	case greenlight.RunExpired:
		return "expired: nobody approved in time"
	case greenlight.RunSuperseded:
		return "superseded by a newer run"
	}
	return string(status)
}

func stageState(s greenlight.StageStatus) greenlight.StatusState {
	switch s {
	case greenlight.StageRunning:
		return greenlight.StatusRunning
	case greenlight.StageSucceeded:
		return greenlight.StatusSuccess
	case greenlight.StageFailed, greenlight.StageRejected, greenlight.StageExpired:
		return greenlight.StatusFailure
	case greenlight.StageCancelled, greenlight.StageSkipped:
		return greenlight.StatusCancelled
	}
	return greenlight.StatusPending
}

func runState(s greenlight.RunStatus) greenlight.StatusState {
	switch s {
	case greenlight.RunRunning:
		return greenlight.StatusRunning
	case greenlight.RunSucceeded:
		return greenlight.StatusSuccess
	case greenlight.RunFailed, greenlight.RunRejected, greenlight.RunExpired:
		return greenlight.StatusFailure
	case greenlight.RunCancelled, greenlight.RunSuperseded:
		return greenlight.StatusCancelled
	}
	return greenlight.StatusPending
}

// span is a duration for people, to the second: 42s, 3m2s, 1h0m5s.
func span(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	return d.Round(time.Second).String()
}
