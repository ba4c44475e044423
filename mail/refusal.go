package mail

import (
	"errors"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// Permanent reports whether err is an SMTP server's permanent refusal of a
// mail (a 5xx reply to MAIL FROM, RCPT TO or DATA): sending it again will be
// refused again. Everything else is transient: 4xx replies, connection and
// TLS errors, timeouts, and the 5xx replies that are transient by convention:
// 552 (RFC 5321 §4.5.3.1.10: "too many recipients" or a full mailbox, to be
// treated as 452) and any reply whose enhanced status code is 4.x.x.
func Permanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	code := se.ErrorCode()
	if code < 500 || code > 599 || code == 552 {
		return false
	}
	return !strings.HasPrefix(se.EnhancedStatusCode(), "4.")
}
