package notify_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestGateMail: a gate's opening queues, for each approver asked, their
// links when the wait ends and a reminder at each reminder time; the
// escalation contact's links at the escalation time; and a mail without
// links to the excluded author saying why. Golden files hold the reminder
// and the excluded person's mail.
func TestGateMail(t *testing.T) {
	e := newEnv(t)
	r := e.run(commit())
	now := e.clock.Now()
	opens := now.Add(time.Minute)
	esc := opens.Add(time.Hour)
	a := &greenlight.Approval{RunID: r.ID, Pipeline: r.Pipeline, Stage: "approval",
		Approvers: []string{"pm@example.com", "qa@example.com"}, Required: 2,
		Rules: []greenlight.ApprovalRule{{Name: "product", Approvers: []string{"pm@example.com"}, Required: 1},
			{Name: "qa", Approvers: []string{"qa@example.com", "ada@example.com"}, Required: 1}},
		Excluded:        []greenlight.Exclusion{{Approver: "ada@example.com", Why: "the commit's author"}},
		CommentRequired: greenlight.CommentReject, OnTimeout: greenlight.TimeoutReject,
		EscalateTo: []string{"cto@example.com"}, EscalateAt: &esc, OpensAt: opens,
		RemindAt: []time.Time{opens.Add(2 * time.Hour)}, Deadline: opens.Add(3 * time.Hour),
		ReviewURL: "http://127.0.0.1:8081/", Status: greenlight.ApprovalPending, CreatedAt: now}
	if err := e.db.CreateApproval(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	e.drain()

	var got []string
	byKey := map[string]*greenlight.Mail{}
	for _, m := range e.mails() {
		byKey[m.Key] = m
		got = append(got, m.Key+" at +"+m.NextAttempt.Sub(now).String())
	}
	sort.Strings(got)
	want := []string{
		"approval:1:pm@example.com at +1m0s",
		"approval:1:qa@example.com at +1m0s",
		"escalate:1:cto@example.com at +1h1m0s",
		"excluded:1:ada@example.com at +1m0s",
		"remind:1:" + opens.Add(2*time.Hour).UTC().Format(time.RFC3339) + ":cto@example.com at +2h1m0s",
		"remind:1:" + opens.Add(2*time.Hour).UTC().Format(time.RFC3339) + ":pm@example.com at +2h1m0s",
		"remind:1:" + opens.Add(2*time.Hour).UTC().Format(time.RFC3339) + ":qa@example.com at +2h1m0s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("queued mail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ex := byKey["excluded:1:ada@example.com"]
	if ex.ApprovalID != 0 || strings.Contains(ex.Text+ex.HTML, "/approvals/") {
		t.Errorf("the excluded person's mail carries decision links")
	}
	golden(t, "excluded.txt.golden", ex.Subject+"\n\n"+ex.Text)
	golden(t, "excluded.html.golden", ex.HTML)
	rem := byKey["remind:1:"+opens.Add(2*time.Hour).UTC().Format(time.RFC3339)+":pm@example.com"]
	golden(t, "reminder.txt.golden", rem.Subject+"\n\n"+strings.ReplaceAll(rem.Text, greenlight.TokenPlaceholder, "TOKEN"))
	golden(t, "reminder.html.golden", strings.ReplaceAll(rem.HTML, greenlight.TokenPlaceholder, "TOKEN"))
}
