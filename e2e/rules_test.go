package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// gateJSON is what GET /api/v1/approvals says of a gate.
type gateJSON struct {
	greenlight.Approval
	Progress []struct {
		Name     string   `json:"name"`
		Required int      `json:"required"`
		Approved int      `json:"approved"`
		Counted  []string `json:"counted"`
		Passed   bool     `json:"passed"`
	} `json:"progress"`
}

// gates reads every approval gate through the API.
func (s *server) gates() []gateJSON {
	s.t.Helper()
	code, body := s.api("GET", "/api/v1/approvals", nil)
	var list []gateJSON
	if code != 200 || json.Unmarshal(body, &list) != nil {
		s.t.Fatalf("GET approvals: %d %s", code, body)
	}
	return list
}

// mailCount counts the mails to rcpt whose subject contains subject.
func (s *server) mailCount(rcpt, subject string) int {
	n := 0
	for _, m := range s.smtp.Messages() {
		p, err := m.Parse()
		if err != nil {
			continue
		}
		for _, to := range m.To {
			if to == rcpt && strings.Contains(p.Subject, subject) {
				n++
			}
		}
	}
	return n
}

// waitReason waits until the run's reason contains want.
func (s *server) waitReason(id int64, want string) *greenlight.Run {
	s.t.Helper()
	var r *greenlight.Run
	eventually(s.t, 10*time.Second, "reason "+want, func() bool {
		r = s.run(id)
		return strings.Contains(r.Reason, want) && strings.Contains(r.Stage("approval").Reason, want)
	})
	return r
}

// TestApprovalRules: two rules from server groups, asked in parallel; an
// approver listed in both rules gets one mail and counts once, for the first
// rule still needing approvals; a rule of required: 2 does not move the run
// after its first approval; the reason and the API say how far each rule is.
func TestApprovalRules(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg,
			top: "groups:\n  product: [pm@example.com, po@example.com]\n  qa: [qa1@example.com, qa2@example.com]\n",
			gate: "rules:\n  - {name: product, approvers: [group:product], required: 1}\n" +
				"  - {name: qa, approvers: [group:qa, PM@example.com], required: 2}\ntimeout: 1h"})
		id := s.pushRun(s.repo.head())
		s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		s.waitReason(id, "waiting for product (0 of 1) and qa (0 of 2)")

		qa1 := s.mailTo("qa1@example.com", "Approve", 30*time.Second)
		qa2 := s.mailTo("qa2@example.com", "Approve", 30*time.Second)
		pm := s.mailTo("pm@example.com", "Approve", 30*time.Second)
		s.mailTo("po@example.com", "Approve", 30*time.Second)
		if !strings.Contains(pm.Text, "product (0 of 1) and qa (0 of 2)") {
			t.Errorf("approval mail does not show each rule's progress:\n%s", pm.Text)
		}

		// qa first: the qa rule has 1 of 2, the run stays where it is.
		if code, page := decide(t, qa1.Link("decision=approve"), "approve", ""); code != 200 || !strings.Contains(page, "qa (1 of 2)") {
			t.Fatalf("qa1 approves: %d\n%s", code, page)
		}
		s.waitReason(id, "waiting for product (0 of 1) and qa (1 of 2)")
		// pm is in both rules: the approval counts for product, listed
		// first and still needing one, and not for qa too.
		if code, page := decide(t, pm.Link("decision=approve"), "approve", ""); code != 200 {
			t.Fatalf("pm approves: %d\n%s", code, page)
		}
		r := s.waitReason(id, "waiting for qa (1 of 2)")
		if r.Status != greenlight.RunWaiting || r.Stage("production").Status != greenlight.StagePending {
			t.Fatalf("after two approvals with qa at 1 of 2: run %s, production %s", r.Status, r.Stage("production").Status)
		}
		if n := s.mailCount("pm@example.com", "Approve"); n != 1 {
			t.Errorf("pm, in two rules, got %d approval mails, want 1", n)
		}
		g := s.gates()
		if len(g) != 1 || len(g[0].Decisions) != 2 || g[0].Decisions[0].Rule != "qa" || g[0].Decisions[1].Rule != "product" ||
			len(g[0].Rules) != 2 || len(g[0].Progress) != 2 || g[0].Progress[0].Approved != 1 || g[0].Progress[1].Approved != 1 {
			t.Fatalf("approvals API: %+v", g)
		}

		if code, page := decide(t, qa2.Link("decision=approve"), "approve", "tested on staging"); code != 200 {
			t.Fatalf("qa2 approves: %d\n%s", code, page)
		}
		r = s.waitRun(id, 60*time.Second, greenlight.RunSucceeded)
		if r.Reason != "" || r.Stage("approval").Reason != "" {
			t.Errorf("reason after the gate passed: run %q, stage %q", r.Reason, r.Stage("approval").Reason)
		}
	})
}

