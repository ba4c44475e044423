package notify_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestFailureMailGoesToAuthorAndNotifyList(t *testing.T) {
	tests := []struct {
		status   greenlight.RunStatus
		wantMail bool
		wantText string
	}{
		{greenlight.RunFailed, true, "failed at stage build"},
		{greenlight.RunRejected, true, "was rejected"},
		{greenlight.RunExpired, true, "nobody decided before the deadline"},
		{greenlight.RunSucceeded, false, ""},
		{greenlight.RunCancelled, false, ""},
		{greenlight.RunSuperseded, false, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			e := newEnv(t)
			// The author is on the list too, spelled differently: one copy.
			e.notifyList = []string{"dev-team@example.com", "Dana <DANA@example.com>", "not an address"}
			r := e.run(commit())
			r.Status, r.Error = tt.status, "why: "+string(tt.status)
			if tt.status == greenlight.RunFailed {
				r.Stages[0].Status = greenlight.StageFailed
			}
			if err := e.db.UpdateRun(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			ev := e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: tt.status, Error: r.Error})
			e.drain()
			if err := e.n.Handle(t.Context(), ev); err != nil { // twice: still one mail
				t.Fatal(err)
			}
			mails := e.mails()
			if !tt.wantMail {
				if len(mails) != 0 {
					t.Fatalf("mails = %d, want none for %s", len(mails), tt.status)
				}
				return
			}
			if len(mails) != 1 {
				t.Fatalf("mails = %d, want 1", len(mails))
			}
			if want := "run:1:" + string(tt.status); mails[0].Key != want {
				t.Errorf("key = %q, want %q", mails[0].Key, want)
			}
			e.sendDue()
			msg := e.smtp.WaitFor(t, 1, 5*time.Second)[0]
			if want := []string{"dana@example.com", "dev-team@example.com"}; !slices.Equal(msg.To, want) {
				t.Errorf("envelope to = %q, want %q", msg.To, want)
			}
			p, err := msg.Parse()
			if err != nil {
				t.Fatal(err)
			}
			if want := "hello #1 " + string(tt.status) + ": Add the pricing page"; p.Subject != want {
				t.Errorf("subject = %q, want %q", p.Subject, want)
			}
			for _, s := range []string{tt.wantText, "why: " + string(tt.status), "0123456"} {
				if !strings.Contains(p.Text, s) {
					t.Errorf("text lacks %q:\n%s", s, p.Text)
				}
			}
			if link := p.Link("/runs/"); link != "https://greenlight.example.com/runs/1" {
				t.Errorf("run link = %q", link)
			}
		})
	}
}

func TestRejectionMailSaysWhoAndWhy(t *testing.T) {
	e := newEnv(t)
	r := e.run(commit())
	a := e.approval(r, "pm@example.com", "cto@example.com")
	d := greenlight.Decision{ApprovalID: a.ID, Approver: "pm@example.com", Verdict: greenlight.Reject,
		Comment: "The price is <b>wrong</b>", At: e.clock.Now()}
	if err := e.db.AddDecision(t.Context(), &d); err != nil {
		t.Fatal(err)
	}
	r.Status = greenlight.RunRejected
	r.Stages[2].Status = greenlight.StageRejected
	if err := e.db.UpdateRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: greenlight.RunRejected})
	e.drain()
	e.sendDue()
	p, err := e.smtp.WaitFor(t, 1, 5*time.Second)[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Text, "Rejected by pm@example.com at 2026-03-02 09:30 UTC:\n    The price is <b>wrong</b>") {
		t.Errorf("text does not say who rejected and why:\n%s", p.Text)
	}
	if !strings.Contains(p.HTML, "The price is &lt;b&gt;wrong&lt;/b&gt;") {
		t.Errorf("html does not carry the escaped comment:\n%s", p.HTML)
	}
}

func TestFailureMailWithNobodyToTell(t *testing.T) {
	e := newEnv(t)
	c := commit()
	c.AuthorEmail = "not an address"
	r := e.run(c)
	ev := e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: greenlight.RunFailed})
	e.drain()
	if n := len(e.mails()); n != 0 {
		t.Errorf("mails = %d, want 0", n)
	}
	if got := e.cursor(); got != ev.Seq {
		t.Errorf("cursor = %d, want %d", got, ev.Seq)
	}
}
