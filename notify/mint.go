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
// pending) so that a decision or a revocation in flight is seen; then every
// unused token of this approver on this approval is deleted and the new hash
// stored. So at any moment an approver has at most one unused token per
// approval, and it is the one in the mail sent last.
//
// At least once: a crash after this transaction and before the delivery is
// recorded sends the mail again with a new token, and the earlier one dies
// here. If that earlier mail did arrive, its links answer 404 and the new
// mail's links work. We kill the old hash at minting rather than at delivery
// because the record of delivery is exactly what a crash loses: "kill on
// delivery" would leave two working links with nothing left to kill one.
//
// The new token is born in the state the approver's earlier links were in:
// if the approver already decided (their earlier mail arrived, a crash lost
// its delivery record), it is born used, so that nobody decides twice; if
// the run was superseded or cancelled before the mail left, it is born
// revoked. Any other closed gate needs nothing: State reads the approval's
// status, and the page says what happened.
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
		if _, err := tx.DeleteUnusedTokens(ctx, a.ID, m.Approver); err != nil {
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
