package approval

import (
	"reflect"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestOpen(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	run := &greenlight.Run{ID: 7, Pipeline: "hello", Trigger: greenlight.TriggerAPI, TriggeredBy: "Ops@x",
		Commit: greenlight.Commit{AuthorEmail: "ADA@x", CommitterEmail: "ada@x"}}
	g := Gate{Rules: []greenlight.ApprovalRule{
		{Name: "product", Approvers: []string{"pm@x", "ada@x"}, Required: 1},
		{Name: "ops", Approvers: []string{"ops@x", "lead@x"}, Required: 1},
	}, Timeout: time.Hour, Wait: 10 * time.Minute, Remind: []time.Duration{5 * time.Minute, 30 * time.Minute},
		EscalateAfter: 20 * time.Minute, EscalateTo: []string{"cto@x", "pm@x"}}
	a := Open(run, "approval", g, nil, now)
	wantExcluded := []greenlight.Exclusion{{Approver: "ada@x", Why: "the commit's author and the commit's committer"},
		{Approver: "ops@x", Why: "started this run"}}
	if !reflect.DeepEqual(a.Excluded, wantExcluded) {
		t.Errorf("excluded %+v, want %+v", a.Excluded, wantExcluded)
	}
	if !reflect.DeepEqual(a.Approvers, []string{"pm@x", "lead@x"}) {
		t.Errorf("asked %v, want [pm@x lead@x]", a.Approvers)
	}
	if !reflect.DeepEqual(Escalated(a), []string{"cto@x"}) {
		t.Errorf("escalation asks %v, want [cto@x] (pm@x is asked already)", Escalated(a))
	}
	opens := now.Add(10 * time.Minute)
	if !a.OpensAt.Equal(opens) || !a.Deadline.Equal(opens.Add(time.Hour)) || !a.EscalateAt.Equal(opens.Add(20*time.Minute)) {
		t.Errorf("opens %v deadline %v escalate %v", a.OpensAt, a.Deadline, a.EscalateAt)
	}
	wantRemind := []time.Time{a.Deadline.Add(-30 * time.Minute), a.Deadline.Add(-5 * time.Minute)}
	if !reflect.DeepEqual(a.RemindAt, wantRemind) {
		t.Errorf("remind at %v, want %v", a.RemindAt, wantRemind)
	}
	if a.Status != greenlight.ApprovalPending || a.CommentRequired != greenlight.CommentReject || a.OnTimeout != greenlight.TimeoutExpire || a.Required != 2 {
		t.Errorf("status %s comment %q on_timeout %q required %d", a.Status, a.CommentRequired, a.OnTimeout, a.Required)
	}

	// A rule left with nobody who may approve fails at once.
	g.Rules[1].Approvers = []string{"ops@x"}
	g.EscalateTo = nil
	if a := Open(run, "approval", g, nil, now); a.Status != greenlight.ApprovalFailed || Problem(a) == "" {
		t.Errorf("impossible rule: status %s, problem %q", a.Status, Problem(a))
	}
	// self_approval: true excludes nobody.
	g.SelfApproval = true
	if a := Open(run, "approval", g, nil, now); a.Status != greenlight.ApprovalPending || len(a.Excluded) != 0 {
		t.Errorf("self_approval: status %s, excluded %v", a.Status, a.Excluded)
	}
	// A webhook's pusher is named for what they did.
	run.Trigger, g.SelfApproval = greenlight.TriggerWebhook, false
	if a := Open(run, "approval", g, nil, now); Excluded(a, "ops@x") != "pushed the commit" {
		t.Errorf("pusher excluded as %q", Excluded(a, "ops@x"))
	}
}

// TestOpenExcludesTheSameMailbox: the commit's author and committer are
// whatever git recorded, so an approver is excluded for an address that
// reaches their mailbox however it is spelled: case (Unicode too), spaces
// around it, a trailing dot on the domain, a +tag. A look-alike address
// (Cyrillic а) is another mailbox: it gets no links, so it cannot approve.
func TestOpenExcludesTheSameMailbox(t *testing.T) {
	g := Gate{Rules: []greenlight.ApprovalRule{{Name: "product", Approvers: []string{"pm@example.com", "po@example.com"}, Required: 1}}, Timeout: time.Hour}
	for _, author := range []string{"PM@Example.COM", " pm@example.com ", "pm@example.com.", "pm+deploy@example.com", "PM+x@EXAMPLE.com."} {
		run := &greenlight.Run{ID: 1, Pipeline: "hello", Trigger: greenlight.TriggerAPI, Commit: greenlight.Commit{AuthorEmail: author}}
		a := Open(run, "approval", g, nil, time.Now())
		if Excluded(a, "pm@example.com") == "" || !reflect.DeepEqual(a.Approvers, []string{"po@example.com"}) {
			t.Errorf("author %q: excluded %v, asked %v; want pm@example.com excluded", author, a.Excluded, a.Approvers)
		}
	}
	for _, author := range []string{"pm@exаmple.com", "pmx@example.com", "pm@example.co", "pm@sub.example.com"} {
		run := &greenlight.Run{ID: 1, Pipeline: "hello", Trigger: greenlight.TriggerAPI, Commit: greenlight.Commit{AuthorEmail: author}}
		if a := Open(run, "approval", g, nil, time.Now()); len(a.Excluded) != 0 {
			t.Errorf("author %q excludes %v", author, a.Excluded)
		}
	}
}
