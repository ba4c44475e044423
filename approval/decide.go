package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/greenlight-cd/greenlight"
)

// MaxComment bounds a decision's comment, in bytes.
const MaxComment = 4000

// Service looks tokens up and records decisions.
type Service struct {
	store greenlight.Store
	now   greenlight.Now
}

// New returns a Service on store with the clock now.
func New(store greenlight.Store, now greenlight.Now) *Service {
	return &Service{store: store, now: now}
}

// View is what a decision page shows about one token.
type View struct {
	Approver string
	State    TokenState
	Approval *greenlight.Approval
	Run      *greenlight.Run
}

// Lookup finds the token's approval and run. It changes nothing, so mail
// scanners that open links decide nothing. Unknown or malformed tokens are
// ENOTFOUND.
func (s *Service) Lookup(ctx context.Context, raw string) (*View, error) {
	if !greenlight.WellFormedToken(raw) {
		return nil, greenlight.Errorf(greenlight.ENOTFOUND, "this approval link is not valid")
	}
	t, err := s.store.Token(ctx, greenlight.HashToken(raw))
	if err != nil {
		if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
			return nil, greenlight.Errorf(greenlight.ENOTFOUND, "this approval link is not valid")
		}
		return nil, fmt.Errorf("look up token: %w", err)
	}
	a, err := s.store.Approval(ctx, t.ApprovalID)
	if err != nil {
		return nil, fmt.Errorf("look up approval %d: %w", t.ApprovalID, err)
	}
	run, err := s.store.Run(ctx, t.RunID)
	if err != nil {
		return nil, fmt.Errorf("look up run %d: %w", t.RunID, err)
	}
	return &View{Approver: t.Approver, State: State(t, a, s.now), Approval: a, Run: run}, nil
}

// Input is one approver's decision as submitted.
type Input struct {
	Verdict   greenlight.Verdict
	Comment   string
	IP        string
	UserAgent string
}

// Outcome is what a decision did.
type Outcome struct {
	Approver string
	Verdict  greenlight.Verdict
	Approval *greenlight.Approval // after the decision; Status says whether the gate closed
}

