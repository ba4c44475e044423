package approval

import (
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestState(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	tests := []struct {
		name   string
		token  greenlight.ApprovalToken
		status greenlight.ApprovalStatus
		want   TokenState
	}{
		{"open", greenlight.ApprovalToken{ExpiresAt: later}, greenlight.ApprovalPending, TokenOpen},
		{"used", greenlight.ApprovalToken{ExpiresAt: later, UsedAt: &earlier}, greenlight.ApprovalApproved, TokenUsed},
		{"used stays used after the deadline", greenlight.ApprovalToken{ExpiresAt: earlier, UsedAt: &earlier}, greenlight.ApprovalApproved, TokenUsed},
		{"revoked token", greenlight.ApprovalToken{ExpiresAt: later, RevokedAt: &earlier}, greenlight.ApprovalPending, TokenRevoked},
		{"revoked gate", greenlight.ApprovalToken{ExpiresAt: later}, greenlight.ApprovalRevoked, TokenRevoked},
		{"deadline passed", greenlight.ApprovalToken{ExpiresAt: earlier}, greenlight.ApprovalPending, TokenExpired},
		{"deadline is exclusive", greenlight.ApprovalToken{ExpiresAt: now}, greenlight.ApprovalPending, TokenExpired},
		{"gate expired", greenlight.ApprovalToken{ExpiresAt: later}, greenlight.ApprovalExpired, TokenExpired},
		{"decided by someone else", greenlight.ApprovalToken{ExpiresAt: later}, greenlight.ApprovalApproved, TokenClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &greenlight.Approval{Status: tt.status}
			if got := State(&tt.token, a, clock); got != tt.want {
				t.Errorf("State = %s, want %s", got, tt.want)
			}
		})
	}
}
