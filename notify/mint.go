package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// mint makes the approver's token for decision mail m right before it is
// sent, and returns m with the token in its links. Only the token's SHA-256
// is stored; the raw token lives in this process's memory and in the mail
// that leaves, so no working link is ever written to the database.
//
// One transaction, lock first, then read: the approval is locked (if still
// pending) so that a decision or a revocation in flight is seen, then the new
// hash is stored beside the approver's earlier ones.
//
// At least once: a crash after the SMTP transaction and before its record
// sends the mail again, with the same Message-ID and a new token. Mail
// clients that show one message per Message-ID may show either copy, so both
// copies' links work: an approver's earlier tokens are kept, and once they
// decided through any of them all are used (approval.State), so nobody
// decides twice.
//
// The new token is born in the state the approver's earlier links are in:
// used if the approver already decided, revoked if the run was superseded or
// cancelled before the mail left. Any other closed gate needs nothing: State
// reads the approval's status, and the page says what happened.
func (d *Dispatcher) mint(ctx context.Context, m *greenlight.Mail) (*greenlight.Mail, error) {
	raw, hash := greenlight.NewToken()
	err := d.store.InTx(ctx, func(tx greenlight.Tx) error {
		now := d.now()
		if _, err := tx.LockApproval(ctx, m.ApprovalID, now); err != nil {
			return err
		}
		a, err := tx.Approval(ctx, m.ApprovalID)
		if err != nil {
			return err
		}
		t := &greenlight.ApprovalToken{Hash: hash, ApprovalID: a.ID, RunID: a.RunID,
			Approver: m.Approver, ExpiresAt: a.Deadline}
		if a.Status == greenlight.ApprovalRevoked { // State says so anyway; the row says it too
			t.RevokedAt = &now
		}
		for _, dec := range a.Decisions {
			if strings.EqualFold(dec.Approver, m.Approver) {
				t.UsedAt = &dec.At
				break
			}
		}
		return tx.CreateToken(ctx, t)
	})
	if err != nil {
		return nil, fmt.Errorf("make token of approval %d for %s: %w", m.ApprovalID, m.Approver, err)
	}
	out := *m
	out.Text = fillLinks(m.Text, raw)
	out.HTML = fillLinks(m.HTML, raw)
	return &out, nil
}

// fillLinks puts raw wherever the stored mail has the placeholder. Only the
// links have one: oneLine removes it from every value a mail shows.
func fillLinks(s, raw string) string {
	return strings.ReplaceAll(s, greenlight.TokenPlaceholder, raw)
}
