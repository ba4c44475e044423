package approval_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

var stores = []struct {
	name string
	open func(t *testing.T) greenlight.Store
}{
	{"sqlite", storetest.SQLite},
	{"postgres", storetest.Postgres},
}

// gate makes a pending approval with one token per approver.
func gate(t *testing.T, s greenlight.Store, now time.Time, required int, approvers ...string) (int64, map[string]string) {
	t.Helper()
	return shapedGate(t, s, now, required, nil, approvers...)
}

// shapedGate is gate with shape applied to the approval before it is stored.
func shapedGate(t *testing.T, s greenlight.Store, now time.Time, required int, shape func(*greenlight.Approval), approvers ...string) (int64, map[string]string) {
	t.Helper()
	ctx := context.Background()
	run := &greenlight.Run{Pipeline: "hello", Status: greenlight.RunWaiting, Trigger: greenlight.TriggerAPI,
		Commit: greenlight.Commit{SHA: "0123456789012345678901234567890123456789", Branch: "main"}, CreatedAt: now,
		Stages: []greenlight.Stage{{Name: "approval", Type: greenlight.StageApproval, Status: greenlight.StageWaiting}}}
	if err := s.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	a := &greenlight.Approval{RunID: run.ID, Pipeline: "hello", Stage: "approval", Approvers: approvers,
		Required: required, Deadline: now.Add(time.Hour), Status: greenlight.ApprovalPending, CreatedAt: now}
	if shape != nil {
		shape(a)
	}
	if err := s.CreateApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, who := range approvers {
		raw, hash := greenlight.NewToken()
		if err := s.CreateToken(ctx, &greenlight.ApprovalToken{Hash: hash, ApprovalID: a.ID, RunID: run.ID,
			Approver: who, ExpiresAt: a.Deadline}); err != nil {
			t.Fatal(err)
		}
		tokens[who] = raw
	}
	return a.ID, tokens
}

// TestDecideConcurrentQuorum: approvers of a `required: 2` gate who click at
// the same moment are both counted, on both databases.
func TestDecideConcurrentQuorum(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			now := time.Now().UTC()
			svc := approval.New(s, func() time.Time { return now })
			for trial := range 10 {
				id, tokens := gate(t, s, now, 2, "pm@example.com", "cto@example.com")
				var wg sync.WaitGroup
				for _, raw := range tokens {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := svc.Decide(context.Background(), raw, approval.Input{Verdict: greenlight.Approve}); err != nil {
							t.Errorf("trial %d: decide: %v", trial, err)
						}
					}()
				}
				wg.Wait()
				a, err := s.Approval(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if a.Status != greenlight.ApprovalApproved || len(a.Decisions) != 2 {
					t.Fatalf("trial %d: gate is %s with %d decisions, want approved with 2", trial, a.Status, len(a.Decisions))
				}
			}
		})
	}
}

// TestDecideOneWinner: many clicks through two links of a one-approval gate;
// exactly one decides and every other is told the link is gone.
func TestDecideOneWinner(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			now := time.Now().UTC()
			svc := approval.New(s, func() time.Time { return now })
			id, tokens := gate(t, s, now, 1, "pm@example.com", "cto@example.com")
			var mu sync.Mutex
			wins, gone := 0, 0
			var wg sync.WaitGroup
			for i := range 40 {
				raw := tokens["pm@example.com"]
				verdict := greenlight.Approve
				if i%2 == 1 {
					raw, verdict = tokens["cto@example.com"], greenlight.Reject
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.Decide(context.Background(), raw, approval.Input{Verdict: verdict})
					mu.Lock()
					defer mu.Unlock()
					switch greenlight.ErrorCode(err) {
					case "":
						wins++
					case greenlight.EGONE:
						gone++
					default:
						t.Errorf("decide: %v", err)
					}
				}()
			}
			wg.Wait()
			a, err := s.Approval(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if wins != 1 || gone != 39 || len(a.Decisions) != 1 || a.Status == greenlight.ApprovalPending {
				t.Fatalf("%d wins, %d gone, %d decisions, status %s; want 1, 39, 1, decided", wins, gone, len(a.Decisions), a.Status)
			}
		})
	}
}

