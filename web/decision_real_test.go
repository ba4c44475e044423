package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// wantIn fails for each s that body lacks.
func wantIn(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("%s lacks %q:\n%s", what, s, body)
		}
	}
}

// wantNotIn fails for each s that body has.
func wantNotIn(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, s := range unwanted {
		if strings.Contains(body, s) {
			t.Errorf("%s has %q", what, s)
		}
	}
}

// TestRealDecisionPages walks a gate of the real engine through every state
// its pages show, on SQLite and PostgreSQL: open (what ships, who started
// it, the artifact, the deadline; nothing chosen), decided by one of two
// approvers (their thank-you page; their used link thanks them again; the
// other approver sees the decision and its comment), the run page's card,
// the gate passing and the release going live (the outcome mail, once),
// the same version asked again (the page says so), and a rejection.
func TestRealDecisionPages(t *testing.T) {
	realStores(t, gateOptions{}, func(t *testing.T, e *realEnv) {
		run := e.trigger("Add the pricing page", "dana@example.com")
		tokens := e.tokens()
		pm, cto := tokens["pm@example.com"], tokens["cto@example.com"]
		if run.Tests == nil { // what a build's JUnit reports give; written here where the build wrote none
			run.Tests = &greenlight.TestSummary{Passed: 12, Failed: 1,
				Failures: []greenlight.TestFailure{{Name: "TestFooter", Message: "want 2 links"}}}
			if err := e.db.UpdateRun(t.Context(), run); err != nil {
				t.Fatal(err)
			}
		}
		if pm == "" || cto == "" {
			t.Fatalf("tokens = %v, want one for pm and cto", tokens)
		}

		// Open, through either link of the mail: nothing is chosen.
		for _, q := range []string{"?decision=approve", "?decision=reject", ""} {
			status, body := e.do("GET", "/approvals/"+pm+q)
			if status != 200 {
				t.Fatalf("GET %s = %d\n%s", q, status, body)
			}
			wantIn(t, "the open page", body, "Should this release go to production?", "What ships to production",
				"<code>"+run.Commit.Short()+"</code> <span class=\"title\">Add the pricing page</span> <span class=\"muted\">· Test Author</span>",
				"First release", startedBy(run), "sha256:"+run.Artifact.SHA256[:12],
				"(in 3 days)", "<strong>approvers</strong>: 0 of 2", "Nobody has decided yet", `value="approve"`, `value="reject"`,
				"12 passed, 1 failed, 0 skipped", "<code>TestFooter</code> <span class=\"muted\">want 2 links</span>")
			wantNotIn(t, "the open page "+q, body, "autofocus", "chosen", "You chose", "same version")
		}

		// pm approves with a comment.
		status, body := e.do("POST", "/approvals/"+pm, "decision", "approve", "comment", "Pricing looks <right>.\nShip it.")
		if status != 200 {
			t.Fatalf("approve = %d\n%s", status, body)
		}
		wantIn(t, "the thank-you page", body, "You approved — thank you", "Pricing looks &lt;right&gt;.\nShip it.",
			"approvals so far: approvers (1 of 2)")

		// Reloading it: 410 (the link is used), but a thank-you to its own
		// approver with their decision and where the gate stands.
		status, body = e.do("GET", "/approvals/"+pm)
		if status != http.StatusGone {
			t.Fatalf("GET of the used link = %d, want 410", status)
		}
		wantIn(t, "the used link's page", body, "You approved — thank you", "as pm@example.com", "Ship it.",
			"approvals so far: approvers (1 of 2)")
		wantNotIn(t, "the used link's page", body, "can no longer be used", `name="decision"`)

		// The other approver sees the decision and its comment.
		status, body = e.do("GET", "/approvals/"+cto)
		if status != 200 {
			t.Fatalf("GET of cto's link = %d", status)
		}
		wantIn(t, "cto's page", body, "Decisions so far", "pm@example.com", "Pricing looks &lt;right&gt;.", "<strong>approvers</strong>: 1 of 2")

		// The run page's card: approvers, progress, deadline, decisions.
		c := (&env{t: t, ts: e.ts, srv: e.srv}).login()
		resp, body := (&env{t: t, ts: e.ts, srv: e.srv}).page(c, "/runs/"+itoa(run.ID))
		if resp.StatusCode != 200 {
			t.Fatalf("run page = %d", resp.StatusCode)
		}
		wantIn(t, "the run page", body, "pm@example.com, cto@example.com", "<strong>approvers</strong>: 1 of 2", "(in 3 days)",
			"Pricing looks &lt;right&gt;.")

		// cto approves: the gate passes, the release goes live, and each
		// approver is told so, once.
		if status, body := e.do("POST", "/approvals/"+cto, "decision", "approve"); status != 200 ||
			!strings.Contains(body, "Approved: the release has the approvals it needs") {
			t.Fatalf("second approval = %d\n%s", status, body)
		}
		e.wait(run.ID, "succeeded")
		out := e.mail(2)
		for _, who := range []string{"pm@example.com", "cto@example.com"} {
			m := out[who]
			if m == nil {
				t.Fatalf("no outcome mail to %s; got %v", who, out)
			}
			if !strings.HasPrefix(m.Subject, "Live: hello #") {
				t.Errorf("outcome subject = %q", m.Subject)
			}
			if n := strings.Count(m.Text, "Approved, and live in production since"); n != 1 {
				t.Errorf("outcome said %d times:\n%s", n, m.Text)
			}
			wantIn(t, "the outcome mail", m.Text, "Pricing looks <right>.\n    Ship it.")
		}

		// The same commit again: the page says it is the version live.
		again := e.trigger("", "")
		tokens = e.tokens()
		status, body = e.do("GET", "/approvals/"+tokens["pm@example.com"])
		if status != 200 || again.Commit.SHA != run.Commit.SHA {
			t.Fatalf("GET = %d for commit %s (want %s)", status, again.Commit.SHA, run.Commit.SHA)
		}
		wantIn(t, "the page of the live version", body, "the same version as the one live in production now")

		// A rejection with a reason: the page and the outcome mail say it.
		if _, err := e.engine.Cancel(t.Context(), again.ID); err != nil {
			t.Fatal(err)
		}
		e.mail(2) // no longer needed
		rej := e.trigger("Change the footer", "")
		tokens = e.tokens()
		status, body = e.do("POST", "/approvals/"+tokens["cto@example.com"], "decision", "reject", "comment", "The footer overlaps the prices.")
		if status != 200 {
			t.Fatalf("reject = %d\n%s", status, body)
		}
		wantIn(t, "the rejected page", body, "You rejected — thank you", "Rejected: the release will not go to production",
			"The footer overlaps the prices.")
		e.wait(rej.ID, "rejected")
		out = e.mail(3) // both approvers, and the commit's author
		m := out["pm@example.com"]
		if m == nil || !strings.HasPrefix(m.Subject, "Rejected: hello #") || strings.Count(m.Text, "The footer overlaps the prices.") != 1 {
			t.Errorf("rejection outcome to pm = %+v", m)
		}
		if a := out["author@example.com"]; a == nil || strings.Count(a.Text, "The footer overlaps the prices.") != 1 {
			t.Errorf("rejection mail to the author says the reason other than once: %+v", a)
		}
	})
}

