package mail

import (
	"context"
	"log/slog"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Outbox is the Sender used when no SMTP server is configured: the mail stays
// in the store (the API's /api/v1/outbox), and its subject, recipients and
// links go to the log, so that someone running Greenlight without mail can
// still follow an approval link.
type Outbox struct {
	Log *slog.Logger // nil: nothing is logged
}

// Send logs m's subject, recipients and every http(s) link of its text.
func (o *Outbox) Send(ctx context.Context, m *greenlight.Mail) error {
	if o.Log == nil {
		return nil
	}
	o.Log.InfoContext(ctx, "mail kept in the outbox",
		"subject", m.Subject, "to", m.To, "links", Links(m.Text))
	return nil
}

// Links returns every http:// or https:// link in text, in order. A link ends
// at white space, a quote or an angle bracket, and trailing sentence
// punctuation is not part of it.
func Links(text string) []string {
	var out []string
	for s := text; ; {
		i := strings.Index(s, "http")
		if i < 0 {
			return out
		}
		s = s[i:]
		if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
			s = s[4:]
			continue
		}
		end := strings.IndexAny(s, " \t\r\n<>\"'")
		if end < 0 {
			end = len(s)
		}
		link := strings.TrimRight(s[:end], ".,;:!?)")
		if link != "http://" && link != "https://" {
			out = append(out, link)
		}
		s = s[end:]
	}
}
