package store

import (
	"context"
	"fmt"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// CreateToken stores t. A duplicate hash is ECONFLICT; a missing approval is
// ENOTFOUND.
func (o *ops) CreateToken(ctx context.Context, t *greenlight.ApprovalToken) error {
	_, err := o.exec(ctx, `INSERT INTO tokens (hash, approval_id, run_id, approver, expires_at,
		used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.Hash, t.ApprovalID, t.RunID, t.Approver, o.t(t.ExpiresAt), o.nt(t.UsedAt), o.nt(t.RevokedAt))
	switch classify(err) {
	case uniqueViolation:
		return greenlight.Errorf(greenlight.ECONFLICT, "token exists")
	case foreignKeyViolation:
		return greenlight.Errorf(greenlight.ENOTFOUND, "approval %d not found", t.ApprovalID)
	}
	if err != nil {
		return fmt.Errorf("create token for approval %d: %w", t.ApprovalID, err)
	}
	return nil
}

// Token returns the token with that hash (a primary-key lookup).
func (o *ops) Token(ctx context.Context, hash []byte) (*greenlight.ApprovalToken, error) {
	var t greenlight.ApprovalToken
	err := o.queryRow(ctx, `SELECT hash, approval_id, run_id, approver, expires_at, used_at, revoked_at
		FROM tokens WHERE hash = ?`, hash).Scan(&t.Hash, &t.ApprovalID, &t.RunID, &t.Approver,
		utc{&t.ExpiresAt}, nullUTC{&t.UsedAt}, nullUTC{&t.RevokedAt})
	if err != nil {
		return nil, notFound(err, "token")
	}
	return &t, nil
}

// UseToken marks the token used at now if it is unused, unrevoked and not
// expired at now, in one conditional UPDATE: of racing callers one wins.
// False if the condition failed; ENOTFOUND if there is no such token.
func (o *ops) UseToken(ctx context.Context, hash []byte, now time.Time) (bool, error) {
	ok, err := o.execOne(ctx, `UPDATE tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL
		AND revoked_at IS NULL AND expires_at > ?`, o.t(now), hash, o.t(now))
	if err != nil {
		return false, fmt.Errorf("use token: %w", err)
	}
	if !ok {
		return false, o.mustExist(ctx, `SELECT 1 FROM tokens WHERE hash = ?`, hash, "token")
	}
	return true, nil
}

// RevokeTokens revokes every unused, unrevoked token of the approval.
func (o *ops) RevokeTokens(ctx context.Context, approvalID int64, at time.Time) error {
	_, err := o.exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE approval_id = ?
		AND used_at IS NULL AND revoked_at IS NULL`, o.t(at), approvalID)
	if err != nil {
		return fmt.Errorf("revoke tokens of approval %d: %w", approvalID, err)
	}
	return nil
}