// TestRealDecisionPageChangesNothing: opening a link (mail scanners do,
// sometimes several times) decides nothing, shows the commit's words
// escaped, and keeps the page free of inline style and script.
func TestRealDecisionPageChangesNothing(t *testing.T) {
	realStores(t, gateOptions{required: 1}, func(t *testing.T, e *realEnv) {
		run := e.trigger(`Ship <script>alert("x")</script> & more`, "")
		tokens := e.tokens()
		for range 3 {
			status, body := e.do("GET", "/approvals/"+tokens["pm@example.com"])
			if status != 200 {
				t.Fatalf("GET = %d\n%s", status, body)
			}
			wantIn(t, "the page", body, "hello", "#"+itoa(run.ID), run.Commit.Short(), "Test Author", "pm@example.com",
				`href="http://staging.example.com/"`, "Look at it on staging", "0 of 1", `name="comment"`, "/static/style.css",
				"Ship &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more")
			wantNotIn(t, "the page", body, "<script", " style=", "<style")
		}
		a, err := e.db.ApprovalForStage(t.Context(), run.ID, "approval")
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != "pending" || len(a.Decisions) != 0 {
			t.Fatalf("after GETs the approval is %s with %d decisions, want pending and none", a.Status, len(a.Decisions))
		}
		if status, body := e.do("POST", "/approvals/"+tokens["pm@example.com"], "decision", "approve"); status != 200 {
			t.Fatalf("POST after GETs = %d\n%s", status, body)
		}
	})
}

