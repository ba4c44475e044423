// Package approval owns the life of approval gates (SPEC §6, §11): who may decide,
// when a gate passes or fails, what a token may still do, and the decision
// itself as one transaction. It persists through greenlight.Store and renders
// nothing: the pages live in package web.
package approval

import "github.com/greenlight-cd/greenlight"

// TokenState says what a token can still do.
type TokenState string

const (
	TokenOpen    TokenState = "open"    // may decide
	TokenUsed    TokenState = "used"    // this link already decided
	TokenExpired TokenState = "expired" // the deadline passed
	TokenRevoked TokenState = "revoked" // the run was superseded or cancelled
	TokenClosed  TokenState = "closed"  // the gate was decided through other links
)

// State classifies a token against its approval at time now. The order
// matters: a used link says so even after the deadline.
func State(t *greenlight.ApprovalToken, a *greenlight.Approval, now greenlight.Now) TokenState {
	switch {
	case t.UsedAt != nil || decided(a, t.Approver):
		// Any of an approver's links is used once they decided through one:
		// a mail sent twice (a crash between SMTP and its record) carries
		// two working links, and each approver decides once.
		return TokenUsed
	case t.RevokedAt != nil || a.Status == greenlight.ApprovalRevoked:
		return TokenRevoked
	case a.Status == greenlight.ApprovalExpired || !now().Before(t.ExpiresAt):
		return TokenExpired
	case a.Status != greenlight.ApprovalPending:
		return TokenClosed
	}
	return TokenOpen
}

// decided reports whether approver has a decision on the gate.
func decided(a *greenlight.Approval, approver string) bool {
	for _, d := range a.Decisions {
		if key(d.Approver) == key(approver) { // as the rules count (not EqualFold: ſ folds to s)
			return true
		}
	}
	return false
}
