package notify_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail"
)

// TestMailGolden compares whole mails with testdata/*.golden: what a reader
// gets is the product. GREENLIGHT_UPDATE_GOLDEN=1 rewrites the files.
// Every kind of mail is here: the approval request (with what ships, the
// tests, the artifact, who started it and a decision so far; and for the
// version already live), the revoked notice, the failure and rejection
// mails, and the outcome each approver gets.
func TestMailGolden(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.notifyList = []string{"dev-team@example.com"}
	c := commit()
	c.SHA = "fedcba9876543210fedcba9876543210fedcba98"
	live := e.run(c) // the release live in production
	e.release(live, "production")

	r := e.run(commit())
	r.TriggeredBy, r.Artifact = "dana@example.com", &greenlight.ArtifactRef{SHA256: strings.Repeat("3f", 32), Size: 1 << 20}
	r.Tests = &greenlight.TestSummary{Passed: 41, Failed: 1, Skipped: 2,
		Failures: []greenlight.TestFailure{{Name: "TestFooter", Message: "want 2 links, got 1"}}}
	if err := e.db.UpdateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	a := e.approvalWithChanges(r, []greenlight.Change{
		{SHA: "0123456789abcdef0123456789abcdef01234567", Title: "Add the pricing page", Author: "Dana Dev"},
		{SHA: "89abcdef0123456789abcdef0123456789abcdef", Title: "Fix the footer on small screens", Author: "Grace Hopper"},
	}, "pm@example.com", "cto@example.com")
	e.decide(a, "cto@example.com", greenlight.Approve, "Checked the pricing page on staging.\nLooks right.")
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	e.drain()
	if _, err := e.db.SetApprovalStatus(ctx, a.ID, greenlight.ApprovalRevoked, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.event(greenlight.EventApprovalRevoked, r.ID, greenlight.Revocation{ApprovalID: a.ID, Reason: "superseded"})

	// The version already live, asked again.
	same := e.run(live.Commit)
	sa := e.approval(same, "pm@example.com")
	e.event(greenlight.EventApprovalOpened, same.ID, greenlight.ApprovalOpened{ApprovalID: sa.ID})
	e.drain()

	failed := e.run(commit())
	failed.Status, failed.Error = greenlight.RunFailed, "step test: exit status 1"
	failed.Stages[0].Status, failed.Stages[0].Error = greenlight.StageFailed, "step test: exit status 1"
	if err := e.db.UpdateRun(ctx, failed); err != nil {
		t.Fatal(err)
	}
	e.event(greenlight.EventRunFinished, failed.ID, greenlight.RunFinished{Status: greenlight.RunFailed, Error: failed.Error})

	// Rejected: the reason is the rejection, said once.
	rej := e.run(commit())
	ra := e.approval(rej, "pm@example.com", "cto@example.com")
	e.decide(ra, "pm@example.com", greenlight.Reject, "The footer overlaps the prices on a phone.")
	e.end(rej, ra, greenlight.RunRejected, greenlight.ApprovalRejected, "rejected by pm@example.com: The footer overlaps the prices on a phone.")

	// Expired.
	exp := e.run(commit())
	ea := e.approval(exp, "pm@example.com")
	e.end(exp, ea, greenlight.RunExpired, greenlight.ApprovalExpired, "nobody approved before the deadline")

	// Approved and live.
	ok := e.run(commit())
	oa := e.approval(ok, "pm@example.com", "cto@example.com")
	e.decide(oa, "pm@example.com", greenlight.Approve, "")
	e.clock.Add(2 * time.Minute)
	e.release(ok, "production")
	e.end(ok, oa, greenlight.RunSucceeded, greenlight.ApprovalApproved, "")
	e.drain()

	byKey := map[string]*greenlight.Mail{}
	for _, m := range e.mails() {
		byKey[m.Key] = m
	}
	for name, key := range map[string]string{
		"approval":         "approval:" + id(a.ID) + ":pm@example.com",
		"approval-same":    "approval:" + id(sa.ID) + ":pm@example.com",
		"revoked":          "revoked:" + id(a.ID) + ":pm@example.com",
		"failed":           "run:" + id(failed.ID) + ":failed",
		"rejected":         "run:" + id(rej.ID) + ":rejected",
		"outcome-rejected": "outcome:" + id(ra.ID) + ":cto@example.com",
		"outcome-expired":  "outcome:" + id(ea.ID) + ":pm@example.com",
		"outcome-live":     "outcome:" + id(oa.ID) + ":cto@example.com",
	} {
		m := byKey[key]
		if m == nil {
			t.Fatalf("no mail with key %s; have %v", key, keys(byKey))
		}
		text, html := m.Subject+"\n\n"+m.Text, m.HTML
		if strings.HasPrefix(name, "approval") { // stored with the placeholder: the token is made at sending
			for _, l := range mail.Links(m.Text) {
				if strings.Contains(l, "decision=") && !strings.Contains(l, "/approvals/"+greenlight.TokenPlaceholder+"?") {
					t.Errorf("stored approval link = %q, want the placeholder in place of the token", l)
				}
			}
			text = strings.ReplaceAll(text, greenlight.TokenPlaceholder, "TOKEN")
			html = strings.ReplaceAll(html, greenlight.TokenPlaceholder, "TOKEN")
		}
		golden(t, name+".txt.golden", text)
		golden(t, name+".html.golden", html)
		if os.Getenv("GREENLIGHT_SCREENSHOTS") != "" { // to look at them in a browser
			_ = os.WriteFile(filepath.Join(os.Getenv("GREENLIGHT_SCREENSHOTS"), "mail-"+name+".html"), []byte(html), 0o644)
		}
	}
	// Each outcome is said once: in the subject and the first line, never
	// twice in the body.
	for key, once := range map[string]string{
		"outcome:" + id(oa.ID) + ":pm@example.com": "Approved, and live in production since 2026-03-02 09:32 UTC.",
		"outcome:" + id(ra.ID) + ":pm@example.com": "Rejected: it will not go to production.",
		"outcome:" + id(ea.ID) + ":pm@example.com": "Expired: nobody decided before the deadline",
		"run:" + id(rej.ID) + ":rejected":          "The footer overlaps the prices on a phone.",
		"approval:" + id(a.ID) + ":pm@example.com": "Looks right.",
	} {
		if n := strings.Count(byKey[key].Text, once); n != 1 {
			t.Errorf("%s says %q %d times, want once:\n%s", key, once, n, byKey[key].Text)
		}
	}
	if s := byKey["approval:"+id(a.ID)+":pm@example.com"].Subject; strings.Contains(s, "?") {
		t.Errorf("approval subject %q adds a question mark to the commit title", s)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("GREENLIGHT_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with GREENLIGHT_UPDATE_GOLDEN=1 to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// release records run as live in env now.
func (e *env) release(r *greenlight.Run, env string) {
	e.t.Helper()
	rel := &greenlight.Release{Pipeline: r.Pipeline, Environment: env, RunID: r.ID, Commit: r.Commit.SHA,
		Artifact: strings.Repeat("3f", 32), Status: greenlight.ReleaseLive, DeployedAt: e.clock.Now(), Name: id(r.ID)}
	if err := e.db.CreateRelease(e.t.Context(), rel); err != nil {
		e.t.Fatalf("CreateRelease: %v", err)
	}
}

// decide records approver's decision on a.
func (e *env) decide(a *greenlight.Approval, approver string, v greenlight.Verdict, comment string) {
	e.t.Helper()
	d := &greenlight.Decision{ApprovalID: a.ID, Approver: approver, Verdict: v, Comment: comment,
		IP: "192.0.2.1", UserAgent: "Test", At: e.clock.Now()}
	if err := e.db.AddDecision(e.t.Context(), d); err != nil {
		e.t.Fatalf("AddDecision: %v", err)
	}
}

// end closes approval a with status as and finishes run r with status rs,
// with the event the orchestrator appends.
func (e *env) end(r *greenlight.Run, a *greenlight.Approval, rs greenlight.RunStatus, as greenlight.ApprovalStatus, reason string) {
	e.t.Helper()
	if _, err := e.db.SetApprovalStatus(e.t.Context(), a.ID, as, e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	r.Status, r.Error, r.FinishedAt = rs, reason, &now
	for i := range r.Stages {
		switch {
		case r.Stages[i].Type != greenlight.StageApproval:
		case as == greenlight.ApprovalRejected:
			r.Stages[i].Status = greenlight.StageRejected
		case as == greenlight.ApprovalExpired:
			r.Stages[i].Status = greenlight.StageExpired
		default:
			r.Stages[i].Status = greenlight.StageSucceeded
		}
	}
	if err := e.db.UpdateRun(e.t.Context(), r); err != nil {
		e.t.Fatal(err)
	}
	e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: rs, Error: reason})
}
