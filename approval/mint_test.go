package approval_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

// TestMintFollowUps: a reminder for an approver who decided, any mail for
// an excluded person, and the held-back first mail of a gate that closed
// during its wait are not needed; a reminder to someone undecided gets a
// working token.
func TestMintFollowUps(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	now := time.Now().UTC()
	svc := approval.New(s, func() time.Time { return now })
	id, tokens := shapedGate(t, s, now, 2, func(a *greenlight.Approval) {
		a.Excluded = []greenlight.Exclusion{{Approver: "ada@example.com", Why: "the commit's author"}}
	}, "pm@example.com", "cto@example.com")
	if _, err := svc.Decide(ctx, tokens["pm@example.com"], approval.Input{Verdict: greenlight.Approve}); err != nil {
		t.Fatal(err)
	}
	if _, err := approval.Mint(ctx, s, id, "pm@example.com", now, true); !errors.Is(err, approval.ErrNotNeeded) {
		t.Errorf("reminder to an approver who decided: %v, want ErrNotNeeded", err)
	}
	if _, err := approval.Mint(ctx, s, id, "ada@example.com", now, false); !errors.Is(err, approval.ErrNotNeeded) {
		t.Errorf("token for an excluded person: %v, want ErrNotNeeded", err)
	}
	raw, err := approval.Mint(ctx, s, id, "cto@example.com", now, true)
	if err != nil {
		t.Fatalf("reminder to an undecided approver: %v", err)
	}
	if v, err := svc.Lookup(ctx, raw); err != nil || v.State != approval.TokenOpen {
		t.Errorf("the reminder's token: %+v, %v; want open", v, err)
	}

	waited, _ := shapedGate(t, s, now, 1, func(a *greenlight.Approval) { a.OpensAt = now.Add(time.Minute) }, "pm@example.com")
	if _, err := s.SetApprovalStatus(ctx, waited, greenlight.ApprovalRevoked, now); err != nil {
		t.Fatal(err)
	}
	if _, err := approval.Mint(ctx, s, waited, "pm@example.com", now.Add(time.Minute), false); !errors.Is(err, approval.ErrNotNeeded) {
		t.Errorf("held-back links of a gate revoked during its wait: %v, want ErrNotNeeded", err)
	}
}
