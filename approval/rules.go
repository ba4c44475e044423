package approval

import (
	"fmt"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// The one place a gate's rules are counted. Every page, mail, status text
// and API answer that shows "N of M" asks Progress or Reason; nothing else
// counts decisions.
//
// The rules (SPEC §11): identities are email addresses compared without
// case; every rule must pass, and rules are asked in parallel; an approver
// listed in several rules decides once, and their approval counts for one
// rule only, the first listed rule that still needs approvals; one rejection
// rejects the gate. People asked through escalation count like an approver
// listed in every rule. Excluded people (self-approval) count for nothing.

// NoDecision is the reason of a run whose gate rejected it at the deadline
// (on_timeout: reject).
const NoDecision = "no decision before the deadline"

// RuleProgress is how far one rule of a gate has come.
type RuleProgress struct {
	Name      string   `json:"name"`
	Required  int      `json:"required"`
	Approved  int      `json:"approved"`  // approvals counted for this rule, at most Required
	Approvers []string `json:"approvers"` // who may approve for it: its approvers and escalation contacts, minus the excluded
	Counted   []string `json:"counted"`   // whose approvals counted for it
	Waiting   []string `json:"waiting"`   // who may still decide and has not
	Passed    bool     `json:"passed"`
	// Possible is false when the approvals counted plus everyone still
	// waiting cannot reach Required: the rule can no longer pass.
	Possible bool `json:"possible"`
}

// Text is the rule as people read it: "product (1 of 2)".
func (p RuleProgress) Text() string {
	return fmt.Sprintf("%s (%d of %d)", p.Name, p.Approved, p.Required)
}

// key is an identity as rules compare it.
func key(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

// member reports whether who may approve for rule r of gate a with a
// decision made at at; at nil asks whether they may at some time before the
// deadline. Escalation contacts count for every rule only from the
// escalation on: before it, an approver who is also an escalation contact
// approves for their own rules, like everyone else.
func member(a *greenlight.Approval, r greenlight.ApprovalRule, who string, at *time.Time) bool {
	k := key(who)
	if excluded(a, k) != "" {
		return false
	}
	for _, x := range r.Approvers {
		if key(x) == k {
			return true
		}
	}
	if a.EscalateAt != nil && at != nil && at.Before(*a.EscalateAt) {
		return false
	}
	for _, x := range a.EscalateTo {
		if key(x) == k {
			return true
		}
	}
	return false
}

// excluded returns why who may not decide on a, or "".
func excluded(a *greenlight.Approval, who string) string {
	k := key(who)
	for _, e := range a.Excluded {
		if key(e.Approver) == k {
			if e.Why == "" {
				return "may not approve this run"
			}
			return e.Why
		}
	}
	return ""
}

// Excluded returns why who may not decide on gate a, or "" if they may.
func Excluded(a *greenlight.Approval, who string) string { return excluded(a, who) }

// rules returns a's rules; a gate stored before rules existed is one rule
// of its approvers and required count.
func rules(a *greenlight.Approval) []greenlight.ApprovalRule {
	if len(a.Rules) > 0 {
		return a.Rules
	}
	return []greenlight.ApprovalRule{{Name: DefaultRule, Approvers: a.Approvers, Required: max(a.Required, 1)}}
}

// DefaultRule names the one rule of a stage written with `approvers` and
// `required` instead of `rules`.
const DefaultRule = "approvers"

// count assigns each approval in a.Decisions (in time order) to the rule it
// counts for: the first listed rule the approver belongs to that still
// needs approvals. It returns the progress of every rule and, per decision,
// the rule it counted for ("" for a rejection or an approval no rule needed).
func count(a *greenlight.Approval) ([]RuleProgress, []string) {
	rs := rules(a)
	out := make([]RuleProgress, len(rs))
	for i, r := range rs {
		p := RuleProgress{Name: r.Name, Required: max(r.Required, 1), Approvers: []string{}, Counted: []string{}, Waiting: []string{}}
		seen := map[string]bool{}
		for _, x := range append(append([]string{}, r.Approvers...), a.EscalateTo...) {
			if k := key(x); !seen[k] && member(a, r, x, nil) {
				seen[k] = true
				p.Approvers = append(p.Approvers, x)
			}
		}
		out[i] = p
	}
	decided := map[string]bool{}
	assigned := make([]string, len(a.Decisions))
	for j, d := range a.Decisions {
		k := key(d.Approver)
		if decided[k] { // one decision per person, whatever their links
			continue
		}
		decided[k] = true
		if d.Verdict != greenlight.Approve {
			continue
		}
		for i, r := range rs {
			if out[i].Approved < out[i].Required && member(a, r, d.Approver, &d.At) {
				out[i].Approved++
				out[i].Counted = append(out[i].Counted, d.Approver)
				assigned[j] = r.Name
				break
			}
		}
	}
	for i := range out {
		p := &out[i]
		for _, x := range p.Approvers {
			if !decided[key(x)] {
				p.Waiting = append(p.Waiting, x)
			}
		}
		p.Passed = p.Approved >= p.Required
	}
	possible(out)
	return out, assigned
}

// possible sets Possible on every rule: whether the people still waiting
// can bring it to Required together with the rules listed before it, each
// person's approval counting for one rule only. Two rules that share their
// last undecided approver cannot both pass, and the gate fails at once
// rather than wait. It is a bipartite matching of waiting people to the
// approvals the rules still need, grown rule by rule in listed order; the
// first rule that cannot be filled is the one that cannot pass. (Any
// matching can happen: when people decide in the order of the rules they
// are matched to, each counts for the rule they are matched to.)
func possible(out []RuleProgress) {
	var slots []int         // slot → rule index
	holder := []string{}    // slot → person key matched to it
	has := map[string]int{} // person key → slot, for the matched
	var augment func(slot int, seen map[string]bool) bool
	augment = func(slot int, seen map[string]bool) bool {
		for _, x := range out[slots[slot]].Waiting {
			k := key(x)
			if seen[k] {
				continue
			}
			seen[k] = true
			prev, taken := has[k]
			if !taken || augment(prev, seen) {
				has[k], holder[slot] = slot, k
				return true
			}
		}
		return false
	}
	for i := range out {
		p := &out[i]
		p.Possible = true
		if p.Passed {
			continue
		}
		start := len(slots)
		for n := p.Approved; n < p.Required; n++ {
			slots, holder = append(slots, i), append(holder, "")
			if !augment(len(slots)-1, map[string]bool{}) {
				p.Possible = false
				break
			}
		}
		if !p.Possible { // leave its approvals to the rules after it
			for j := start; j < len(slots); j++ {
				if holder[j] != "" {
					delete(has, holder[j])
				}
			}
			slots, holder = slots[:start], holder[:start]
		}
	}
}

// Progress returns the progress of each rule of gate a, in the order the
// rules are listed.
func Progress(a *greenlight.Approval) []RuleProgress {
	p, _ := count(a)
	return p
}

// RuleOf returns the rule the decision at index i of a.Decisions counted
// for ("" if none).
func RuleOf(a *greenlight.Approval, i int) string {
	_, assigned := count(a)
	if i < 0 || i >= len(assigned) {
		return ""
	}
	return assigned[i]
}

// Status is the status a pending gate reaches with its decisions: any
// rejection rejects; every rule passed approves; a rule that can no longer
// pass fails it; anything else stays pending.
func Status(a *greenlight.Approval) greenlight.ApprovalStatus {
	for _, d := range a.Decisions {
		if d.Verdict == greenlight.Reject && excluded(a, d.Approver) == "" {
			return greenlight.ApprovalRejected
		}
	}
	all := true
	for _, p := range Progress(a) {
		if !p.Possible {
			return greenlight.ApprovalFailed
		}
		all = all && p.Passed
	}
	if all {
		return greenlight.ApprovalApproved
	}
	return greenlight.ApprovalPending
}

// Problem says, for people, which rule can no longer pass and why; "" if
// every rule still can.
func Problem(a *greenlight.Approval) string {
	for _, p := range Progress(a) {
		if p.Possible {
			continue
		}
		var why []string
		for _, r := range rules(a) {
			if r.Name != p.Name {
				continue
			}
			for _, x := range r.Approvers {
				if w := excluded(a, x); w != "" {
					why = append(why, x+" ("+w+")")
				}
			}
		}
		msg := fmt.Sprintf("approval rule %s cannot pass: it needs %d approval%s and only %d of its approvers may still decide",
			p.Name, p.Required, plural(p.Required), p.Approved+len(p.Waiting))
		if p.Approved+len(p.Waiting) >= p.Required {
			msg = fmt.Sprintf("approval rule %s cannot pass: it needs %d approval%s and its approvers who may still decide (%s) are needed by the rules listed before it; each approval counts for one rule only",
				p.Name, p.Required, plural(p.Required), strings.Join(p.Waiting, ", "))
		}
		if len(why) > 0 {
			msg += "; may not approve: " + strings.Join(why, ", ")
		}
		return msg
	}
	return ""
}

// Reason says what a pending gate waits for, for a stage's and a run's
// reason: "waiting for product (0 of 1) and qa (0 of 1)", or, before its
// links go out, how long it still holds them back.
func Reason(a *greenlight.Approval, now time.Time) string {
	if now.Before(a.OpensAt) {
		return fmt.Sprintf("waiting until %s before asking approvers (wait %s)",
			a.OpensAt.UTC().Format("15:04:05 MST"), a.OpensAt.Sub(a.CreatedAt).Round(time.Second))
	}
	var parts []string
	for _, p := range Progress(a) {
		if !p.Passed {
			parts = append(parts, p.Text())
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "waiting for " + joinAnd(parts)
}

// Summary is the progress of every rule in one line: "product (1 of 1) and
// qa (0 of 1)".
func Summary(a *greenlight.Approval) string {
	var parts []string
	for _, p := range Progress(a) {
		parts = append(parts, p.Text())
	}
	return joinAnd(parts)
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// CommentNeeded reports whether a decision v on gate a needs a comment.
func CommentNeeded(a *greenlight.Approval, v greenlight.Verdict) bool {
	switch a.CommentRequired {
	case greenlight.CommentNone, "": // "": a gate stored before the setting, when comments were optional
		return false
	case greenlight.CommentBoth:
		return true
	case greenlight.CommentApprove:
		return v == greenlight.Approve
	}
	return v == greenlight.Reject // CommentReject
}

// Needed says what a gate needs, in one sentence for mail and pages: "1 of
// 2 approvers must approve; one rejection stops it." for a stage written
// with approvers and required, or "Approvals so far: product (0 of 1) and
// qa (1 of 1); every rule must pass, and one rejection stops it.". "" for a
// gate of one approver.
func Needed(a *greenlight.Approval) string {
	p := Progress(a)
	if len(p) == 1 && p[0].Name == DefaultRule {
		if len(a.Approvers) <= 1 {
			return ""
		}
		return fmt.Sprintf("%d of %d approvers must approve; one rejection stops it.", p[0].Required, len(a.Approvers))
	}
	return "Approvals so far: " + Summary(a) + "; every rule must pass, and one rejection stops it."
}