// TestSelfApproval: the commit's author and the pusher, listed as
// approvers, are not asked: each gets a mail without links that says why,
// and the API lists them as excluded. A rejection without the required
// comment answers 422 and records nothing.
func TestSelfApproval(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg,
			gate: "rules:\n  - {name: product, approvers: [pm@example.com, Ada@example.com, ops@example.com], required: 1}\ntimeout: 1h"})
		id := s.pushAs(s.repo.head(), "ops@example.com") // committed by Ada Lovelace <ada@example.com>
		s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		for who, why := range map[string]string{"Ada@example.com": "the commit's author", "ops@example.com": "pushed the commit"} {
			m := s.mailTo(who, "waits for approval by others", 30*time.Second)
			if strings.Contains(m.Text+m.HTML, "/approvals/") || !strings.Contains(m.Text, why) {
				t.Errorf("the mail to %s has links or does not say %q:\n%s", who, why, m.Text)
			}
		}
		pm := s.mailTo("pm@example.com", "Approve", 30*time.Second)
		if n := s.mailCount("Ada@example.com", "Approve") + s.mailCount("ops@example.com", "Approve"); n != 0 {
			t.Errorf("excluded people got %d approval mails", n)
		}
		g := s.gates()
		if len(g) != 1 || len(g[0].Excluded) != 2 || !strings.EqualFold(g[0].Excluded[0].Approver, "ada@example.com") ||
			g[0].Excluded[0].Why != "the commit's author and the commit's committer" || g[0].Excluded[1].Why != "pushed the commit" {
			t.Fatalf("excluded in the API: %+v", g)
		}
		if r := s.run(id); r.TriggeredBy != "ops@example.com" {
			t.Errorf("triggered_by = %q", r.TriggeredBy)
		}

		code, page := decide(t, pm.Link("decision=reject"), "reject", " ")
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, "comment is required to reject") {
			t.Fatalf("reject without a comment: %d, want 422 saying why\n%s", code, page)
		}
		if g := s.gates(); len(g[0].Decisions) != 0 || g[0].Status != greenlight.ApprovalPending {
			t.Fatalf("a refused decision was recorded: %+v", g[0])
		}
		if code, page := decide(t, pm.Link("decision=reject"), "reject", "the banner is wrong"); code != 200 {
			t.Fatalf("reject with a comment: %d\n%s", code, page)
		}
		r := s.waitRun(id, 30*time.Second, greenlight.RunRejected)
		if !strings.Contains(r.Error, "the banner is wrong") {
			t.Errorf("rejected run error = %q", r.Error)
		}
	})
}