func TestDecideBadInput(t *testing.T) {
	s := storetest.SQLite(t)
	now := time.Now().UTC()
	svc := approval.New(s, func() time.Time { return now })
	_, tokens := gate(t, s, now, 1, "pm@example.com")
	tests := []struct {
		name  string
		token string
		in    approval.Input
		code  string
	}{
		{"unknown verdict", tokens["pm@example.com"], approval.Input{Verdict: "maybe"}, greenlight.EINVALID},
		{"malformed token", "not-a-token", approval.Input{Verdict: greenlight.Approve}, greenlight.ENOTFOUND},
		{"unknown token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", approval.Input{Verdict: greenlight.Approve}, greenlight.ENOTFOUND},
		{"comment too long", tokens["pm@example.com"], approval.Input{Verdict: greenlight.Approve, Comment: string(make([]byte, approval.MaxComment+1))}, greenlight.EINVALID},
		{"comment not text", tokens["pm@example.com"], approval.Input{Verdict: greenlight.Approve, Comment: "\xff\xfe"}, greenlight.EINVALID},
		{"comment with NUL (PostgreSQL text cannot hold it)", tokens["pm@example.com"], approval.Input{Verdict: greenlight.Approve, Comment: "ok\x00go"}, greenlight.EINVALID},
	}
	for _, tt := range tests {
		if _, err := svc.Decide(context.Background(), tt.token, tt.in); greenlight.ErrorCode(err) != tt.code {
			t.Errorf("%s: got %v, want code %s", tt.name, err, tt.code)
		}
	}
	// Nothing above used the token.
	if _, err := svc.Decide(context.Background(), tokens["pm@example.com"], approval.Input{Verdict: greenlight.Approve}); err != nil {
		t.Errorf("the token was spent by bad input: %v", err)
	}
}

// TestDecideRules: a missing required comment is EUNPROCESSABLE and records
// nothing; an approval records the rule it counted for; a rule of
// required: 2 stays pending after one approval; an excluded approver's link
// decides nothing.
func TestDecideRules(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			ctx := context.Background()
			now := time.Now().UTC()
			svc := approval.New(s, func() time.Time { return now })
			id, tokens := shapedGate(t, s, now, 3, func(a *greenlight.Approval) {
				a.CommentRequired = greenlight.CommentReject
				a.Rules = []greenlight.ApprovalRule{
					{Name: "product", Approvers: []string{"pm@example.com"}, Required: 1},
					{Name: "qa", Approvers: []string{"qa@example.com", "PM@example.com", "qb@example.com", "ada@example.com"}, Required: 2},
				}
				a.Excluded = []greenlight.Exclusion{{Approver: "ada@example.com", Why: "the commit's author"}}
			}, "pm@example.com", "qa@example.com", "qb@example.com", "ada@example.com")

			_, err := svc.Decide(ctx, tokens["qa@example.com"], approval.Input{Verdict: greenlight.Reject, Comment: "  "})
			if greenlight.ErrorCode(err) != greenlight.EUNPROCESSABLE || !strings.Contains(greenlight.ErrorMessage(err), "comment is required to reject") {
				t.Fatalf("reject without comment: %v, want EUNPROCESSABLE", err)
			}
			_, err = svc.Decide(ctx, tokens["ada@example.com"], approval.Input{Verdict: greenlight.Approve})
			if greenlight.ErrorCode(err) != greenlight.EGONE || !strings.Contains(greenlight.ErrorMessage(err), "the commit's author") {
				t.Fatalf("excluded approver: %v, want EGONE naming why", err)
			}
			for _, who := range []string{"pm@example.com", "qa@example.com"} {
				out, err := svc.Decide(ctx, tokens[who], approval.Input{Verdict: greenlight.Approve})
				if err != nil {
					t.Fatalf("%s approves: %v", who, err)
				}
				if out.Approval.Status != greenlight.ApprovalPending {
					t.Fatalf("after %s: gate %s, want pending (qa needs 2)", who, out.Approval.Status)
				}
			}
			a, err := s.Approval(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Decisions) != 2 || a.Decisions[0].Rule != "product" || a.Decisions[1].Rule != "qa" {
				t.Fatalf("decisions %+v: want pm for product, qa for qa, nothing from the refused ones", a.Decisions)
			}
			out, err := svc.Decide(ctx, tokens["qb@example.com"], approval.Input{Verdict: greenlight.Approve})
			if err != nil || out.Approval.Status != greenlight.ApprovalApproved {
				t.Fatalf("qb approves: %v, %v; want approved", err, out)
			}
		})
	}
}

