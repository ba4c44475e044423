package notify

import (
	"context"
	"fmt"
	"net/mail"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// approvalOutcome tells every approver asked on a gate of the run how it
// ended (SPEC §12): approved and live (and when), rejected, expired, or
// approved but stopped before going live. A gate revoked while it waited is
// left to approvalRevoked's mail, so nobody hears the same news twice.
func (n *Notifier) approvalOutcome(ctx context.Context, e greenlight.Event) error {
	var data greenlight.RunFinished
	if !n.decode(ctx, e, &data) {
		return nil
	}
	run, err := n.cfg.Store.Run(ctx, e.RunID)
	if err != nil {
		return fmt.Errorf("load run %d: %w", e.RunID, err)
	}
	queued := 0
	for _, s := range run.Stages {
		if s.Type != greenlight.StageApproval {
			continue
		}
		a, err := n.cfg.Store.ApprovalForStage(ctx, run.ID, s.Name)
		if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
			continue
		}
		if err != nil {
			return fmt.Errorf("load approval of run %d stage %s: %w", run.ID, s.Name, err)
		}
		if a.Status == greenlight.ApprovalPending || a.Status == greenlight.ApprovalRevoked {
			continue
		}
		if a.Status == greenlight.ApprovalFailed && a.DecidedAt == nil {
			continue // failed as it opened (a rule could not pass): nobody was asked
		}
		v, err := n.outcome(ctx, a, run, data)
		if err != nil {
			return err
		}
		for _, approver := range a.Approvers {
			if _, err := mail.ParseAddress(approver); err != nil {
				continue
			}
			m, err := n.newMail("outcome:"+id(a.ID)+":"+approver, []string{approver}, v.subject, "outcome", v)
			if err != nil {
				return err
			}
			inserted, err := n.cfg.Store.EnqueueMail(ctx, m)
			if err != nil {
				return fmt.Errorf("queue outcome mail of approval %d: %w", a.ID, err)
			}
			if inserted {
				queued++
			}
		}
	}
	if queued > 0 {
		n.cfg.Log.InfoContext(ctx, "approval outcome mail queued", "run", run.ID, "mails", queued)
		n.enqueued()
	}
	return nil
}

type outcomeView struct {
	Pipeline  string
	Run       int64
	Commit    commitView
	Outcome   string // the one sentence that says how the gate ended
	Decisions []decisionView
	RunURL    string
	subject   string
}

// outcome words how approval a of run ended, once: the headline says it,
// the decisions list says who said what, and nothing repeats either.
func (n *Notifier) outcome(ctx context.Context, a *greenlight.Approval, run *greenlight.Run, data greenlight.RunFinished) (*outcomeView, error) {
	v := &outcomeView{Pipeline: a.Pipeline, Run: run.ID, Commit: viewCommit(run.Commit),
		Decisions: viewDecisions(a.Decisions), RunURL: n.runURL(run.ID)}
	env := environment(run, a.Stage)
	what := "Approved"
	switch {
	case a.Status == greenlight.ApprovalRejected && data.Error == approval.NoDecision:
		what = "Rejected"
		v.Outcome = fmt.Sprintf("Rejected: nobody decided before the deadline, so it will not go to %s.", env)
	case a.Status == greenlight.ApprovalFailed:
		what = "Stopped"
		v.Outcome = fmt.Sprintf("Stopped: %s, so it will not go to %s.", oneLine(approval.Problem(a)), env)
	case a.Status == greenlight.ApprovalRejected:
		what = "Rejected"
		v.Outcome = fmt.Sprintf("Rejected: it will not go to %s.", env)
	case a.Status == greenlight.ApprovalExpired:
		what = "Expired"
		v.Outcome = fmt.Sprintf("Expired: nobody decided before the deadline, so it will not go to %s.", env)
	case data.Status == greenlight.RunSucceeded:
		what = "Live"
		at := run.FinishedAt
		if rel, err := n.cfg.Store.LiveRelease(ctx, run.Pipeline, greenlight.GuardedEnvironment(run, a.Stage)); err == nil && rel.RunID == run.ID {
			at = &rel.DeployedAt
		}
		v.Outcome = fmt.Sprintf("Approved, and live in %s", env)
		if at != nil {
			v.Outcome += " since " + at.UTC().Format("2006-01-02 15:04 MST")
		}
		v.Outcome += "."
	case data.Status == greenlight.RunSuperseded:
		v.Outcome = fmt.Sprintf("Approved, but a newer version replaced it before it went to %s.", env)
	case data.Status == greenlight.RunCancelled:
		v.Outcome = fmt.Sprintf("Approved, but the run was cancelled before it went to %s.", env)
	default:
		what = "Not live"
		v.Outcome = fmt.Sprintf("Approved, but it did not go live in %s: the run %s.", env, data.Status)
		if data.Error != "" {
			v.Outcome = fmt.Sprintf("Approved, but it did not go live in %s: %s.", env, oneLine(data.Error))
		}
	}
	v.subject = fmt.Sprintf("%s: %s #%d (%s)", what, a.Pipeline, run.ID, subjectTitle(v.Commit.Title))
	return v, nil
}
