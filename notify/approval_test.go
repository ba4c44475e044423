package notify_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail/smtptest"
)

func TestApprovalMailPerApproverWithWorkingToken(t *testing.T) {
	e := newEnv(t)
	r := e.run(commit())
	a := e.approvalWithChanges(r, titles("Add the pricing page", "Fix the footer"), "pm@example.com", "cto@example.com")
	ev := e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})

	e.drain()
	if got := e.cursor(); got != ev.Seq {
		t.Errorf("cursor = %d, want %d", got, ev.Seq)
	}
	e.sendDue()
	got := e.received(2)

	seen := map[string]bool{}
	for _, approver := range a.Approvers {
		p := got[approver]
		if p == nil {
			t.Fatalf("no mail to %s; got mail to %v", approver, keys(got))
		}
		want := "Approve hello #1: Add the pricing page"
		if p.Subject != want {
			t.Errorf("subject = %q, want %q", p.Subject, want)
		}
		for _, s := range []string{"hello", "run #1", "0123456", "Add the pricing page", "Dana Dev",
			"Fix the footer", "http://127.0.0.1:8081/", "Thursday 5 March 2026, 09:30 UTC", "in 3 days"} {
			if !strings.Contains(p.Text, s) {
				t.Errorf("text lacks %q:\n%s", s, p.Text)
			}
		}
		approve, reject := p.Link("decision=approve"), p.Link("decision=reject")
		tok := tokenOf(t, approve)
		if tokenOf(t, reject) != tok {
			t.Errorf("approve and reject links carry different tokens: %s, %s", approve, reject)
		}
		if seen[tok] {
			t.Errorf("token of %s was already sent to another approver", approver)
		}
		seen[tok] = true
		stored, err := e.db.Token(t.Context(), greenlight.HashToken(tok))
		if err != nil {
			t.Fatalf("Token(HashToken(link token)): %v", err)
		}
		if stored.Approver != approver || stored.ApprovalID != a.ID || stored.RunID != r.ID ||
			!stored.ExpiresAt.Equal(a.Deadline) || stored.UsedAt != nil {
			t.Errorf("stored token = %+v, want approver %s approval %d run %d expiring %v",
				stored, approver, a.ID, r.ID, a.Deadline)
		}
		// The HTML part has the same links (with & escaped) and the review URL.
		for _, s := range []string{strings.ReplaceAll(approve, "&", "&amp;"), reject, `href="http://127.0.0.1:8081/"`} {
			if !strings.Contains(p.HTML, s) {
				t.Errorf("html lacks %q", s)
			}
		}
	}
	if n := e.tokens(); n != 2 {
		t.Errorf("tokens = %d, want 2", n)
	}
	for _, m := range e.mails() {
		if m.SentAt == nil || m.Attempts != 1 {
			t.Errorf("mail %d (%s): sent_at %v attempts %d, want sent after 1 attempt", m.ID, m.Key, m.SentAt, m.Attempts)
		}
	}
}

func TestApprovalEventHandledTwiceSendsOnce(t *testing.T) {
	e := newEnv(t)
	r := e.run(commit())
	a := e.approval(r, "pm@example.com", "cto@example.com")
	ev := e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})

	for range 2 {
		if err := e.n.Handle(t.Context(), ev); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	if n := len(e.mails()); n != 2 {
		t.Errorf("mails = %d, want 2 (one per approver)", n)
	}
	if n := e.tokens(); n != 0 {
		t.Errorf("tokens = %d before sending, want 0 (made when the mail is sent)", n)
	}
	e.sendDue()
	e.sendDue()
	if n := e.tokens(); n != 2 {
		t.Errorf("tokens = %d after sending, want 2 (one per approver)", n)
	}
	e.smtp.WaitFor(t, 2, 5*time.Second)
	time.Sleep(100 * time.Millisecond) // a third message would have arrived by now
	if n := len(e.smtp.Messages()); n != 2 {
		t.Errorf("messages received = %d, want 2", n)
	}
}

// A crash after the mail was queued but before the cursor moved: the next
// start handles the event again and must not mail or mint twice.
func TestApprovalCrashBeforeCursorAdvanced(t *testing.T) {
	e := newEnv(t)
	r := e.run(commit())
	a := e.approval(r, "pm@example.com", "cto@example.com")
	ev := e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})

	if err := e.n.Handle(t.Context(), ev); err != nil { // the work, then the "crash"
		t.Fatalf("Handle: %v", err)
	}
	if got := e.cursor(); got != 0 {
		t.Fatalf("cursor = %d before the rerun, want 0", got)
	}
	e.drain() // the restart
	if got := e.cursor(); got != ev.Seq {
		t.Errorf("cursor = %d, want %d", got, ev.Seq)
	}
	if n := len(e.mails()); n != 2 {
		t.Errorf("mails = %d, want 2", n)
	}
	e.sendDue()
	if n := e.tokens(); n != 2 {
		t.Errorf("tokens = %d, want 2", n)
	}
	got := e.received(2)
	// The links that went out are the ones whose tokens were stored.
	for _, approver := range a.Approvers {
		tok := tokenOf(t, got[approver].Link("decision=approve"))
		if _, err := e.db.Token(t.Context(), greenlight.HashToken(tok)); err != nil {
			t.Errorf("token mailed to %s is not stored: %v", approver, err)
		}
	}
}

