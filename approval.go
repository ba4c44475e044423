package greenlight

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// ApprovalStatus is the state of an approval gate.
type ApprovalStatus string

const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalRejected ApprovalStatus = "rejected"
	ApprovalExpired  ApprovalStatus = "expired"
	ApprovalRevoked  ApprovalStatus = "revoked" // run superseded or cancelled
	// ApprovalFailed: a rule can no longer pass (its approvers who may still
	// decide are fewer than it needs), so the gate fails without waiting.
	ApprovalFailed ApprovalStatus = "failed"
)

// When a gate asks for a comment (Approval.CommentRequired).
const (
	CommentNone    = "none"
	CommentReject  = "reject" // the default
	CommentApprove = "approve"
	CommentBoth    = "both"
)

// What a gate does at its deadline (Approval.OnTimeout).
const (
	TimeoutExpire = "expire" // the default: the run ends expired
	TimeoutReject = "reject" // the run ends rejected, "no decision before the deadline"
)

// ApprovalRule is one rule of a gate: Required of Approvers must approve.
// Every rule of a gate must pass.
type ApprovalRule struct {
	Name      string   `json:"name"`
	Approvers []string `json:"approvers"` // addresses, groups already resolved
	Required  int      `json:"required"`
}

// Exclusion is a person listed as an approver who may not decide this run,
// and why ("the commit's author").
type Exclusion struct {
	Approver string `json:"approver"`
	Why      string `json:"why"`
}

// Approval is the gate of one approval stage of one run.
type Approval struct {
	ID        int64          `json:"id"`
	RunID     int64          `json:"run"`
	Pipeline  string         `json:"pipeline"`
	Stage     string         `json:"stage"`
	Approvers []string       `json:"approvers"` // everyone asked: the rules' approvers, once each, minus Excluded
	Required  int            `json:"required"`  // the sum of the rules' Required (a summary; Rules decide)
	Rules     []ApprovalRule `json:"rules"`
	Excluded  []Exclusion    `json:"excluded"`
	// CommentRequired is when a decision needs a comment: CommentNone,
	// CommentReject, CommentApprove or CommentBoth.
	CommentRequired string `json:"comment_required"`
	OnTimeout       string `json:"on_timeout"` // TimeoutExpire or TimeoutReject
	// EscalateTo are asked too, with links of their own, from EscalateAt on;
	// they count like an approver listed in every rule.
	EscalateTo []string   `json:"escalate_to,omitempty"`
	EscalateAt *time.Time `json:"escalate_at,omitempty"`
	// RemindAt are when approvers who have not decided are reminded.
	RemindAt []time.Time `json:"remind_at,omitempty"`
	// OpensAt is when the links go out (the stage's `wait` after it opened).
	OpensAt   time.Time      `json:"opens_at"`
	ReviewURL string         `json:"review_url,omitempty"`
	Changes   []Change       `json:"changes,omitempty"` // the commits since the release live where the gate leads
	Deadline  time.Time      `json:"deadline"`
	Status    ApprovalStatus `json:"status"`
	CreatedAt time.Time      `json:"created_at"`
	DecidedAt *time.Time     `json:"decided_at"`
	Decisions []Decision     `json:"decisions"`
}

// Change is one commit of what an approval would ship: a commit since the
// release live in the environment the gate guards.
type Change struct {
	SHA    string `json:"sha"`
	Title  string `json:"title"`
	Author string `json:"author,omitempty"`
}

// Short is the change's abbreviated commit id, or "" when it is not known
// (approvals stored before changes named their commits).
func (c Change) Short() string {
	if len(c.SHA) < 7 {
		return c.SHA
	}
	return c.SHA[:7]
}

// UnmarshalJSON also reads a bare string, the title alone: how changes were
// stored before they named their commit and author.
func (c *Change) UnmarshalJSON(b []byte) error {
	var title string
	if err := json.Unmarshal(b, &title); err == nil {
		*c = Change{Title: title}
		return nil
	}
	type plain Change // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// GuardedEnvironment is the environment an approval stage of run guards: that
// of the first deploy stage after it, or "" when none follows.
func GuardedEnvironment(run *Run, stage string) string {
	after := false
	for _, s := range run.Stages {
		if s.Name == stage {
			after = true
		} else if after && s.Type == StageDeploy {
			return s.Environment
		}
	}
	return ""
}

// ApprovalToken binds one secret link to one approval, approver and run.
// Only the SHA-256 of the secret is ever stored.
type ApprovalToken struct {
	Hash       []byte
	ApprovalID int64
	RunID      int64
	Approver   string
	ExpiresAt  time.Time
	UsedAt     *time.Time
	RevokedAt  *time.Time
}

// Verdict is an approver's choice.
type Verdict string

const (
	Approve Verdict = "approve"
	Reject  Verdict = "reject"
)

// Decision is one recorded use of an approval token.
type Decision struct {
	ApprovalID int64     `json:"-"`
	Approver   string    `json:"approver"`
	Verdict    Verdict   `json:"decision"`
	Comment    string    `json:"comment"`
	Rule       string    `json:"rule"` // the rule an approval counted for; "" for a rejection or one that counted for none
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	At         time.Time `json:"at"`
}

// NewToken returns a fresh approval token: 32 bytes from the CSPRNG as
// base64url without padding (43 characters), and the SHA-256 to store.
func NewToken() (raw string, hash []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never returns an error on Linux
	}
	raw = base64.RawURLEncoding.EncodeToString(b[:])
	return raw, HashToken(raw)
}

// HashToken returns the SHA-256 of a raw token, the only form that is stored.
func HashToken(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// WellFormedToken reports whether raw looks like a token NewToken made, so that
// garbage is refused before it reaches the database.
func WellFormedToken(raw string) bool {
	if len(raw) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(raw)
	return err == nil
}
