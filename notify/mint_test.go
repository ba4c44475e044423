package notify_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/mail"
	"github.com/greenlight-cd/greenlight/notify"
)

// lostRecord delivers through next, then reports a failure: the mail left,
// but the record of it is lost, as when the process dies right after SMTP
// accepted the message.
type lostRecord struct{ next mail.Sender }

func (l lostRecord) Send(ctx context.Context, m *greenlight.Mail) error {
	if err := l.next.Send(ctx, m); err != nil {
		return err
	}
	return errors.New("crash before the delivery was recorded")
}

// smtpSender is a sender to e's SMTP server.
func (e *env) smtpSender() mail.Sender {
	e.t.Helper()
	s, err := mail.NewSMTP("smtp://"+e.smtp.Addr(), "Greenlight <greenlight@example.com>", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// openApproval opens a gate for approvers and queues its mail.
func (e *env) openApproval(approvers ...string) *greenlight.Approval {
	e.t.Helper()
	r := e.run(commit())
	a := e.approval(r, approvers...)
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	e.drain()
	return a
}

// tokenFound reports whether raw's hash is stored.
func (e *env) tokenFound(raw string) (*greenlight.ApprovalToken, bool) {
	e.t.Helper()
	tok, err := e.db.Token(e.t.Context(), greenlight.HashToken(raw))
	if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
		return nil, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, true
}

// With SMTP, the token is made at sending: the stored mail has the
// placeholder, never the token, and no file of the data directory holds it.
func TestDecisionMailTokenNeverStored(t *testing.T) {
	e := newEnv(t)
	e.openApproval("pm@example.com")
	stored := e.mails()[0]
	if stored.ApprovalID == 0 || stored.Approver != "pm@example.com" {
		t.Errorf("stored mail binds approval %d approver %q, want the gate and pm@example.com", stored.ApprovalID, stored.Approver)
	}
	if n := e.tokens(); n != 0 {
		t.Errorf("tokens before sending = %d, want 0", n)
	}
	e.sendDue()
	p := e.received(1)["pm@example.com"]
	raw := tokenOf(t, p.Link("decision=approve"))
	if _, ok := e.tokenFound(raw); !ok {
		t.Fatalf("the mailed token is not stored (as a hash)")
	}
	after := e.mail(stored.ID)
	if after.SentAt == nil || strings.Contains(after.Text+after.HTML, raw) ||
		!strings.Contains(after.Text, "/approvals/(link removed after delivery)?decision=approve") {
		t.Errorf("stored copy after delivery: sent %v, text:\n%s", after.SentAt, after.Text)
	}
	// The database stays open: closing it would checkpoint and remove the WAL.
	filepath.WalkDir(e.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(raw)) {
			t.Errorf("%s holds the raw token", path)
		}
		return nil
	})
}

// A mail sent again (its delivery record lost) carries a new token, and the
// earlier one keeps working: both copies share a Message-ID, and a client
// that shows one message per Message-ID may show the first. Once the
// approver decided through one link, the other is used too.
func TestResendKeepsBothLinks(t *testing.T) {
	e := newEnv(t)
	e.openApproval("pm@example.com")
	d := notify.NewDispatcher(e.db, lostRecord{e.smtpSender()}, true, e.clock.Now, nil)
	if err := d.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := tokenOf(t, e.received(1)["pm@example.com"].Link("decision=approve"))
	if _, ok := e.tokenFound(first); !ok {
		t.Fatal("first token not stored")
	}

	e.clock.Add(11 * time.Minute) // past any backoff
	e.sendDue()
	msgs := e.smtp.WaitFor(t, 2, 10*time.Second)
	p, err := msgs[1].Parse()
	if err != nil {
		t.Fatal(err)
	}
	second := tokenOf(t, p.Link("decision=approve"))
	if second == first {
		t.Fatal("the resent mail carries the same token")
	}
	if p0, _ := msgs[0].Parse(); p0.Header.Get("Message-Id") != p.Header.Get("Message-Id") {
		t.Errorf("the resent mail has another Message-ID")
	}
	svc := approval.New(e.db, e.clock.Now)
	for _, raw := range []string{first, second} {
		v, err := svc.Lookup(t.Context(), raw)
		if err != nil || v.State != approval.TokenOpen {
			t.Fatalf("a link of the mail sent twice: %+v %v, want open", v, err)
		}
	}
	if _, err := svc.Decide(t.Context(), first, approval.Input{Verdict: greenlight.Approve}); err != nil {
		t.Fatalf("decide through the first copy: %v", err)
	}
	if _, err := svc.Decide(t.Context(), second, approval.Input{Verdict: greenlight.Reject}); greenlight.ErrorCode(err) != greenlight.EGONE {
		t.Errorf("a second decision through the other copy: %v, want EGONE", err)
	}
	if v, err := svc.Lookup(t.Context(), second); err != nil || v.State != approval.TokenUsed {
		t.Errorf("the other copy's link after the decision: %+v %v, want used", v, err)
	}
}

