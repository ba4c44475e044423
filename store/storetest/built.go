package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func testLastBuilt(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	_, err := s.LastBuilt(ctx, "hello", "refs/heads/main")
	wantCode(t, err, greenlight.ENOTFOUND)
	const a, b = "0123456789abcdef0123456789abcdef01234567", "89abcdef0123456789abcdef0123456789abcdef"
	must(t, s.SetLastBuilt(ctx, "hello", "refs/heads/main", a, at(0)))
	must(t, s.SetLastBuilt(ctx, "hello", "refs/heads/dev", b, at(0)))
	must(t, s.SetLastBuilt(ctx, "other", "refs/heads/main", b, at(0)))
	tests := []struct{ pipeline, ref, want string }{
		{"hello", "refs/heads/main", a},
		{"hello", "refs/heads/dev", b},
		{"other", "refs/heads/main", b},
	}
	for _, tt := range tests {
		got, err := s.LastBuilt(ctx, tt.pipeline, tt.ref)
		must(t, err)
		if got != tt.want {
			t.Errorf("LastBuilt(%s, %s) = %s, want %s", tt.pipeline, tt.ref, got, tt.want)
		}
	}
	// A later commit replaces the earlier one, inside a transaction too.
	must(t, s.InTx(ctx, func(tx greenlight.Tx) error {
		return tx.SetLastBuilt(ctx, "hello", "refs/heads/main", b, at(time.Second))
	}))
	if got, err := s.LastBuilt(ctx, "hello", "refs/heads/main"); err != nil || got != b {
		t.Errorf("after replacing: got %s, %v; want %s", got, err, b)
	}
}

func testAdvanceLastBuilt(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	const a, b = "0123456789abcdef0123456789abcdef01234567", "89abcdef0123456789abcdef0123456789abcdef"
	steps := []struct {
		ref, sha string
		want     bool
	}{
		{"refs/heads/main", a, true},  // no row yet
		{"refs/heads/main", a, false}, // already a
		{"refs/heads/dev", a, true},   // another ref
		{"refs/heads/main", b, true},  // a new commit
		{"refs/heads/main", a, true},  // back to an older one
		{"refs/heads/main", a, false},
	}
	for i, st := range steps {
		got, err := s.AdvanceLastBuilt(ctx, "hello", st.ref, st.sha, at(time.Duration(i)*time.Second))
		must(t, err)
		if got != st.want {
			t.Errorf("step %d: AdvanceLastBuilt(%s, %s) = %v, want %v", i, st.ref, st.sha[:7], got, st.want)
		}
		if last, err := s.LastBuilt(ctx, "hello", st.ref); err != nil || last != st.sha {
			t.Errorf("step %d: LastBuilt = %s, %v; want %s", i, last, err, st.sha[:7])
		}
	}

	// Racing transactions for one new commit: exactly one advances it.
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var won bool // of the attempt that committed, if PostgreSQL retried
			err := s.InTx(ctx, func(tx greenlight.Tx) error {
				var err error
				won, err = tx.AdvanceLastBuilt(ctx, "race", "refs/heads/main", b, at(time.Duration(i)*time.Millisecond))
				return err
			})
			if err != nil {
				errs <- fmt.Errorf("advance %d: %w", i, err)
			} else if won {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := wins.Load(); got != 1 {
		t.Fatalf("%d of 10 racing transactions advanced the ref, want exactly 1", got)
	}
}

func testRunTagAndPullRequest(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	tag := newRun("hello", at(0))
	tag.Commit.Branch, tag.Commit.Tag = "", "v1.2.0"
	must(t, s.CreateRun(ctx, tag))
	pr := newRun("hello", at(time.Second))
	pr.PullRequest = &greenlight.PullRequest{Number: 42, Title: "Add a thing", URL: "https://example.com/pr/42",
		HeadBranch: "feature", BaseBranch: "main", HeadRepo: "https://example.com/fork.git"}
	must(t, s.CreateRun(ctx, pr))
	for _, want := range []*greenlight.Run{tag, pr} {
		got, err := s.Run(ctx, want.ID)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
	plain := createRun(t, s, "hello", at(2*time.Second))
	runs, err := s.Runs(ctx, greenlight.RunFilter{Pipeline: "hello"})
	must(t, err)
	if len(runs) != 3 || runs[0].ID != plain.ID || runs[0].PullRequest != nil || runs[1].PullRequest == nil ||
		runs[1].PullRequest.Number != 42 || runs[2].Commit.Tag != "v1.2.0" {
		t.Errorf("listing: got %+v", runs)
	}
}
