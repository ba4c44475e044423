package mail_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail"
	"github.com/greenlight-cd/greenlight/mail/smtptest"
)

func newSMTP(t testing.TB, rawURL string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(rawURL, "Greenlight <greenlight@example.com>", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewSMTP(%q): %v", rawURL, err)
	}
	return s
}

func testMail() *greenlight.Mail {
	return &greenlight.Mail{
		ID:      1,
		To:      []string{"pm@example.com", "cto@example.com"},
		Subject: "Approve hello #12: Add <b>bold</b> café?",
		Text:    "Approve: http://127.0.0.1:8080/approvals/abc?decision=approve\n",
		HTML:    `<p><a href="http://127.0.0.1:8080/approvals/abc?decision=approve">Approve</a> café</p>`,
	}
}

func TestSMTPSendsMultipartAlternative(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, "smtp://"+srv.Addr())
	m := testMail()
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got.From != "greenlight@example.com" {
		t.Errorf("envelope from = %q, want greenlight@example.com", got.From)
	}
	if strings.Join(got.To, ",") != "pm@example.com,cto@example.com" {
		t.Errorf("envelope to = %q", got.To)
	}
	p, err := got.Parse()
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.Subject != m.Subject {
		t.Errorf("subject = %q, want %q", p.Subject, m.Subject)
	}
	if p.Text != m.Text {
		t.Errorf("text = %q, want %q", p.Text, m.Text)
	}
	if p.HTML != m.HTML {
		t.Errorf("html = %q, want %q", p.HTML, m.HTML)
	}
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	if from := p.Header.Get("From"); !strings.Contains(from, "Greenlight") || !strings.Contains(from, "<greenlight@example.com>") {
		t.Errorf("From = %q", from)
	}
	if p.Header.Get("Message-Id") == "" || p.Header.Get("Date") == "" {
		t.Errorf("missing Message-ID or Date: %v", p.Header)
	}
	if link := p.Link("decision=approve"); link != "http://127.0.0.1:8080/approvals/abc?decision=approve" {
		t.Errorf("link = %q", link)
	}
}

func TestSMTPSubjectCannotAddHeaders(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, "smtp://"+srv.Addr())
	m := testMail()
	m.Subject = "Fix\r\nBcc: victim@example.com\r\nX-Evil: 1\nDone"
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	for _, h := range []string{"Subject", "Bcc", "X-Evil"} {
		want := 0
		if h == "Subject" {
			want = 1
		}
		if n := smtptest.HeaderCount(got.Data, h); n != want {
			t.Errorf("%s headers = %d, want %d\n%s", h, n, want, got.Data)
		}
	}
	if len(got.To) != 2 {
		t.Errorf("envelope to = %q, want only the two recipients", got.To)
	}
	p, err := got.Parse()
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if strings.ContainsAny(p.Subject, "\r\n") || !strings.Contains(p.Subject, "Bcc: victim") {
		t.Errorf("subject = %q, want one line keeping the text", p.Subject)
	}
}

func TestSMTPTLSAndAuth(t *testing.T) {
	tests := []struct {
		name    string
		opts    smtptest.Options
		url     string // %s: the server's address
		trust   bool
		wantErr bool
	}{
		{"starttls with auth", smtptest.Options{STARTTLS: true, Username: "u", Password: "p@ss"}, "smtp://u:p%%40ss@%s", true, false},
		{"implicit tls with auth", smtptest.Options{ImplicitTLS: true, Username: "u", Password: "p"}, "smtps://u:p@%s", true, false},
		{"wrong password", smtptest.Options{STARTTLS: true, Username: "u", Password: "p"}, "smtp://u:nope@%s", true, true},
		// Offered STARTTLS with a certificate we do not trust: fail, never fall back to clear text.
		{"untrusted certificate", smtptest.Options{STARTTLS: true}, "smtp://%s", false, true},
		// No TLS on offer: the password must not travel in clear text.
		{"no tls no plain auth", smtptest.Options{Username: "u", Password: "p"}, "smtp://u:p@%s", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.StartWith(t, tt.opts)
			s := newSMTP(t, fmt.Sprintf(tt.url, srv.Addr()))
			if tt.trust {
				s.TLS = srv.ClientTLS()
			}
			err := s.Send(t.Context(), testMail())
			if tt.wantErr {
				if err == nil {
					t.Fatal("Send succeeded, want an error")
				}
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("server got %d messages, want 0", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			srv.WaitFor(t, 1, 5*time.Second)
		})
	}
}

func TestSMTPOutageThenRecovery(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, "smtp://"+srv.Addr())
	srv.SetDown(true)
	if err := s.Send(t.Context(), testMail()); err == nil {
		t.Fatal("Send during outage succeeded, want an error")
	}
	srv.SetDown(false)
	if err := s.Send(t.Context(), testMail()); err != nil {
		t.Fatalf("Send after outage: %v", err)
	}
	if n := len(srv.WaitFor(t, 1, 5*time.Second)); n != 1 {
		t.Errorf("messages = %d, want 1", n)
	}
}

