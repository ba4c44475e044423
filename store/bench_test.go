package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func testTime() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// seedTokens makes n approvals with one token each and returns the hashes.
func seedTokens(b *testing.B, s greenlight.Store, n int) [][]byte {
	ctx := context.Background()
	hashes := make([][]byte, n)
	for i := range n {
		r := &greenlight.Run{Pipeline: "hello", Status: greenlight.RunWaiting, CreatedAt: testTime(),
			Stages: []greenlight.Stage{{Name: "build"}, {Name: "staging"}, {Name: "approval"}, {Name: "production"}}}
		if err := s.CreateRun(ctx, r); err != nil {
			b.Fatal(err)
		}
		a := &greenlight.Approval{RunID: r.ID, Pipeline: "hello", Stage: "approval", Approvers: []string{"pm@example.com"},
			Required: 1, Deadline: testTime().Add(72 * time.Hour), Status: greenlight.ApprovalPending, CreatedAt: testTime()}
		if err := s.CreateApproval(ctx, a); err != nil {
			b.Fatal(err)
		}
		_, hashes[i] = greenlight.NewToken()
		if err := s.CreateToken(ctx, &greenlight.ApprovalToken{Hash: hashes[i], ApprovalID: a.ID, RunID: r.ID,
			Approver: "pm@example.com", ExpiresAt: a.Deadline}); err != nil {
			b.Fatal(err)
		}
	}
	return hashes
}

// BenchmarkTokenLookup is what GET /approvals/{token} reads: the token, its
// approval and its run. One op is the three lookups.
func BenchmarkTokenLookup(b *testing.B) {
	s := newSQLite(b)
	hashes := seedTokens(b, s, 1000)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tok, err := s.Token(ctx, hashes[i%len(hashes)])
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Approval(ctx, tok.ApprovalID); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Run(ctx, tok.RunID); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkUseToken is the write of POST /approvals/{token}: one conditional
// UPDATE that succeeds (each op uses a fresh token).
func BenchmarkUseToken(b *testing.B) {
	s := newSQLite(b)
	hashes := seedTokens(b, s, b.N)
	ctx := context.Background()
	now := testTime().Add(time.Hour)
	b.ResetTimer()
	for i := range b.N {
		ok, err := s.UseToken(ctx, hashes[i], now)
		if err != nil || !ok {
			b.Fatalf("use token %d: got %v, %v", i, ok, err)
		}
	}
}
