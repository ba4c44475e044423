package mail_test

import (
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight/mail/smtptest"
)

// BenchmarkSMTPSend measures one mail over a fresh connection to a loopback
// SMTP server: connect, EHLO, MAIL, RCPT×2, DATA, QUIT.
func BenchmarkSMTPSend(b *testing.B) {
	srv := smtptest.Start(b)
	s := newSMTP(b, "smtp://"+srv.Addr())
	m := testMail()
	for b.Loop() {
		if err := s.Send(b.Context(), m); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	srv.WaitFor(b, 1, 5*time.Second)
}
