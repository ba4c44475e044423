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

// TestStateSameIdentityAsCounting: a link is used once its approver decided
// through another link, with identities compared as the rules count them
// (key): the same person in another case, yes; an address that only Unicode
// case folding confuses with another (ſ, the long s, folds to s) is another
// approver to the rules, so their link must still work, or the rule would
// wait for someone who can no longer decide.
func TestStateSameIdentityAsCounting(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	a := &greenlight.Approval{Status: greenlight.ApprovalPending, Rules: []greenlight.ApprovalRule{
		{Name: "qa", Approvers: []string{"sam@x.com", "ſam@x.com"}, Required: 2}}, Decisions: []greenlight.Decision{ap("sam@x.com")}}
	if got := State(&greenlight.ApprovalToken{Approver: "SAM@X.com", ExpiresAt: now.Add(time.Hour)}, a, clock); got != TokenUsed {
		t.Errorf("the same approver's other link: %s, want used", got)
	}
	if p := Progress(a)[0]; len(p.Waiting) != 1 {
		t.Fatalf("rules count %v as still waiting, want ſam@x.com", p.Waiting)
	}
	if got := State(&greenlight.ApprovalToken{Approver: "ſam@x.com", ExpiresAt: now.Add(time.Hour)}, a, clock); got != TokenOpen {
		t.Errorf("the other approver's link: %s, want open (the rules wait for them)", got)
	}
}
