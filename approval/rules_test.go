package approval

import (
	"reflect"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func ap(who string) greenlight.Decision {
	return greenlight.Decision{Approver: who, Verdict: greenlight.Approve}
}

func rej(who string) greenlight.Decision {
	return greenlight.Decision{Approver: who, Verdict: greenlight.Reject}
}

// twoRules is product (pm, po: 1) and qa (qa1, lead, pm: 1); pm is in both.
func twoRules(ds ...greenlight.Decision) *greenlight.Approval {
	return &greenlight.Approval{Rules: []greenlight.ApprovalRule{
		{Name: "product", Approvers: []string{"pm@x", "po@x"}, Required: 1},
		{Name: "qa", Approvers: []string{"qa1@x", "lead@x", "PM@x"}, Required: 1},
	}, Decisions: ds}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		a    *greenlight.Approval
		want greenlight.ApprovalStatus
	}{
		{"nothing yet", twoRules(), greenlight.ApprovalPending},
		{"one rule of two", twoRules(ap("po@x")), greenlight.ApprovalPending},
		{"both rules, product first", twoRules(ap("po@x"), ap("qa1@x")), greenlight.ApprovalApproved},
		{"both rules, qa first", twoRules(ap("qa1@x"), ap("po@x")), greenlight.ApprovalApproved},
		{"an approver in two rules counts once", twoRules(ap("pm@x")), greenlight.ApprovalPending},
		{"... for the first rule still needing one", twoRules(ap("po@x"), ap("pm@x")), greenlight.ApprovalApproved},
		{"case does not make a second person", twoRules(ap("pm@x"), ap("PM@X")), greenlight.ApprovalPending},
		{"one rejection rejects", twoRules(ap("po@x"), rej("lead@x")), greenlight.ApprovalRejected},
		{"rejection beats passed rules", twoRules(ap("po@x"), ap("qa1@x"), rej("pm@x")), greenlight.ApprovalRejected},
		{"legacy: approvers and required", &greenlight.Approval{Approvers: []string{"a@x", "b@x"}, Required: 2,
			Decisions: []greenlight.Decision{ap("a@x")}}, greenlight.ApprovalPending},
		{"legacy: two of two", &greenlight.Approval{Approvers: []string{"a@x", "b@x"}, Required: 2,
			Decisions: []greenlight.Decision{ap("a@x"), ap("b@x")}}, greenlight.ApprovalApproved},
		{"same approver twice counts once", &greenlight.Approval{Approvers: []string{"a@x", "b@x"}, Required: 2,
			Decisions: []greenlight.Decision{ap("a@x"), ap("a@x")}}, greenlight.ApprovalPending},
		{"a rule left without enough undecided approvers fails", &greenlight.Approval{Rules: []greenlight.ApprovalRule{
			{Name: "product", Approvers: []string{"pm@x", "po@x"}, Required: 1},
			{Name: "qa", Approvers: []string{"pm@x"}, Required: 1},
		}, Decisions: []greenlight.Decision{ap("pm@x")}}, greenlight.ApprovalFailed},
		{"excluded approvers make a rule impossible", &greenlight.Approval{Rules: []greenlight.ApprovalRule{
			{Name: "qa", Approvers: []string{"ada@x", "qa@x"}, Required: 2},
		}, Excluded: []greenlight.Exclusion{{Approver: "ADA@x", Why: "the commit's author"}}}, greenlight.ApprovalFailed},
		{"escalation contacts keep a rule possible", &greenlight.Approval{Rules: []greenlight.ApprovalRule{
			{Name: "qa", Approvers: []string{"ada@x", "qa@x"}, Required: 2},
		}, Excluded: []greenlight.Exclusion{{Approver: "ada@x", Why: "the commit's author"}}, EscalateTo: []string{"cto@x"}}, greenlight.ApprovalPending},
		{"an excluded person's decision counts for nothing", &greenlight.Approval{Rules: []greenlight.ApprovalRule{
			{Name: "qa", Approvers: []string{"ada@x", "qa@x", "qb@x"}, Required: 1},
		}, Excluded: []greenlight.Exclusion{{Approver: "ada@x"}}, Decisions: []greenlight.Decision{rej("ada@x"), ap("ada@x")}}, greenlight.ApprovalPending},
		{"an approver who is also an escalation contact counts for their own rules only before the escalation",
			escalated(time.Hour, apAt("pm@x", 1), apAt("cto@x", 2)), greenlight.ApprovalPending},
		{"... and for any rule once it came", escalated(time.Hour, apAt("pm@x", 1), apAt("cto@x", 61)), greenlight.ApprovalApproved},
		{"two rules sharing their last reachable approver fail at once",
			&greenlight.Approval{Rules: []greenlight.ApprovalRule{
				{Name: "product", Approvers: []string{"pm@x", "po@x"}, Required: 2},
				{Name: "qa", Approvers: []string{"po@x", "ada@x"}, Required: 1},
			}, Excluded: []greenlight.Exclusion{{Approver: "ada@x", Why: "the commit's author"}}}, greenlight.ApprovalFailed},
		{"one approver for two rules fails at once", &greenlight.Approval{Rules: []greenlight.ApprovalRule{
			{Name: "product", Approvers: []string{"pm@x"}, Required: 1},
			{Name: "qa", Approvers: []string{"PM@x"}, Required: 1},
		}}, greenlight.ApprovalFailed},
		{"shared approvers who can cover both rules keep the gate possible", &greenlight.Approval{Rules: []greenlight.ApprovalRule{
			{Name: "product", Approvers: []string{"pm@x", "po@x"}, Required: 1},
			{Name: "qa", Approvers: []string{"po@x"}, Required: 1},
		}}, greenlight.ApprovalPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Status(tt.a); got != tt.want {
				t.Errorf("Status = %s, want %s (progress %+v)", got, tt.want, Progress(tt.a))
			}
		})
	}
}