// TestImpossibleRule: a rule whose only approver is the commit's author
// fails the stage at once, naming the rule; it never waits out its timeout.
func TestImpossibleRule(t *testing.T) {
	t.Parallel()
	s := start(t, options{gate: "rules:\n  - {name: product, approvers: [pm@example.com], required: 1}\n" +
		"  - {name: engineering, approvers: [ada@example.com], required: 1}\ntimeout: 1h"})
	id := s.pushRun(s.repo.head())
	r := s.waitRun(id, 90*time.Second, greenlight.RunFailed)
	st := r.Stage("approval")
	if st.Status != greenlight.StageFailed || !strings.Contains(st.Error, "engineering") || !strings.Contains(st.Error, "the commit's author") {
		t.Errorf("approval stage %s: %q; want failed naming the rule and why", st.Status, st.Error)
	}
	if n := s.mailCount("pm@example.com", "Approve"); n != 0 {
		t.Errorf("pm was asked to approve a gate that cannot pass (%d mails)", n)
	}
}

// TestRemindEscalateTimeout: the links go out after `wait` (the reason says
// so meanwhile); the escalation contact gets links of their own at
// `escalate.after`; approvers who have not decided are reminded `remind`
// before the deadline, and one who decided is not; at the deadline,
// `on_timeout: reject` ends the run rejected.
func TestRemindEscalateTimeout(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg, gate: "approvers: [pm@example.com, cto@example.com]\nrequired: 2\n" +
			"timeout: 6s\nwait: 2s\nremind: [3s]\nescalate: {after: 2s, to: [boss@example.com]}\non_timeout: reject"})
		id := s.pushRun(s.repo.head())
		r := s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		opened := *r.Stage("approval").StartedAt
		if !strings.Contains(r.Reason, "before asking approvers") {
			t.Errorf("reason during the wait = %q", r.Reason)
		}
		since := func() time.Duration { return time.Since(opened) }
		within := func(what string, lo, hi time.Duration) {
			t.Helper()
			if d := since(); d < lo || d > hi {
				t.Errorf("%s arrived %s after the gate opened, want between %s and %s", what, d.Round(100*time.Millisecond), lo, hi)
			}
		}
		cto := s.mailTo("cto@example.com", "Approve", 20*time.Second)
		within("the first mail", 1900*time.Millisecond, 4*time.Second)
		if code, _ := decide(t, cto.Link("decision=approve"), "approve", ""); code != 200 {
			t.Fatalf("cto approves: %d", code)
		}
		s.waitReason(id, "waiting for approvers (1 of 2)")
		boss := s.mailTo("boss@example.com", "Escalated", 20*time.Second)
		within("the escalation", 3900*time.Millisecond, 6*time.Second)
		if code, page := get(t, boss.Link("decision=approve")); code != 200 || !strings.Contains(page, "Should this release") {
			t.Errorf("the escalation's link: %d", code)
		}
		s.mailTo("pm@example.com", "Reminder", 20*time.Second)
		within("the reminder", 4900*time.Millisecond, 7*time.Second)

		r = s.waitRun(id, 20*time.Second, greenlight.RunRejected)
		within("the rejection at the deadline", 7900*time.Millisecond, 11*time.Second)
		if r.Error != "no decision before the deadline" || r.Stage("approval").Status != greenlight.StageRejected {
			t.Errorf("run at the deadline: %q, stage %s", r.Error, r.Stage("approval").Status)
		}
		if n := s.mailCount("cto@example.com", "Reminder"); n != 0 {
			t.Errorf("cto, who decided, got %d reminders", n)
		}
		if m := s.mailTo("cto@example.com", "Rejected", 20*time.Second); !strings.Contains(m.Text, "nobody decided before the deadline") {
			t.Errorf("the outcome mail does not say why:\n%s", m.Text)
		}
	})
}

