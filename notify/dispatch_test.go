package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail"
	"github.com/greenlight-cd/greenlight/notify"
)

func (e *env) queue(key string) *greenlight.Mail {
	e.t.Helper()
	now := e.clock.Now()
	m := &greenlight.Mail{Key: key, To: []string{"pm@example.com"}, Subject: "s " + key,
		Text: "t", HTML: "<p>h</p>", CreatedAt: now, NextAttempt: now}
	if ok, err := e.db.EnqueueMail(e.t.Context(), m); err != nil || !ok {
		e.t.Fatalf("EnqueueMail = %v, %v", ok, err)
	}
	return m
}

func (e *env) mail(id int64) *greenlight.Mail {
	e.t.Helper()
	for _, m := range e.mails() {
		if m.ID == id {
			return m
		}
	}
	e.t.Fatalf("mail %d not found", id)
	return nil
}

func TestDispatcherOutageDelaysMailNeverLosesIt(t *testing.T) {
	e := newEnv(t)
	m := e.queue("k1")
	e.smtp.SetDown(true)

	e.sendDue()
	got := e.mail(m.ID)
	if got.SentAt != nil || got.Attempts != 1 || got.LastError == "" {
		t.Fatalf("after a failed attempt: sent %v attempts %d error %q; want unsent, 1, an error",
			got.SentAt, got.Attempts, got.LastError)
	}
	wait := got.NextAttempt.Sub(e.clock.Now())
	if wait < 3750*time.Millisecond || wait > 6250*time.Millisecond {
		t.Errorf("first retry in %v, want 5s ± 25%%", wait)
	}

	e.sendDue() // not due yet: no second attempt
	if got := e.mail(m.ID); got.Attempts != 1 {
		t.Errorf("attempts = %d before the retry time, want 1", got.Attempts)
	}
	e.clock.Add(10 * time.Second)
	e.sendDue() // due, still down: the second wait is longer
	got = e.mail(m.ID)
	if got.Attempts != 2 {
		t.Fatalf("attempts = %d, want 2", got.Attempts)
	}
	if wait := got.NextAttempt.Sub(e.clock.Now()); wait < 7500*time.Millisecond || wait > 12500*time.Millisecond {
		t.Errorf("second retry in %v, want 10s ± 25%%", wait)
	}

	// The server comes back; time moves on; Run delivers it.
	e.smtp.SetDown(false)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.d.Run(ctx) }()
	e.clock.Add(11 * time.Minute)
	e.d.Kick()
	msgs := e.smtp.WaitFor(t, 1, 10*time.Second)
	if len(msgs) != 1 || msgs[0].To[0] != "pm@example.com" {
		t.Errorf("received %d messages %v, want the one mail", len(msgs), msgs)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.mail(m.ID).SentAt == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got = e.mail(m.ID)
	if got.SentAt == nil || !got.SentAt.Equal(e.clock.Now()) || got.Attempts != 3 {
		t.Errorf("after delivery: sent %v attempts %d; want sent at %v after 3 attempts", got.SentAt, got.Attempts, e.clock.Now())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestDispatcherSendsManyAtOnce(t *testing.T) {
	e := newEnv(t)
	const n = 40 // more than one batch
	for i := range n {
		e.queue("k" + string(rune('A'+i)))
	}
	e.sendDue()
	e.smtp.WaitFor(t, n, 10*time.Second)
	for _, m := range e.mails() {
		if m.SentAt == nil {
			t.Errorf("mail %s unsent", m.Key)
		}
	}
}

func TestDispatcherWithOutboxKeepsMail(t *testing.T) {
	e := newEnv(t)
	m := e.queue("k1")
	d := notify.NewDispatcher(e.db, &mail.Outbox{}, false, e.clock.Now, nil)
	if err := d.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := e.mail(m.ID)
	if got.SentAt == nil || got.Text != "t" || got.HTML != "<p>h</p>" {
		t.Errorf("outbox mail = %+v, want kept with its body and marked sent", got)
	}
	if n := len(e.smtp.Messages()); n != 0 {
		t.Errorf("smtp got %d messages, want 0", n)
	}
}

// After SMTP delivery the stored copy keeps no approval token; the recipient's
// copy has it. Mail kept in the outbox keeps its links (it is the delivery).
func TestDispatcherRemovesLinksAfterDelivery(t *testing.T) {
	e := newEnv(t)
	raw, _ := greenlight.NewToken()
	link := "http://127.0.0.1:8080/approvals/" + raw + "?decision=approve"
	now := e.clock.Now()
	m := &greenlight.Mail{Key: "approval:1:pm", To: []string{"pm@example.com"}, Subject: "Approve?",
		Text: "Approve: " + link + "\n", HTML: `<a href="` + link + `">Approve</a>`, CreatedAt: now, NextAttempt: now}
	if ok, err := e.db.EnqueueMail(t.Context(), m); err != nil || !ok {
		t.Fatalf("EnqueueMail = %v, %v", ok, err)
	}
	kept := &greenlight.Mail{Key: "approval:1:cto", To: []string{"cto@example.com"}, Subject: "Approve?",
		Text: "Approve: " + link + "\n", CreatedAt: now, NextAttempt: now}
	if ok, err := e.db.EnqueueMail(t.Context(), kept); err != nil || !ok {
		t.Fatalf("EnqueueMail = %v, %v", ok, err)
	}
	if err := notify.NewDispatcher(e.db, &mail.Outbox{}, false, e.clock.Now, nil).SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.mail(kept.ID); !strings.Contains(got.Text, raw) {
		t.Errorf("outbox mail lost its link: %q", got.Text)
	}

	// The same kind of mail through SMTP.
	m2 := *m
	m2.ID, m2.Key = 0, "approval:2:pm"
	if ok, err := e.db.EnqueueMail(t.Context(), &m2); err != nil || !ok {
		t.Fatalf("EnqueueMail = %v, %v", ok, err)
	}
	e.sendDue()
	msgs := e.smtp.WaitFor(t, 1, 10*time.Second)
	p, err := msgs[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Text, raw) {
		t.Fatalf("the delivered mail lacks its link:\n%s", p.Text)
	}
	got := e.mail(m2.ID)
	if got.SentAt == nil || strings.Contains(got.Text, raw) || strings.Contains(got.HTML, raw) ||
		!strings.Contains(got.Text, "link removed after delivery") {
		t.Errorf("stored copy after delivery still holds the token or lost its text: %+v", got)
	}
}

// TestDispatcherGivesUpOnPermanentRefusal: a 550 for the recipient is tried a
// bounded number of times, then the mail is given up on with its error on
// the outbox row; a 451 keeps being retried with the backoff.
func TestDispatcherGivesUpOnPermanentRefusal(t *testing.T) {
	e := newEnv(t)
	e.smtp.Refuse("pm@example.com", 550)
	m := e.queue("refused")
	for range 20 {
		e.clock.Add(11 * time.Minute)
		e.sendDue()
	}
	got := e.mail(m.ID)
	if n := e.smtp.Refused("pm@example.com"); n != 3 || got.Attempts != 3 {
		t.Errorf("a 550 was tried %d times (attempts %d), want 3", n, got.Attempts)
	}
	if got.SentAt != nil || !strings.Contains(got.LastError, "550") || !strings.Contains(got.LastError, "gave up") {
		t.Errorf("after a permanent refusal: sent %v, last error %q; want unsent, the 550, gave up", got.SentAt, got.LastError)
	}
	if !got.NextAttempt.After(e.clock.Now().Add(24 * 365 * time.Hour)) {
		t.Errorf("next attempt of a mail given up on = %v, want never", got.NextAttempt)
	}

	e.smtp.Refuse("pm@example.com", 451)
	m = e.queue("deferred")
	for range 20 {
		e.clock.Add(11 * time.Minute)
		e.sendDue()
	}
	got = e.mail(m.ID)
	if n := e.smtp.Refused("pm@example.com") - 3; n != 20 || got.Attempts != 20 || !strings.Contains(got.LastError, "451") {
		t.Errorf("a 451 was tried %d times (attempts %d, error %q), want 20: transient refusals are retried", n, got.Attempts, got.LastError)
	}
	if wait := got.NextAttempt.Sub(e.clock.Now()); wait <= 0 || wait > 10*time.Minute {
		t.Errorf("next attempt after a 451 in %v, want within the backoff's cap", wait)
	}
	e.smtp.Refuse("pm@example.com", 0)
	e.clock.Add(11 * time.Minute)
	e.sendDue()
	if got := e.mail(m.ID); got.SentAt == nil {
		t.Errorf("the deferred mail was not delivered once accepted: %q", got.LastError)
	}
}
