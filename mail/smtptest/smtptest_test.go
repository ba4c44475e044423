package smtptest_test

import (
	"net"
	"net/smtp"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight/mail/smtptest"
)

func TestParseNestedMultipart(t *testing.T) {
	raw, err := os.ReadFile("testdata/nested.eml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := smtptest.Parse(raw)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if want := "Café <b> ok"; p.Subject != want {
		t.Errorf("Subject = %q, want %q", p.Subject, want)
	}
	if want := "Café: https://example.com/a?x=1&y=2&z=3\nbye"; p.Text != want {
		t.Errorf("Text = %q, want %q", p.Text, want)
	}
	if want := "<p>Café &lt;script&gt;</p>"; p.HTML != want {
		t.Errorf("HTML = %q, want %q", p.HTML, want)
	}
	if got, want := p.Links(), []string{"https://example.com/a?x=1&y=2&z=3"}; !slices.Equal(got, want) {
		t.Errorf("Links = %q, want %q", got, want)
	}
	if n := smtptest.HeaderCount(raw, "subject"); n != 1 {
		t.Errorf("HeaderCount(Subject) = %d, want 1", n)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, raw := range []string{"", "no header block", "Content-Type: multipart/mixed; boundary=\"x\r\n\r\n--x"} {
		if _, err := smtptest.Parse([]byte(raw)); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", raw)
		}
	}
}

func TestServerReceivesAndGoesDown(t *testing.T) {
	srv := smtptest.Start(t)
	send := func() error {
		return smtp.SendMail(srv.Addr(), nil, "a@example.com", []string{"b@example.com", "c@example.com"},
			[]byte("Subject: hi\r\n\r\nbody\r\n"))
	}
	if err := send(); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	msgs := srv.WaitFor(t, 1, 5*time.Second)
	if msgs[0].From != "a@example.com" || !slices.Equal(msgs[0].To, []string{"b@example.com", "c@example.com"}) {
		t.Errorf("envelope = %q → %q", msgs[0].From, msgs[0].To)
	}

	srv.SetDown(true)
	if c, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("dial during outage succeeded, want connection refused")
	}
	if err := send(); err == nil {
		t.Error("SendMail during outage succeeded")
	}
	srv.SetDown(false)
	if err := send(); err != nil {
		t.Fatalf("SendMail after outage: %v", err)
	}
	if n := len(srv.WaitFor(t, 2, 5*time.Second)); n != 2 {
		t.Errorf("messages = %d, want 2", n)
	}
}
