package notify

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// runFinished tells the commit author and the pipeline's notify list that a
// run failed, was rejected or expired, and why (SPEC §5).
func (n *Notifier) runFinished(ctx context.Context, e greenlight.Event) error {
	var data greenlight.RunFinished
	if !n.decode(ctx, e, &data) {
		return nil
	}
	switch data.Status {
	case greenlight.RunFailed, greenlight.RunRejected, greenlight.RunExpired:
	default:
		return nil
	}
	run, err := n.cfg.Store.Run(ctx, e.RunID)
	if err != nil {
		return fmt.Errorf("load run %d: %w", e.RunID, err)
	}
	to := n.failureRecipients(run)
	if len(to) == 0 {
		n.cfg.Log.WarnContext(ctx, "notify: nobody to tell about a run", "run", run.ID, "status", data.Status)
		return nil
	}
	reason := data.Error
	if reason == "" {
		reason = run.Error
	}
	decisions, err := n.rejections(ctx, run)
	if err != nil {
		return err
	}
	m, err := n.failureMail(run, data.Status, reason, decisions, to)
	if err != nil {
		return err
	}
	inserted, err := n.cfg.Store.EnqueueMail(ctx, m)
	if err != nil {
		return fmt.Errorf("queue %s mail of run %d: %w", data.Status, run.ID, err)
	}
	if inserted {
		n.cfg.Log.InfoContext(ctx, "run mail queued", "run", run.ID, "status", data.Status, "to", to)
		n.enqueued()
	}
	return nil
}

// failureRecipients is the commit author (when the address parses) and the
// notify list, each address once.
func (n *Notifier) failureRecipients(run *greenlight.Run) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return
		}
		k := strings.ToLower(a.Address)
		if !seen[k] {
			seen[k] = true
			out = append(out, a.Address)
		}
	}
	add(run.Commit.AuthorEmail)
	for _, r := range n.cfg.Recipients(run.Pipeline) {
		add(r)
	}
	return out
}

// rejections returns the reject decisions of the run's approval stages, so a
// rejection mail says who rejected and what they wrote.
func (n *Notifier) rejections(ctx context.Context, run *greenlight.Run) ([]greenlight.Decision, error) {
	var out []greenlight.Decision
	for _, s := range run.Stages {
		if s.Type != greenlight.StageApproval || s.Status != greenlight.StageRejected {
			continue
		}
		a, err := n.cfg.Store.ApprovalForStage(ctx, run.ID, s.Name)
		if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load approval of run %d stage %s: %w", run.ID, s.Name, err)
		}
		for _, d := range a.Decisions {
			if d.Verdict == greenlight.Reject {
				out = append(out, d)
			}
		}
	}
	return out, nil
}