func TestApprovalMailEscapesCommitData(t *testing.T) {
	e := newEnv(t)
	c := commit()
	c.Title = "<script>alert(1)</script>\r\nBcc: victim@example.com\r\n\r\nInjected body"
	c.AuthorName = `<img src=x onerror="alert(2)">`
	c.AuthorEmail = "evil@example.com>\r\nX-Evil: 1"
	r := e.run(c)
	a := e.approvalWithChanges(r, []greenlight.Change{{SHA: "0123456789", Title: `<a href="javascript:alert(3)">click</a>`, Author: `<img src=x onerror="alert(4)">`}}, "pm@example.com")
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	e.drain()
	e.sendDue()

	msg := e.smtp.WaitFor(t, 1, 5*time.Second)[0]
	if len(msg.To) != 1 || msg.To[0] != "pm@example.com" {
		t.Errorf("envelope to = %q, want only pm@example.com", msg.To)
	}
	for h, want := range map[string]int{"Subject": 1, "Bcc": 0, "X-Evil": 0, "To": 1} {
		if n := smtptest.HeaderCount(msg.Data, h); n != want {
			t.Errorf("%s headers = %d, want %d", h, n, want)
		}
	}
	head, _, _ := bytes.Cut(msg.Data, []byte("\r\n\r\n"))
	if bytes.Contains(head, []byte("Injected body")) && !bytes.Contains(head, []byte("Subject:")) {
		t.Errorf("title leaked out of the Subject header:\n%s", head)
	}
	p, err := msg.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(p.Subject, "\r\n") || !strings.Contains(p.Subject, "<script>alert(1)</script>") {
		t.Errorf("subject = %q, want the title on one line", p.Subject)
	}
	for _, bad := range []string{"<script", "<img", `<a href="javascript`} {
		if strings.Contains(p.HTML, bad) {
			t.Errorf("html contains %q unescaped", bad)
		}
	}
	for _, good := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;",
		"&lt;a href=&#34;javascript:alert(3)&#34;&gt;"} {
		if !strings.Contains(p.HTML, good) {
			t.Errorf("html lacks %q", good)
		}
	}
	// In the text part the title stays on its line: nothing can pose as a link line.
	if strings.Contains(p.Text, "\nBcc:") || strings.Contains(p.Text, "\nInjected body") {
		t.Errorf("text part lets commit data start lines:\n%s", p.Text)
	}
}

func TestNoApprovalMailForClosedApproval(t *testing.T) {
	tests := []struct {
		name  string
		close func(e *env, a *greenlight.Approval)
	}{
		{"revoked", func(e *env, a *greenlight.Approval) {
			if _, err := e.db.SetApprovalStatus(e.t.Context(), a.ID, greenlight.ApprovalRevoked, e.clock.Now()); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"deadline passed", func(e *env, a *greenlight.Approval) { e.clock.Add(73 * time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.run(commit())
			a := e.approval(r, "pm@example.com")
			ev := e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
			tt.close(e, a)
			e.drain()
			if n := len(e.mails()); n != 0 {
				t.Errorf("mails = %d, want 0", n)
			}
			if n := e.tokens(); n != 0 {
				t.Errorf("tokens = %d, want 0: a live token for a closed gate", n)
			}
			if got := e.cursor(); got != ev.Seq {
				t.Errorf("cursor = %d, want %d", got, ev.Seq)
			}
		})
	}
}

func TestRevokedApprovalTellsApprovers(t *testing.T) {
	e := newEnv(t)
	r := e.run(commit())
	a := e.approval(r, "pm@example.com", "cto@example.com")
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	e.drain()
	if _, err := e.db.SetApprovalStatus(t.Context(), a.ID, greenlight.ApprovalRevoked, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	ev := e.event(greenlight.EventApprovalRevoked, r.ID, map[string]any{"approval": a.ID, "reason": "superseded"})
	e.drain()
	if err := e.n.Handle(t.Context(), ev); err != nil { // again: still one mail each
		t.Fatal(err)
	}
	e.sendDue()
	msgs := e.smtp.WaitFor(t, 4, 5*time.Second)
	revoked := map[string]*smtptest.Parsed{}
	for _, m := range msgs {
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.Subject, "No longer needed") {
			revoked[m.To[0]] = p
		}
	}
	for _, approver := range a.Approvers {
		p := revoked[approver]
		if p == nil {
			t.Fatalf("no revoked mail to %s", approver)
		}
		if !strings.Contains(p.Text, "no longer needs your decision") || !strings.Contains(p.Text, "newer version") {
			t.Errorf("revoked text:\n%s", p.Text)
		}
		if len(p.Links()) != 0 {
			t.Errorf("revoked mail has links %q, want none", p.Links())
		}
	}
	if n := len(e.mails()); n != 4 {
		t.Errorf("mails = %d, want 4 (2 approval + 2 revoked)", n)
	}
}

func TestEventsOfMissingThingsAreSkipped(t *testing.T) {
	e := newEnv(t)
	e.event(greenlight.EventApprovalOpened, 41, greenlight.ApprovalOpened{ApprovalID: 999})
	e.event(greenlight.EventRunFinished, 42, greenlight.RunFinished{Status: greenlight.RunFailed, Error: "boom"})
	e.event(greenlight.EventApprovalRevoked, 43, map[string]any{"approval": 998})
	bad := e.event(greenlight.EventRunFinished, 44, "not an object")
	e.drain()
	if got := e.cursor(); got != bad.Seq {
		t.Errorf("cursor = %d, want %d (every event passed)", got, bad.Seq)
	}
	if n := len(e.mails()); n != 0 {
		t.Errorf("mails = %d, want 0", n)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
