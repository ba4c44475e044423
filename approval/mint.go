package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// ErrNotNeeded is Mint's answer for a follow-up mail (a reminder, an
// escalation) that no longer asks anything: the gate closed, the approver
// decided, or the approver may not decide. The mail is not sent.
var ErrNotNeeded = errors.New("no decision needed from this approver any more")

// Mint makes approver's token for approval id right before a mail with
// their links is sent, and returns the raw token for the links. Only the
// token's SHA-256 is stored; the raw token lives in the caller's memory and
// in the mail that leaves, so no working link is ever written to the
// database.
//
// One transaction, lock first, then read: the approval is locked (if still
// pending) so that a decision or a revocation in flight is seen, then the new
// hash is stored beside the approver's earlier ones.
//
// An approver's earlier links keep working. At least once: a crash after the
// SMTP transaction and before its record sends the mail again, with the same
// Message-ID and a new token, and mail clients that show one message per
// Message-ID may show either copy; a reminder's links and the first mail's
// both lead to the same decision. Once the approver decided through any of
// them, all are used (State), so nobody decides twice.
//
// The new token is born in the state the approver's earlier links are in:
// used if the approver already decided, revoked if the run was superseded or
// cancelled before the mail left. Any other closed gate needs nothing: State
// reads the approval's status, and the page says what happened.
//
// followUp marks a reminder or an escalation: those are ErrNotNeeded when
// the gate is no longer pending, its deadline passed, or the approver has
// decided. So is the first mail of a gate with a `wait` that closed before
// its links went out. An excluded approver never gets a token.
func Mint(ctx context.Context, store greenlight.Store, id int64, approver string, now time.Time, followUp bool) (string, error) {
	raw, hash := greenlight.NewToken()
	err := store.InTx(ctx, func(tx greenlight.Tx) error {
		if _, err := tx.LockApproval(ctx, id, now); err != nil {
			return err
		}
		a, err := tx.Approval(ctx, id)
		if err != nil {
			return err
		}
		if excluded(a, approver) != "" {
			return ErrNotNeeded
		}
		var decided *time.Time
		for _, dec := range a.Decisions {
			if key(dec.Approver) == key(approver) {
				decided = &dec.At
				break
			}
		}
		if followUp && (a.Status != greenlight.ApprovalPending || !now.Before(a.Deadline) || decided != nil) {
			return ErrNotNeeded
		}
		// Links held back by `wait` for a gate that closed meanwhile (the
		// run was cancelled or superseded) never went out: nothing to send.
		if a.OpensAt.After(a.CreatedAt) && a.Status != greenlight.ApprovalPending && decided == nil {
			return ErrNotNeeded
		}
		t := &greenlight.ApprovalToken{Hash: hash, ApprovalID: a.ID, RunID: a.RunID,
			Approver: approver, ExpiresAt: a.Deadline, UsedAt: decided}
		if a.Status == greenlight.ApprovalRevoked { // State says so anyway; the row says it too
			t.RevokedAt = &now
		}
		return tx.CreateToken(ctx, t)
	})
	if errors.Is(err, ErrNotNeeded) {
		return "", ErrNotNeeded
	}
	if err != nil {
		return "", fmt.Errorf("make token of approval %d for %s: %w", id, approver, err)
	}
	return raw, nil
}