// If the approver decided through a mail whose delivery record was lost, the
// token of the mail sent again is born used: nobody decides twice.
func TestResendAfterDecisionIsBornUsed(t *testing.T) {
	e := newEnv(t)
	e.openApproval("pm@example.com", "cto@example.com")
	d := notify.NewDispatcher(e.db, lostRecord{e.smtpSender()}, true, e.clock.Now, nil)
	if err := d.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := e.received(2)
	first := tokenOf(t, got["pm@example.com"].Link("decision=approve"))
	svc := approval.New(e.db, e.clock.Now)
	if _, err := svc.Decide(t.Context(), first, approval.Input{Verdict: greenlight.Approve}); err != nil {
		t.Fatalf("Decide: %v", err)
	}

	e.clock.Add(11 * time.Minute)
	e.sendDue()
	var second string
	for _, m := range e.smtp.WaitFor(t, 4, 10*time.Second)[2:] {
		if m.To[0] == "pm@example.com" {
			p, _ := m.Parse()
			second = tokenOf(t, p.Link("decision=approve"))
		}
	}
	tok, ok := e.tokenFound(second)
	if !ok || tok.UsedAt == nil {
		t.Fatalf("token of the resent mail = %+v, want stored and already used", tok)
	}
	if _, ok := e.tokenFound(first); !ok {
		t.Errorf("the used token (the record of the decision) was deleted")
	}
	if _, err := svc.Decide(t.Context(), second, approval.Input{Verdict: greenlight.Reject}); greenlight.ErrorCode(err) != greenlight.EGONE {
		t.Errorf("second decision through the resent link: %v, want EGONE", err)
	}
}

// In the outbox the stored mail is the delivery: after "sending" it holds
// working links.
func TestOutboxMailGetsItsLinks(t *testing.T) {
	e := newEnv(t)
	e.openApproval("pm@example.com")
	if err := notify.NewDispatcher(e.db, &mail.Outbox{}, false, e.clock.Now, nil).SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	m := e.mails()[0]
	raw := tokenOf(t, mail.Links(m.Text)[1])
	if !strings.Contains(m.HTML, raw) {
		t.Errorf("html lacks the token")
	}
	if _, ok := e.tokenFound(raw); !ok {
		t.Errorf("the outbox mail's token is not stored")
	}
}

// A commit title cannot make the Dispatcher put the token in a link of the
// attacker's: the placeholder is removed from every value a mail shows.
func TestTitleCannotPlaceTheToken(t *testing.T) {
	e := newEnv(t)
	c := commit()
	ph := greenlight.TokenPlaceholder
	c.Title = "see http://evil.example/?t=" + ph + " and ~approval-" + ph + "token~"
	c.AuthorName = ph
	r := e.run(c)
	a := e.approvalWithChanges(r, []greenlight.Change{{Title: "x " + ph, Author: "y " + ph}}, "pm@example.com")
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	e.drain()
	e.sendDue()
	p := e.received(1)["pm@example.com"]
	raw := tokenOf(t, p.Link("decision=approve"))
	for part, body := range map[string]string{"subject": p.Subject, "text": p.Text, "html": p.HTML} {
		want := 2
		if part == "subject" {
			want = 0
		}
		if n := strings.Count(body, raw); n != want {
			t.Errorf("%s holds the token %d times, want %d (only the two links):\n%s", part, n, want, body)
		}
	}
}

// A gate revoked after its mail was queued but before it left: the mailed
// token is born revoked and cannot decide.
func TestTokenOfRevokedGateIsBornRevoked(t *testing.T) {
	e := newEnv(t)
	a := e.openApproval("pm@example.com")
	if _, err := e.db.SetApprovalStatus(t.Context(), a.ID, greenlight.ApprovalRevoked, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.sendDue()
	raw := tokenOf(t, e.received(1)["pm@example.com"].Link("decision=approve"))
	if tok, ok := e.tokenFound(raw); !ok || tok.RevokedAt == nil {
		t.Fatalf("token = %+v, want stored and revoked", tok)
	}
	_, err := approval.New(e.db, e.clock.Now).Decide(t.Context(), raw, approval.Input{Verdict: greenlight.Approve})
	if greenlight.ErrorCode(err) != greenlight.EGONE {
		t.Errorf("decision through a revoked gate's link: %v, want EGONE", err)
	}
}