// Decide records one decision through the token raw, in one transaction:
// the token is used at most once (a conditional update), the gate is locked so
// that concurrent decisions through different links count correctly, and the
// gate's new status is written with an event. A token that can no longer
// decide is EGONE with a message saying why and, when the gate is closed,
// who decided. Exactly one of two racing decisions on a single-approval gate
// wins; the other gets EGONE.
func (s *Service) Decide(ctx context.Context, raw string, in Input) (*Outcome, error) {
	if in.Verdict != greenlight.Approve && in.Verdict != greenlight.Reject {
		return nil, greenlight.Errorf(greenlight.EINVALID, "decision must be approve or reject")
	}
	// NUL: PostgreSQL's text cannot hold it (an internal error, not a 4xx).
	if len(in.Comment) > MaxComment || !utf8.ValidString(in.Comment) || strings.ContainsRune(in.Comment, 0) {
		return nil, greenlight.Errorf(greenlight.EINVALID, "the comment must be valid text of at most %d bytes", MaxComment)
	}
	if !greenlight.WellFormedToken(raw) {
		return nil, greenlight.Errorf(greenlight.ENOTFOUND, "this approval link is not valid")
	}
	hash := greenlight.HashToken(raw)
	var out *Outcome
	err := s.store.InTx(ctx, func(tx greenlight.Tx) error {
		now := s.now()
		t, err := tx.Token(ctx, hash)
		if err != nil {
			if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
				return greenlight.Errorf(greenlight.ENOTFOUND, "this approval link is not valid")
			}
			return err
		}
		// Lock first, then read: a decision committed while we waited for the
		// lock must count (two approvers of a `required: 2` gate at once). A
		// gate no longer pending is not locked, and State says why.
		if _, err := tx.LockApproval(ctx, t.ApprovalID, now); err != nil {
			return err
		}
		a, err := tx.Approval(ctx, t.ApprovalID)
		if err != nil {
			return err
		}
		if st := State(t, a, func() time.Time { return now }); st != TokenOpen {
			return greenlight.Errorf(greenlight.EGONE, "%s", Explain(st, a))
		}
		if why := excluded(a, t.Approver); why != "" {
			return greenlight.Errorf(greenlight.EGONE, "you may not decide on this release: you are %s", why)
		}
		comment := strings.TrimSpace(in.Comment)
		if !visible(comment) && CommentNeeded(a, in.Verdict) {
			verb := "reject"
			if in.Verdict == greenlight.Approve {
				verb = "approve"
			}
			return greenlight.Errorf(greenlight.EUNPROCESSABLE, "a comment is required to %s: please say why", verb)
		}
		used, err := tx.UseToken(ctx, hash, now)
		if err != nil {
			return err
		}
		if !used {
			return greenlight.Errorf(greenlight.EGONE, "this link has just been used")
		}
		d := &greenlight.Decision{ApprovalID: a.ID, Approver: t.Approver, Verdict: in.Verdict,
			Comment: comment, IP: in.IP, UserAgent: strings.ReplaceAll(strings.ToValidUTF8(in.UserAgent, ""), "\x00", ""), At: now}
		a.Decisions = append(a.Decisions, *d)
		d.Rule = RuleOf(a, len(a.Decisions)-1)
		a.Decisions[len(a.Decisions)-1].Rule = d.Rule
		if err := tx.AddDecision(ctx, d); err != nil {
			return err
		}
		status := Status(a)
		if status != greenlight.ApprovalPending {
			ok, err := tx.SetApprovalStatus(ctx, a.ID, status, now)
			if err != nil {
				return err
			}
			if !ok { // cannot happen while we hold the lock; refuse rather than double-decide
				return greenlight.Errorf(greenlight.ECONFLICT, "the approval changed while deciding; try again")
			}
			a.Status, a.DecidedAt = status, &now
		}
		data, _ := json.Marshal(greenlight.ApprovalDecided{ApprovalID: a.ID, Approver: t.Approver, Verdict: in.Verdict, Status: a.Status})
		if err := tx.AppendEvent(ctx, &greenlight.Event{Pipeline: a.Pipeline, RunID: a.RunID,
			Type: greenlight.EventApprovalDecided, Data: data, CreatedAt: now}); err != nil {
			return err
		}
		out = &Outcome{Approver: t.Approver, Verdict: in.Verdict, Approval: a}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decide: %w", err)
	}
	return out, nil
}

// Explain says, for people, why a token in state st can no longer decide, and
// who decided when someone did. Pages show it for GET and POST alike.
func Explain(st TokenState, a *greenlight.Approval) string {
	switch st {
	case TokenUsed:
		return "this link was already used" + decidedBy(a)
	case TokenExpired:
		return "this approval expired on " + a.Deadline.UTC().Format("2006-01-02 15:04 MST")
	case TokenRevoked:
		return "this release no longer needs a decision: a newer one replaced it or it was cancelled"
	}
	if a.Status == greenlight.ApprovalFailed {
		return "this approval can no longer pass: " + Problem(a)
	}
	return fmt.Sprintf("this release was already %s%s", a.Status, decidedBy(a))
}

// decidedBy names who decided, for people who arrive late.
func decidedBy(a *greenlight.Approval) string {
	if len(a.Decisions) == 0 {
		return ""
	}
	var parts []string
	for _, d := range a.Decisions {
		parts = append(parts, fmt.Sprintf("%s (%s)", d.Approver, d.Verdict))
	}
	return ": decided by " + strings.Join(parts, ", ")
}

// visible reports whether a comment shows anything: one made only of
// spaces, control and format characters (a zero-width space, a byte order
// mark) reads as empty on every page and mail, and is not the comment a
// gate requires.
func visible(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsSpace(r) && !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r)
	})
}
