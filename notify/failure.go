package notify

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// runFinished tells the pipeline's notify list and the commit author, each
// in their own mail, that a run failed, was rejected or expired, and why
// (SPEC §5). A pull request's run tells the notify list only.
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
	list, author := n.failureRecipients(run)
	if len(list) == 0 && author == "" {
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
	// The notify list and the author get separate mails: an address taken
	// from a commit never shares a To: line with the team's.
	key := "run:" + id(run.ID) + ":" + string(data.Status)
	var mails []*greenlight.Mail
	for _, to := range []struct {
		key   string
		addrs []string
	}{{key, list}, {key + ":author", nonEmpty(author)}} {
		if len(to.addrs) == 0 {
			continue
		}
		m, err := n.failureMail(run, data.Status, reason, decisions, to.addrs, to.key)
		if err != nil {
			return err
		}
		mails = append(mails, m)
	}
	queued := 0
	for _, m := range mails {
		inserted, err := n.cfg.Store.EnqueueMail(ctx, m)
		if err != nil {
			return fmt.Errorf("queue %s mail of run %d: %w", data.Status, run.ID, err)
		}
		if inserted {
			queued++
			n.cfg.Log.InfoContext(ctx, "run mail queued", "run", run.ID, "status", data.Status, "to", m.To)
		}
	}
	if queued > 0 {
		n.enqueued()
	}
	return nil
}

// failureRecipients is the pipeline's notify list (each address once) and
// the commit author's address, if it parses, is not on the list, and the
// run is not a pull request's. A pull request's commit, its author address
// and its title are whatever its sender wrote: mailing that address would
// let anyone who opens a pull request have the server send mail of their
// wording to any address, so its failures go to the notify list only.
func (n *Notifier) failureRecipients(run *greenlight.Run) (list []string, author string) {
	seen := map[string]bool{}
	for _, r := range n.cfg.Recipients(run.Pipeline) {
		a, err := mail.ParseAddress(r)
		if err != nil {
			continue
		}
		if k := strings.ToLower(a.Address); !seen[k] {
			seen[k] = true
			list = append(list, a.Address)
		}
	}
	if run.PullRequest != nil {
		return list, ""
	}
	a, err := mail.ParseAddress(run.Commit.AuthorEmail)
	if err != nil || seen[strings.ToLower(a.Address)] {
		return list, ""
	}
	return list, a.Address
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
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
