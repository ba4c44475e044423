package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/greenlight-cd/greenlight"
)

// SMTP sends mail through an SMTP server with github.com/wneessen/go-mail,
// one connection per mail: Greenlight sends a handful of messages an hour, and
// a fresh connection never fails on a server that dropped an idle one.
type SMTP struct {
	// TLS overrides the TLS client configuration (nil: the system's roots and
	// the URL's host as server name). Set it before the first Send; tests use
	// it to trust their own server.
	TLS *tls.Config
	// Timeout bounds one Send: connect, TLS, AUTH and the data (default 30s).
	Timeout time.Duration

	host     string
	port     int
	implicit bool // smtps: TLS from the first byte
	user     string
	pass     string
	from     string
	log      *slog.Logger
}

// NewSMTP parses rawURL and from. smtp://[user:pass@]host[:port] (default
// port 587) upgrades with STARTTLS whenever the server offers it and sends in
// clear text otherwise; smtps://[user:pass@]host[:port] (default 465) speaks
// TLS from the start. Credentials are only sent over an encrypted connection
// unless the server offers a challenge-response mechanism.
func NewSMTP(rawURL, from string, log *slog.Logger) (*SMTP, error) {
	if log == nil {
		log = slog.Default()
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's message would echo the password.
		return nil, greenlight.Errorf(greenlight.EINVALID, "mail.smtp: not a URL")
	}
	s := &SMTP{host: u.Hostname(), log: log, Timeout: 30 * time.Second}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, greenlight.Errorf(greenlight.EINVALID, "mail.smtp: scheme %q: want smtp:// or smtps://", u.Scheme)
	}
	if s.host == "" {
		return nil, greenlight.Errorf(greenlight.EINVALID, "mail.smtp: no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, greenlight.Errorf(greenlight.EINVALID, "mail.smtp: bad port %q", p)
		}
		s.port = n
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, greenlight.Errorf(greenlight.EINVALID, "mail.smtp: unexpected path or query; want smtp://user:pass@host:port")
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, greenlight.Errorf(greenlight.EINVALID, "mail.from: %q is not an address: %v", from, err)
	}
	s.from = addr.String()
	return s, nil
}

// Addr returns host:port, for logs and error messages (never the password).
func (s *SMTP) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Send delivers m as a multipart/alternative message (text and HTML).
func (s *SMTP) Send(ctx context.Context, m *greenlight.Mail) error {
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c, err := gomail.NewClient(s.host, s.options(timeout)...)
	if err != nil {
		return fmt.Errorf("smtp %s: client: %w", s.Addr(), err)
	}
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("smtp %s: connect: %w", s.Addr(), err)
	}
	// go-mail bounds the exchange by its timeout only; closing the connection
	// when ctx ends makes a shutdown or a caller's deadline stop it too.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := c.SendWithSMTPClient(conn, msg); err != nil {
		c.CloseWithSMTPClient(conn)
		if ctx.Err() != nil {
			return fmt.Errorf("smtp %s: send: %w (%w)", s.Addr(), ctx.Err(), err)
		}
		return fmt.Errorf("smtp %s: send: %w", s.Addr(), err)
	}
	if err := c.CloseWithSMTPClient(conn); err != nil {
		// The server accepted the data; a failed QUIT does not unsend it.
		s.log.DebugContext(ctx, "smtp quit failed", "addr", s.Addr(), "err", err)
	}
	return nil
}

func (s *SMTP) options(timeout time.Duration) []gomail.Option {
	tlsConf := s.TLS
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tlsConf),
	}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	return opts
}

// message builds the MIME message; go-mail writes and encodes every header.
func (s *SMTP) message(m *greenlight.Mail) (*gomail.Msg, error) {
	if len(m.To) == 0 {
		return nil, greenlight.Errorf(greenlight.EINVALID, "mail %d: no recipients", m.ID)
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("mail %d: from: %w", m.ID, err)
	}
	if err := msg.To(m.To...); err != nil {
		return nil, greenlight.Errorf(greenlight.EINVALID, "mail %d: recipients %q: %v", m.ID, m.To, err)
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetDate()
	msg.SetMessageIDWithValue(messageID(m, s.from))
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// messageID is the same for every send of one mail: a mail sent again after
// a crash between the SMTP transaction and recording it carries the same
// Message-ID, so mail programs show it once.
func messageID(m *greenlight.Mail, from string) string {
	domain := "greenlight.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			domain = a.Address[i+1:]
		}
	}
	return fmt.Sprintf("greenlight-mail-%d-%d@%s", m.ID, m.CreatedAt.UnixNano(), domain)
}

// oneLine replaces control characters with spaces: a subject is one line, and
// a CR or LF in it must never start a header of its own.
func oneLine(s string) string {
	b := []rune(s)
	for i, r := range b {
		if r < 0x20 || r == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}
