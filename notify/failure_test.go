package notify_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail/smtptest"
)

// The notify list and the commit author are told, each in their own mail: an
// address from a commit never shares a To: line with the team's.
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
			// An address listed twice, spelled differently: one copy.
			e.notifyList = []string{"dev-team@example.com", "Ops <ops@example.com>", "not an address", "DEV-TEAM@example.com"}
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
			if len(mails) != 2 {
				t.Fatalf("mails = %d, want 2 (the list's, the author's)", len(mails))
			}
			byKey := map[string][]string{}
			for _, m := range mails {
				byKey[m.Key] = m.To
			}
			key := "run:1:" + string(tt.status)
			if want := []string{"dev-team@example.com", "ops@example.com"}; !slices.Equal(byKey[key], want) {
				t.Errorf("mail %s to %q, want %q; mails %v", key, byKey[key], want, byKey)
			}
			if want := []string{"dana@example.com"}; !slices.Equal(byKey[key+":author"], want) {
				t.Errorf("mail %s:author to %q, want %q; mails %v", key, byKey[key+":author"], want, byKey)
			}
			e.sendDue()
			var msg *smtptest.Message
			for _, m := range e.smtp.WaitFor(t, 2, 5*time.Second) {
				if slices.Contains(m.To, "dana@example.com") {
					if len(m.To) != 1 || smtptest.HeaderCount(m.Data, "Cc") != 0 {
						t.Errorf("the author's mail goes to %q, want the author alone", m.To)
					}
					msg = &m
				}
			}
			if msg == nil {
				t.Fatal("no mail to the author")
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

// An author who is on the notify list is told once, with the list.
func TestFailureMailAuthorOnTheList(t *testing.T) {
	e := newEnv(t)
	e.notifyList = []string{"dev-team@example.com", "Dana <DANA@example.com>"}
	r := e.run(commit())
	e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: greenlight.RunFailed})
	e.drain()
	mails := e.mails()
	if len(mails) != 1 || !slices.Equal(mails[0].To, []string{"dev-team@example.com", "DANA@example.com"}) {
		t.Fatalf("mails = %d, first to %q; want one, to the list", len(mails), mails[0].To)
	}
}

// A pull request's failed build tells the notify list only: its author
// address, title and commit are the sender's words, and the server must not
// mail them to whoever they name.
func TestPullRequestFailureMailGoesToNotifyListOnly(t *testing.T) {
	e := newEnv(t)
	e.notifyList = []string{"dev-team@example.com"}
	c := commit()
	c.AuthorEmail = "victim@example.org"
	c.Title = "Buy cheap pills at http://spam.example \u202etxt.exe\r\nBcc: all@example.com " + strings.Repeat("x", 200)
	r := e.pullRequestRun(c, &greenlight.PullRequest{Number: 7, Title: c.Title, HeadBranch: "evil", BaseBranch: "main"})
	r.Status, r.Error = greenlight.RunFailed, "step test: exit status 1"
	r.Stages[0].Status = greenlight.StageFailed
	if err := e.db.UpdateRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: greenlight.RunFailed, Error: r.Error})
	e.drain()
	mails := e.mails()
	if len(mails) != 1 || !slices.Equal(mails[0].To, []string{"dev-team@example.com"}) {
		var to [][]string
		for _, m := range mails {
			to = append(to, m.To)
		}
		t.Fatalf("mails to %q, want one mail to the notify list only", to)
	}
	e.sendDue()
	msg := e.smtp.WaitFor(t, 1, 5*time.Second)[0]
	if !slices.Equal(msg.To, []string{"dev-team@example.com"}) || smtptest.HeaderCount(msg.Data, "Bcc") != 0 {
		t.Errorf("envelope to = %q, want the notify list only", msg.To)
	}
	p, err := msg.Parse()
	if err != nil {
		t.Fatal(err)
	}
	title := strings.TrimPrefix(p.Subject, "hello #1 failed: ")
	if title == p.Subject || !strings.HasPrefix(title, "Buy cheap pills") || !strings.HasSuffix(title, "…") ||
		len([]rune(title)) > 60 || strings.ContainsAny(p.Subject, "\r\n\u202e") {
		t.Errorf("subject = %q, want \"hello #1 failed: \" and the title on one line, without direction "+
			"overrides, cut to 60 characters", p.Subject)
	}
}

// With no notify list, a pull request's failure mails nobody.
func TestPullRequestFailureWithoutNotifyList(t *testing.T) {
	e := newEnv(t)
	r := e.pullRequestRun(commit(), &greenlight.PullRequest{Number: 7})
	e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: greenlight.RunFailed})
	e.drain()
	if n := len(e.mails()); n != 0 {
		t.Errorf("mails = %d, want 0: the author of a pull request is not told", n)
	}
}

// pullRequestRun creates a pull request's build run (build stage only).
func (e *env) pullRequestRun(c greenlight.Commit, pr *greenlight.PullRequest) *greenlight.Run {
	e.t.Helper()
	r := &greenlight.Run{Pipeline: "hello", Status: greenlight.RunRunning, Trigger: greenlight.TriggerWebhook,
		Commit: c, PullRequest: pr, CreatedAt: e.clock.Now(),
		Stages: []greenlight.Stage{{Index: 0, Name: "build", Type: greenlight.StageBuild, Status: greenlight.StageRunning}}}
	if err := e.db.CreateRun(e.t.Context(), r); err != nil {
		e.t.Fatalf("CreateRun: %v", err)
	}
	return r
}