func TestSMTPConcurrentSends(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, "smtp://"+srv.Addr())
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			m := testMail()
			m.Subject = fmt.Sprintf("mail %d", i)
			errs <- s.Send(t.Context(), m)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	seen := map[string]bool{}
	for _, m := range srv.WaitFor(t, n, 10*time.Second) {
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		seen[p.Subject] = true
	}
	if len(seen) != n {
		t.Errorf("distinct subjects = %d, want %d", len(seen), n)
	}
}

func TestSMTPContextCancelled(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, "smtp://"+srv.Addr())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Send(ctx, testMail())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestSMTPRefusesMailWithoutRecipients(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, "smtp://"+srv.Addr())
	m := testMail()
	m.To = nil
	if err := s.Send(t.Context(), m); greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Errorf("Send without recipients = %v, want EINVALID", err)
	}
	m.To = []string{"not an address"}
	if err := s.Send(t.Context(), m); greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Errorf("Send to a bad address = %v, want EINVALID", err)
	}
}

func TestNewSMTP(t *testing.T) {
	tests := []struct {
		url, from string
		wantAddr  string // "" means an error is expected
	}{
		{"smtp://user:pass@mail.example.com:587", "Greenlight <g@example.com>", "mail.example.com:587"},
		{"smtp://mail.example.com", "g@example.com", "mail.example.com:587"},
		{"smtps://mail.example.com", "g@example.com", "mail.example.com:465"},
		{"smtp://127.0.0.1:2525", "g@example.com", "127.0.0.1:2525"},
		{"smtp://[::1]:25", "g@example.com", "[::1]:25"},
		{"http://mail.example.com", "g@example.com", ""},
		{"smtp://", "g@example.com", ""},
		{"smtp://mail.example.com:99999", "g@example.com", ""},
		{"smtp://mail.example.com:x", "g@example.com", ""},
		{"smtp://mail.example.com/path", "g@example.com", ""},
		{"smtp://mail.example.com", "not an address", ""},
		{"smtp://mail.example.com", "", ""},
		{"::", "g@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url+" "+tt.from, func(t *testing.T) {
			s, err := mail.NewSMTP(tt.url, tt.from, nil)
			if tt.wantAddr == "" {
				if greenlight.ErrorCode(err) != greenlight.EINVALID {
					t.Fatalf("NewSMTP = %v, want an EINVALID error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSMTP: %v", err)
			}
			if got := s.Addr(); got != tt.wantAddr {
				t.Errorf("Addr = %q, want %q", got, tt.wantAddr)
			}
		})
	}
}

func TestNewSMTPErrorHidesPassword(t *testing.T) {
	_, err := mail.NewSMTP("smtp://u:s3cret@host:bad%zz", "g@example.com", nil)
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q leaks the password", err)
	}
}

// A mail sent twice (after a crash between sending and recording it) keeps
// its Message-ID, so mail programs show it once; other mails get their own.
func TestSMTPMessageIDStable(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTP(t, "smtp://"+srv.Addr())
	m := testMail()
	m.ID, m.CreatedAt = 7, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	other := testMail()
	other.ID, other.CreatedAt = 8, m.CreatedAt
	for _, x := range []*greenlight.Mail{m, m, other} {
		if err := s.Send(t.Context(), x); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, got := range srv.WaitFor(t, 3, 5*time.Second) {
		p, err := got.Parse()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Header.Get("Message-Id"))
	}
	if ids[0] == "" || ids[0] != ids[1] || ids[0] == ids[2] || !strings.HasSuffix(ids[0], "@example.com>") {
		t.Errorf("Message-IDs = %q: want the same for one mail, another for another, at the sender's domain", ids)
	}
}

// TestPermanent: which SMTP replies are permanent refusals, sent through the
// real client to the in-process server.
func TestPermanent(t *testing.T) {
	srv := smtptest.Start(t)
	s, err := mail.NewSMTP("smtp://"+srv.Addr(), "greenlight@example.com", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{550: true, 553: true, 554: true, 552: false, 451: false, 450: false, 421: false} {
		rcpt := fmt.Sprintf("r%d@example.com", code)
		srv.Refuse(rcpt, code)
		err := s.Send(t.Context(), &greenlight.Mail{To: []string{rcpt}, Subject: "s", Text: "t", HTML: "<p>h</p>"})
		if err == nil {
			t.Fatalf("%d: sent", code)
		}
		if got := mail.Permanent(err); got != want {
			t.Errorf("Permanent(%d reply: %v) = %v, want %v", code, err, got, want)
		}
	}
	srv.SetDown(true)
	if err := s.Send(t.Context(), &greenlight.Mail{To: []string{"a@example.com"}, Subject: "s", Text: "t"}); err == nil || mail.Permanent(err) {
		t.Errorf("server down: %v, Permanent %v; want a transient error", err, mail.Permanent(err))
	}
}