// TestRealDecideOnceThenGone: a link decides once; the other approver's
// link then says the gate is closed, and by whom.
func TestRealDecideOnceThenGone(t *testing.T) {
	realStores(t, gateOptions{required: 1}, func(t *testing.T, e *realEnv) {
		run := e.trigger("Approve me", "")
		tokens := e.tokens()
		pm, cto := tokens["pm@example.com"], tokens["cto@example.com"]
		if run.Tests == nil { // what a build's JUnit reports give; written here where the build wrote none
			run.Tests = &greenlight.TestSummary{Passed: 12, Failed: 1,
				Failures: []greenlight.TestFailure{{Name: "TestFooter", Message: "want 2 links"}}}
			if err := e.db.UpdateRun(t.Context(), run); err != nil {
				t.Fatal(err)
			}
		}
		status, body := e.do("POST", "/approvals/"+pm, "decision", "approve", "comment", "Looks <b>great</b>")
		if status != 200 || !strings.Contains(body, "You approved — thank you") {
			t.Fatalf("approve = %d\n%s", status, body)
		}
		a, err := e.db.ApprovalForStage(t.Context(), run.ID, "approval")
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Decisions) != 1 {
			t.Fatalf("decisions = %+v", a.Decisions)
		}
		if d := a.Decisions[0]; d.Approver != "pm@example.com" || d.Verdict != "approve" || d.Comment != "Looks <b>great</b>" ||
			d.IP != "127.0.0.1" || d.UserAgent != "TestBrowser/1.0" {
			t.Errorf("decision recorded as %+v", d)
		}
		status, body = e.do("POST", "/approvals/"+pm, "decision", "reject")
		if status != 410 || !strings.Contains(body, "already used") || !strings.Contains(body, "pm@example.com") {
			t.Fatalf("second POST = %d, want 410 'already used' by pm\n%s", status, body)
		}
		status, body = e.do("GET", "/approvals/"+cto)
		if status != 410 || !strings.Contains(body, "already approved") || !strings.Contains(body, "pm@example.com") {
			t.Fatalf("GET of the other link = %d, want 410 'already approved' by pm\n%s", status, body)
		}
		wantIn(t, "the other link's page", body, "Looks &lt;b&gt;great&lt;/b&gt;")
		if status, body := e.do("POST", "/approvals/"+cto, "decision", "reject"); status != 410 {
			t.Fatalf("POST of the other link = %d, want 410\n%s", status, body)
		}
		e.wait(run.ID, "succeeded")
	})
}

// TestRealDecisionExpired: after the deadline the link says it expired,
// and the gate's run ended expired.
func TestRealDecisionExpired(t *testing.T) {
	realStores(t, gateOptions{required: 1, timeout: "2s"}, func(t *testing.T, e *realEnv) {
		run := e.trigger("Too late", "")
		tokens := e.tokens()
		e.wait(run.ID, "expired")
		status, body := e.do("GET", "/approvals/"+tokens["pm@example.com"])
		if status != 410 || !strings.Contains(body, "expired") {
			t.Fatalf("GET after the deadline = %d, want 410 'expired'\n%s", status, body)
		}
		status, body = e.do("POST", "/approvals/"+tokens["pm@example.com"], "decision", "approve")
		if status != 410 || !strings.Contains(body, "expired") {
			t.Fatalf("POST after the deadline = %d, want 410 'expired'\n%s", status, body)
		}
	})
}