// TestDecideOnePersonTwoLinksRacing: an approver holding two links (a mail
// sent twice, a reminder) approves through one and rejects through the
// other at the same moment, on a `required: 2` gate: exactly one of their
// decisions is recorded, on both databases, so nobody approves and then
// rejects, or counts twice.
func TestDecideOnePersonTwoLinksRacing(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			ctx := context.Background()
			now := time.Now().UTC()
			svc := approval.New(s, func() time.Time { return now })
			for trial := range 10 {
				id, tokens := gate(t, s, now, 2, "pm@example.com", "cto@example.com")
				a, err := s.Approval(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				second, hash := greenlight.NewToken()
				if err := s.CreateToken(ctx, &greenlight.ApprovalToken{Hash: hash, ApprovalID: id, RunID: a.RunID,
					Approver: "PM@example.com", ExpiresAt: a.Deadline}); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				wins := make(chan greenlight.Verdict, 4)
				for i, raw := range []string{tokens["pm@example.com"], second, tokens["pm@example.com"], second} {
					v := greenlight.Approve
					if i%2 == 1 {
						v = greenlight.Reject
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := svc.Decide(ctx, raw, approval.Input{Verdict: v, Comment: "no"})
						switch greenlight.ErrorCode(err) {
						case "":
							wins <- v
						case greenlight.EGONE:
						default:
							t.Errorf("trial %d: decide: %v", trial, err)
						}
					}()
				}
				wg.Wait()
				close(wins)
				n := 0
				for range wins {
					n++
				}
				a, err = s.Approval(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if n != 1 || len(a.Decisions) != 1 {
					t.Fatalf("trial %d: %d decisions won, %d recorded; want one", trial, n, len(a.Decisions))
				}
				want := greenlight.ApprovalPending
				if a.Decisions[0].Verdict == greenlight.Reject {
					want = greenlight.ApprovalRejected
				}
				if a.Status != want {
					t.Fatalf("trial %d: gate %s after %s, want %s", trial, a.Status, a.Decisions[0].Verdict, want)
				}
			}
		})
	}
}

// TestDecideInvisibleComment: a required comment made only of characters
// nobody sees (zero-width spaces and joiners, a byte order mark, control
// characters, Unicode spaces) is no comment: EUNPROCESSABLE, and the link
// still works.
func TestDecideInvisibleComment(t *testing.T) {
	s := storetest.SQLite(t)
	now := time.Now().UTC()
	svc := approval.New(s, func() time.Time { return now })
	_, tokens := shapedGate(t, s, now, 1, func(a *greenlight.Approval) { a.CommentRequired = greenlight.CommentBoth }, "pm@example.com")
	for _, c := range []string{"\u200b", "\u200b\u200d\ufeff\u2060", "\u00a0\u3000", "\x07\x1b \t", "\u202e"} {
		_, err := svc.Decide(context.Background(), tokens["pm@example.com"], approval.Input{Verdict: greenlight.Approve, Comment: c})
		if greenlight.ErrorCode(err) != greenlight.EUNPROCESSABLE {
			t.Errorf("comment %q: %v, want EUNPROCESSABLE", c, err)
		}
	}
	out, err := svc.Decide(context.Background(), tokens["pm@example.com"], approval.Input{Verdict: greenlight.Approve, Comment: "\u200b ok \u200b"})
	if err != nil || out.Approval.Decisions[0].Comment != "\u200b ok \u200b" {
		t.Fatalf("a real comment: %v, %+v", err, out)
	}
}
