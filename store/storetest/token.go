package storetest

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func createToken(t *testing.T, s greenlight.Store, a *greenlight.Approval, approver string) *greenlight.ApprovalToken {
	t.Helper()
	_, hash := greenlight.NewToken()
	tok := &greenlight.ApprovalToken{Hash: hash, ApprovalID: a.ID, RunID: a.RunID, Approver: approver, ExpiresAt: a.Deadline}
	must(t, s.CreateToken(context.Background(), tok))
	return tok
}

func testToken(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	a := createApproval(t, s)
	tok := createToken(t, s, a, "pm@example.com")
	got, err := s.Token(ctx, tok.Hash)
	must(t, err)
	if !reflect.DeepEqual(got, tok) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, tok)
	}
	_, err = s.Token(ctx, greenlight.HashToken("unknown"))
	wantCode(t, err, greenlight.ENOTFOUND)
	wantCode(t, s.CreateToken(ctx, tok), greenlight.ECONFLICT)
	_, orphanHash := greenlight.NewToken()
	orphan := &greenlight.ApprovalToken{Hash: orphanHash, ApprovalID: a.ID + 100, ExpiresAt: at(0)}
	wantCode(t, s.CreateToken(ctx, orphan), greenlight.ENOTFOUND)
}

func testUseToken(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	deadline := at(72 * time.Hour) // of every approval createApproval makes
	tests := []struct {
		name  string
		setup func(t *testing.T, a *greenlight.Approval, tok *greenlight.ApprovalToken) // before UseToken
		now   time.Time
		want  bool
	}{
		{"fresh", nil, at(time.Hour), true},
		{"a microsecond before expiry", nil, deadline.Add(-time.Microsecond), true},
		{"at expiry", nil, deadline, false},
		{"after expiry", nil, deadline.Add(time.Hour), false},
		{"used", func(t *testing.T, _ *greenlight.Approval, tok *greenlight.ApprovalToken) {
			ok, err := s.UseToken(ctx, tok.Hash, at(time.Minute))
			if err != nil || !ok {
				t.Fatalf("first use: got %v, %v; want true", ok, err)
			}
		}, at(time.Hour), false},
		{"revoked", func(t *testing.T, a *greenlight.Approval, _ *greenlight.ApprovalToken) {
			must(t, s.RevokeTokens(ctx, a.ID, at(time.Minute)))
		}, at(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case its own approval, since revoking is per approval.
			a := createApproval(t, s)
			tok := createToken(t, s, a, "pm@example.com")
			if tt.setup != nil {
				tt.setup(t, a, tok)
			}
			before, err := s.Token(ctx, tok.Hash)
			must(t, err)
			got, err := s.UseToken(ctx, tok.Hash, tt.now)
			must(t, err)
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			after, err := s.Token(ctx, tok.Hash)
			must(t, err)
			switch {
			case tt.want && (after.UsedAt == nil || !after.UsedAt.Equal(tt.now)):
				t.Errorf("got used_at %v, want %v", after.UsedAt, tt.now)
			case !tt.want && !reflect.DeepEqual(after, before):
				t.Errorf("a refused use changed the token: %+v, was %+v", after, before)
			}
		})
	}
	_, err := s.UseToken(ctx, greenlight.HashToken("unknown"), at(0))
	wantCode(t, err, greenlight.ENOTFOUND)
}

// testUseTokenRace has 50 goroutines use one token at once: exactly one wins.
func testUseTokenRace(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	tok := createToken(t, s, createApproval(t, s), "pm@example.com")
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			ok, err := s.UseToken(ctx, tok.Hash, at(time.Hour))
			if err != nil {
				errs <- err
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := wins.Load(); got != 1 {
		t.Fatalf("got %d successful uses, want exactly 1", got)
	}
}

func testRevokeTokens(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	a := createApproval(t, s)
	used := createToken(t, s, a, "pm@example.com")
	open := createToken(t, s, a, "cto@example.com")
	other := createToken(t, s, createApproval(t, s), "pm@example.com")
	ok, err := s.UseToken(ctx, used.Hash, at(time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("use: got false, want true")
	}
	must(t, s.RevokeTokens(ctx, a.ID, at(time.Hour)))
	must(t, s.RevokeTokens(ctx, a.ID, at(2*time.Hour))) // keeps the first revocation time

	tests := []struct {
		name    string
		hash    []byte
		revoked *time.Time
	}{
		{"used token stays used, unrevoked", used.Hash, nil},
		{"unused token revoked", open.Hash, ptr(at(time.Hour))},
		{"other approval untouched", other.Hash, nil},
	}
	for _, tt := range tests {
		got, err := s.Token(ctx, tt.hash)
		must(t, err)
		if !reflect.DeepEqual(got.RevokedAt, tt.revoked) {
			t.Errorf("%s: got revoked_at %v, want %v", tt.name, got.RevokedAt, tt.revoked)
		}
	}
}