func TestProgressAndRuleOf(t *testing.T) {
	a := twoRules(ap("pm@x"), ap("lead@x"))
	p := Progress(a)
	if p[0].Approved != 1 || !reflect.DeepEqual(p[0].Counted, []string{"pm@x"}) ||
		p[1].Approved != 1 || !reflect.DeepEqual(p[1].Counted, []string{"lead@x"}) {
		t.Errorf("progress %+v", p)
	}
	if !reflect.DeepEqual(p[1].Waiting, []string{"qa1@x"}) {
		t.Errorf("qa waiting = %v, want [qa1@x] (pm decided, lead decided)", p[1].Waiting)
	}
	if RuleOf(a, 0) != "product" || RuleOf(a, 1) != "qa" {
		t.Errorf("RuleOf = %q, %q", RuleOf(a, 0), RuleOf(a, 1))
	}
	b := twoRules(ap("po@x"), ap("pm@x"))
	if RuleOf(b, 1) != "qa" {
		t.Errorf("pm after po counts for %q, want qa", RuleOf(b, 1))
	}
}

func TestReason(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got, want := Reason(twoRules(), now), "waiting for product (0 of 1) and qa (0 of 1)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	if got, want := Reason(twoRules(ap("po@x")), now), "waiting for qa (0 of 1)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	a := twoRules()
	a.CreatedAt, a.OpensAt = now, now.Add(10*time.Minute)
	if got, want := Reason(a, now), "waiting until 03:14:05 UTC before asking approvers (wait 10m0s)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
	if got, want := Summary(twoRules(ap("po@x"))), "product (1 of 1) and qa (0 of 1)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

func TestProblem(t *testing.T) {
	a := &greenlight.Approval{Rules: []greenlight.ApprovalRule{
		{Name: "product", Approvers: []string{"pm@x"}, Required: 1},
		{Name: "qa", Approvers: []string{"ada@x", "qa@x"}, Required: 2},
	}, Excluded: []greenlight.Exclusion{{Approver: "ada@x", Why: "the commit's author"}}}
	want := "approval rule qa cannot pass: it needs 2 approvals and only 1 of its approvers may still decide; may not approve: ada@x (the commit's author)"
	if got := Problem(a); got != want {
		t.Errorf("Problem =\n%q\nwant\n%q", got, want)
	}
	shared := &greenlight.Approval{Rules: []greenlight.ApprovalRule{
		{Name: "product", Approvers: []string{"pm@x", "po@x"}, Required: 2},
		{Name: "qa", Approvers: []string{"po@x", "ada@x"}, Required: 1},
	}, Excluded: []greenlight.Exclusion{{Approver: "ada@x", Why: "the commit's author"}}}
	want = "approval rule qa cannot pass: it needs 1 approval and its approvers who may still decide (po@x) are needed by the rules listed before it; each approval counts for one rule only; may not approve: ada@x (the commit's author)"
	if got := Problem(shared); got != want {
		t.Errorf("Problem =\n%q\nwant\n%q", got, want)
	}
	if got := Problem(twoRules()); got != "" {
		t.Errorf("Problem of a possible gate = %q", got)
	}
}

func TestCommentNeeded(t *testing.T) {
	for _, tt := range []struct {
		setting         string
		approve, reject bool
	}{
		{"", false, false}, {greenlight.CommentReject, false, true}, {greenlight.CommentNone, false, false},
		{greenlight.CommentApprove, true, false}, {greenlight.CommentBoth, true, true},
	} {
		a := &greenlight.Approval{CommentRequired: tt.setting}
		if CommentNeeded(a, greenlight.Approve) != tt.approve || CommentNeeded(a, greenlight.Reject) != tt.reject {
			t.Errorf("comment %q: approve %v reject %v, want %v %v", tt.setting,
				CommentNeeded(a, greenlight.Approve), CommentNeeded(a, greenlight.Reject), tt.approve, tt.reject)
		}
	}
}

// escalated is product (pm, cto: 1) and qa (qa1: 1) with cto also the
// escalation contact, escalated after minutes after t0; apAt decisions
// come minutes after t0.
func escalated(after time.Duration, ds ...greenlight.Decision) *greenlight.Approval {
	at := t0.Add(after)
	return &greenlight.Approval{Rules: []greenlight.ApprovalRule{
		{Name: "product", Approvers: []string{"pm@x", "cto@x"}, Required: 1},
		{Name: "qa", Approvers: []string{"qa1@x"}, Required: 1},
	}, EscalateTo: []string{"CTO@x"}, EscalateAt: &at, Deadline: t0.Add(2 * time.Hour), Decisions: ds}
}

var t0 = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)

func apAt(who string, minutes int) greenlight.Decision {
	d := ap(who)
	d.At = t0.Add(time.Duration(minutes) * time.Minute)
	return d
}