// TestEscalationContactBeforeEscalation: an approver of one rule who is also
// the escalation contact approves, before the escalation, for their own
// rule only: once product passed, their approval through their first mail
// does not stand in for qa, and the release waits for qa.
func TestEscalationContactBeforeEscalation(t *testing.T) {
	t.Parallel()
	s := start(t, options{gate: "rules:\n  - {name: product, approvers: [pm@example.com, cto@example.com], required: 1}\n" +
		"  - {name: qa, approvers: [qa1@example.com], required: 1}\ntimeout: 1h\nescalate: {after: 30m, to: [CTO@example.com]}"})
	id := s.pushRun(s.repo.head())
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	pm := s.mailTo("pm@example.com", "Approve", 30*time.Second)
	cto := s.mailTo("cto@example.com", "Approve", 30*time.Second)
	if code, page := decide(t, pm.Link("decision=approve"), "approve", ""); code != 200 {
		t.Fatalf("pm approves: %d\n%s", code, page)
	}
	if code, page := decide(t, cto.Link("decision=approve"), "approve", ""); code != 200 {
		t.Fatalf("cto approves: %d\n%s", code, page)
	}
	r := s.waitReason(id, "waiting for qa (0 of 1)")
	time.Sleep(time.Second) // a run that went on would have left waiting by now
	if r = s.run(id); r.Status != greenlight.RunWaiting || r.Stage("production").Status != greenlight.StagePending {
		t.Fatalf("after product's approvals, before the escalation: run %s, production %s; want waiting for qa", r.Status, r.Stage("production").Status)
	}
}

// TestGateSurvivesRestarts: a gate with `wait`, an escalation and a
// reminder is killed (kill -9) during its wait and again after the
// escalation went out. Its links go out no earlier than `wait` after the
// stage opened, restarts send nothing twice (one first mail per approver,
// one escalation, one reminder), and the deadline still rejects the run.
func TestGateSurvivesRestarts(t *testing.T) {
	t.Parallel()
	s := start(t, options{gate: "approvers: [pm@example.com, cto@example.com]\nrequired: 2\n" +
		"timeout: 10s\nwait: 3s\nremind: [4s]\nescalate: {after: 2s, to: [boss@example.com]}\non_timeout: reject"})
	id := s.pushRun(s.repo.head())
	r := s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
	opened := *r.Stage("approval").StartedAt
	s.kill() // during the wait
	s.boot()
	s.mailTo("pm@example.com", "Approve", 20*time.Second)
	if d := time.Since(opened); d < 2900*time.Millisecond {
		t.Errorf("the links went out %s after the gate opened, before its wait of 3s", d.Round(100*time.Millisecond))
	}
	s.mailTo("cto@example.com", "Approve", 20*time.Second)
	s.mailTo("boss@example.com", "Escalated", 20*time.Second)
	eventually(t, 20*time.Second, "three mails recorded as sent", func() bool {
		_, body := s.api("GET", "/api/v1/outbox", nil)
		return strings.Count(string(body), `"sent_at":"`) >= 3
	})
	s.kill() // after the escalation, before the reminder
	s.boot()
	s.mailTo("pm@example.com", "Reminder", 20*time.Second)
	r = s.waitRun(id, 30*time.Second, greenlight.RunRejected)
	if r.Error != approvalNoDecision {
		t.Errorf("run at the deadline: %q", r.Error)
	}
	time.Sleep(time.Second) // anything sent twice would be here by now
	for _, c := range []struct {
		rcpt, subject string
		want          int
	}{
		{"pm@example.com", "Approve ", 1}, {"cto@example.com", "Approve ", 1},
		{"boss@example.com", "Escalated: ", 1}, {"pm@example.com", "Reminder: ", 1}, {"cto@example.com", "Reminder: ", 1},
	} {
		n := 0
		for _, m := range s.smtp.Messages() {
			p, err := m.Parse()
			if err != nil || len(m.To) != 1 || m.To[0] != c.rcpt {
				continue
			}
			if strings.HasPrefix(p.Subject, c.subject) {
				n++
			}
		}
		if n != c.want {
			t.Errorf("%s got %d mails starting %q, want %d", c.rcpt, n, c.subject, c.want)
		}
	}
}

const approvalNoDecision = "no decision before the deadline"
