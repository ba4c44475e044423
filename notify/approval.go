package notify

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// approvalOpened queues each approver's mail with their own pair of links.
// The raw token exists only in that mail: it is made here, and its hash is
// stored in the same transaction that queues the mail, only if the mail was
// not queued before, so a second pass over the event makes no second token.
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

	type letter struct {
		mail  *greenlight.Mail
		token *greenlight.ApprovalToken
	}
	var letters []letter
	for _, approver := range a.Approvers {
		if _, err := mail.ParseAddress(approver); err != nil {
			n.cfg.Log.ErrorContext(ctx, "notify: approver is not an address; no mail",
				"approval", a.ID, "approver", approver)
			continue
		}
		raw, hash := greenlight.NewToken()
		m, err := n.approvalMail(a, run, approver, raw, now)
		if err != nil {
			return err
		}
		letters = append(letters, letter{m, &greenlight.ApprovalToken{
			Hash: hash, ApprovalID: a.ID, RunID: a.RunID, Approver: approver, ExpiresAt: a.Deadline,
		}})
	}

	queued := 0
	err = n.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		queued = 0
		// Checked again under the transaction's write lock: tokens made after a
		// revoke would outlive RevokeTokens.
		cur, err := tx.Approval(ctx, a.ID)
		if err != nil {
			return fmt.Errorf("load approval %d: %w", a.ID, err)
		}
		if !n.stillOpen(ctx, cur, now) {
			return nil
		}
		for _, l := range letters {
			inserted, err := tx.EnqueueMail(ctx, l.mail)
			if err != nil {
				return err
			}
			if !inserted {
				continue // queued on an earlier pass, with its own token
			}
			if err := tx.CreateToken(ctx, l.token); err != nil {
				return err
			}
			queued++
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
	for _, approver := range a.Approvers {
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
