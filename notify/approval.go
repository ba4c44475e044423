package notify

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// approvalOpened queues each approver's mail with their own pair of links.
// The mail is stored with greenlight.TokenPlaceholder where the token goes:
// the Dispatcher makes the token right before it sends the mail and stores
// only its hash (mint.go), so no working link is ever written to the
// database. The mail's Key makes a second pass over the event queue nothing.
func (n *Notifier) approvalOpened(ctx context.Context, e greenlight.Event) error {
	var data greenlight.ApprovalOpened
	if !n.decode(ctx, e, &data) {
		return nil
	}
	a, run, err := n.approvalAndRun(ctx, data.ApprovalID)
	if err != nil {
		return err
	}
	now := n.cfg.Now()
	if !n.stillOpen(ctx, a, now) {
		return nil
	}

	letters, err := n.gateMail(ctx, a, run, now)
	if err != nil {
		return err
	}

	queued := 0
	err = n.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		queued = 0
		// Checked again under the transaction's write lock: mail queued after
		// a revoke would only carry dead links.
		cur, err := tx.Approval(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("load approval %d: %w", a.ID, err)
		}
		if !n.stillOpen(ctx, cur, now) {
			return nil
		}
		for _, m := range letters {
			inserted, err := tx.EnqueueMail(ctx, m)
			if err != nil {
				return err
			}
			if inserted {
				queued++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue approval mail of approval %d: %w", a.ID, err)
	}
	if queued > 0 {
		n.cfg.Log.InfoContext(ctx, "approval mail queued", "pipeline", a.Pipeline, "run", a.RunID,
			"approval", a.ID, "mails", queued)
		n.enqueued()
	}
	return nil
}

// gateMail is every mail a gate's opening queues: each approver's links
// (held back until the gate's links go out, `wait`), a mail without links
// to each excluded person saying why, a reminder per approver at each
// reminder time (not sent to those who decided by then: approval.Mint), and
// the escalation contacts' own links at the escalation time.
func (n *Notifier) gateMail(ctx context.Context, a *greenlight.Approval, run *greenlight.Run, now time.Time) ([]*greenlight.Mail, error) {
	var letters []*greenlight.Mail
	add := func(approver string, at time.Time, kind int) error {
		if _, err := mail.ParseAddress(approver); err != nil {
			n.cfg.Log.ErrorContext(ctx, "notify: approver is not an address; no mail",
				"approval", a.ID, "approver", approver)
			return nil
		}
		m, err := n.approvalMail(ctx, a, run, approver, at, kind)
		if err != nil {
			return err
		}
		letters = append(letters, m)
		return nil
	}
	opens := later(now, a.OpensAt)
	for _, approver := range a.Approvers {
		if err := add(approver, opens, followNone); err != nil {
			return nil, err
		}
	}
	escalated := approval.Escalated(a)
	if a.EscalateAt != nil {
		for _, who := range escalated {
			if err := add(who, later(opens, *a.EscalateAt), followEscalate); err != nil {
				return nil, err
			}
		}
	}
	for _, at := range a.RemindAt {
		if !at.After(opens) {
			continue
		}
		for _, approver := range a.Approvers {
			if err := add(approver, at, followRemind); err != nil {
				return nil, err
			}
		}
		if a.EscalateAt != nil && !at.Before(*a.EscalateAt) {
			for _, who := range escalated {
				if err := add(who, at, followRemind); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, e := range a.Excluded {
		if _, err := mail.ParseAddress(e.Approver); err != nil {
			continue
		}
		m, err := n.excludedMail(a, run, e)
		if err != nil {
			return nil, err
		}
		letters = append(letters, m)
	}
	return letters, nil
}

// stillOpen reports whether links for a would still work. Mail for an
// approval that was revoked, decided or expired before the notifier got to
// it would only carry dead links.
func (n *Notifier) stillOpen(ctx context.Context, a *greenlight.Approval, now time.Time) bool {
	if a.Status == greenlight.ApprovalPending && now.Before(a.Deadline) {
		return true
	}
	n.cfg.Log.InfoContext(ctx, "notify: approval no longer open; no approval mail",
		"approval", a.ID, "status", a.Status, "deadline", a.Deadline)
	return false
}

// approvalAndRun loads an approval and its run.
func (n *Notifier) approvalAndRun(ctx context.Context, id int64) (*greenlight.Approval, *greenlight.Run, error) {
	a, err := n.cfg.Store.Approval(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("load approval %d: %w", id, err)
	}
	run, err := n.cfg.Store.Run(ctx, a.RunID)
	if err != nil {
		return nil, nil, fmt.Errorf("load run %d: %w", a.RunID, err)
	}
	return a, run, nil
}

// approvalRevoked tells each approver their decision is no longer needed.
func (n *Notifier) approvalRevoked(ctx context.Context, e greenlight.Event) error {
	var data greenlight.Revocation
	if !n.decode(ctx, e, &data) {
		return nil
	}
	a, run, err := n.approvalAndRun(ctx, data.ApprovalID)
	if err != nil {
		return err
	}
	reason := data.Reason
	if reason == "" {
		reason = string(run.Status)
	}
	queued := 0
	asked := a.Approvers
	if a.EscalateAt != nil && !n.cfg.Now().Before(*a.EscalateAt) {
		asked = append(append([]string{}, asked...), approval.Escalated(a)...)
	}
	for _, approver := range asked {
		if _, err := mail.ParseAddress(approver); err != nil {
			continue
		}
		m, err := n.revokedMail(a, run, approver, reason)
		if err != nil {
			return err
		}
		inserted, err := n.cfg.Store.EnqueueMail(ctx, m)
		if err != nil {
			return fmt.Errorf("queue revoked mail of approval %d: %w", a.ID, err)
		}
		if inserted {
			queued++
		}
	}
	if queued > 0 {
		n.enqueued()
	}
	return nil
}

// decisionURL is an approver's link; decision preselects the choice on the
// page, which decides nothing until it is posted.
func (n *Notifier) decisionURL(raw string, v greenlight.Verdict) string {
	return n.base + "/approvals/" + url.PathEscape(raw) + "?decision=" + url.QueryEscape(string(v))
}

func (n *Notifier) runURL(id int64) string {
	return n.base + "/runs/" + strconv.FormatInt(id, 10)
}
