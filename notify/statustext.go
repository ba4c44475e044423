package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
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
// a few words and hold no secrets: no step output, no error text, no
// approver's comment, only the approver's address.
func (r *StatusReporter) updates(ctx context.Context, e greenlight.Event, run *greenlight.Run) ([]update, error) {
	runCtx := "greenlight/" + run.Pipeline
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
		waiting := "waiting for approval"
		if a.Required > 1 {
			waiting = fmt.Sprintf("waiting for %d approvals", a.Required)
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
		var by []string
		for _, dec := range a.Decisions {
			if dec.Verdict == greenlight.Approve {
				by = append(by, dec.Approver)
			}
		}
		desc := fmt.Sprintf("approved by %s; %d more needed", strings.Join(by, ", "), max(a.Required-len(by), 1))
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
		desc, err := r.stageDone(ctx, run, st, d.Status)
		if err != nil {
			return nil, err
		}
		return []update{{stageCtx(st.Name), stageState(d.Status), desc}}, nil

	case greenlight.EventRunFinished:
		var d greenlight.RunFinished
		if !r.decode(ctx, e, &d) {
			return nil, nil
		}
		desc, err := r.runDone(ctx, run, d.Status)
		if err != nil {
			return nil, err
		}
		return []update{{runCtx, runState(d.Status), desc}}, nil
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
// staging failed after 3s", "rejected by pm@example.com".
func (r *StatusReporter) stageDone(ctx context.Context, run *greenlight.Run, st *greenlight.Stage, status greenlight.StageStatus) (string, error) {
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
			return r.decided(ctx, run, st.Name, greenlight.Approve, "approved")
		case greenlight.StageRejected:
			return r.decided(ctx, run, st.Name, greenlight.Reject, "rejected")
		case greenlight.StageExpired:
			return "approval expired: nobody approved in time", nil
		case greenlight.StageCancelled:
			return "approval no longer needed", nil
		}
	case greenlight.StageDeploy:
		switch status {
		case greenlight.StageSucceeded:
			return "deployed to " + st.Environment + took(" in "), nil
		case greenlight.StageFailed:
			return "deploy to " + st.Environment + " failed" + took(" after "), nil
		case greenlight.StageCancelled:
			return "deploy to " + st.Environment + " cancelled", nil
		}
	default:
		switch status {
		case greenlight.StageSucceeded:
			return st.Name + " passed" + took(" in "), nil
		case greenlight.StageFailed:
			return st.Name + " failed" + took(" after "), nil
		}
	}
	return st.Name + " " + string(status), nil
}

// runDone describes a finished run: "succeeded in 3m2s", "failed at build".
func (r *StatusReporter) runDone(ctx context.Context, run *greenlight.Run, status greenlight.RunStatus) (string, error) {
	switch status {
	case greenlight.RunSucceeded:
		if run.FinishedAt != nil {
			return "succeeded in " + span(run.FinishedAt.Sub(run.CreatedAt)), nil
		}
		return "succeeded", nil
	case greenlight.RunFailed:
		for _, s := range run.Stages {
			if s.Status == greenlight.StageFailed {
				return "failed at " + s.Name, nil
			}
		}
		return "failed", nil
	case greenlight.RunRejected:
		for _, s := range run.Stages {
			if s.Status == greenlight.StageRejected {
				return r.decided(ctx, run, s.Name, greenlight.Reject, "rejected")
			}
		}
		return "rejected", nil
	case greenlight.RunExpired:
		return "expired: nobody approved in time", nil
	case greenlight.RunSuperseded:
		return "superseded by a newer run", nil
	}
	return string(status), nil
}

// decided is "<verb> by a@x, b@y": who gave the verdict at the run's
// approval stage. Only addresses: a comment may say anything.
func (r *StatusReporter) decided(ctx context.Context, run *greenlight.Run, stage string, v greenlight.Verdict, verb string) (string, error) {
	a, err := r.cfg.Store.ApprovalForStage(ctx, run.ID, stage)
	if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
		return verb, nil
	}
	if err != nil {
		return "", fmt.Errorf("load approval of run %d stage %s: %w", run.ID, stage, err)
	}
	var who []string
	for _, d := range a.Decisions {
		if d.Verdict == v {
			who = append(who, d.Approver)
		}
	}
	if len(who) == 0 {
		return verb, nil
	}
	return verb + " by " + strings.Join(who, ", "), nil
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
