// Package smtptest runs a real SMTP server in the test process, on a loopback
// port, and keeps what it receives so that tests can read the mail (and follow
// its links) the way a recipient would. It can simulate an outage, offer
// STARTTLS or implicit TLS with a certificate it makes, and require AUTH.
package smtptest

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one mail as the server received it: the envelope and the raw
// RFC 5322 data.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Options change how the server behaves; the zero value is a plain SMTP
// server without TLS or AUTH.
type Options struct {
	STARTTLS    bool   // offer STARTTLS with a self-signed certificate for 127.0.0.1
	ImplicitTLS bool   // speak TLS from the first byte (smtps)
	Username    string // when set, AUTH PLAIN with Username/Password is required
	Password    string
}

// Server is an in-process SMTP server. Its methods are safe for concurrent use.
type Server struct {
	opts   Options
	addr   string
	cert   tls.Certificate
	client *tls.Config

	mu      sync.Mutex // guards msgs, changed, down, refuse, refused
	msgs    []Message
	changed chan struct{} // closed and replaced whenever msgs grows
	down    bool
	refuse  map[string]int // recipient → the reply code RCPT TO gets
	refused map[string]int // recipient → how many times RCPT TO was refused

	life     sync.Mutex // guards srv and serveErr: start, stop, outage
	srv      *smtp.Server
	ln       net.Listener
	serveErr chan error
}

// Start starts a plain SMTP server on 127.0.0.1:0, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith starts a server with opts, stopped when the test ends.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, changed: make(chan struct{})}
	if opts.STARTTLS || opts.ImplicitTLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.cert = cert
		s.client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.life.Lock()
	s.serveLocked(l)
	s.life.Unlock()
	t.Cleanup(s.stop)
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// ClientTLS returns a TLS configuration that trusts the server's certificate,
// or nil when the server does not speak TLS.
func (s *Server) ClientTLS() *tls.Config {
	if s.client == nil {
		return nil
	}
	return s.client.Clone()
}

// Messages returns a copy of every message received so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// WaitFor waits until at least n messages have arrived and returns them all;
// the test fails if they have not within timeout.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("smtptest: got %d messages after %v, want %d", got, timeout, n)
			return nil
		}
	}
}

// SetDown simulates an outage: while down, the server closes its listener
// (connections are refused) and answers 421 to any session still open. Up
// again, it listens on the same port.
func (s *Server) SetDown(down bool) {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	was := s.down
	s.down = down
	s.mu.Unlock()
	if was == down {
		return
	}
	if down {
		s.stopLocked()
		return
	}
	// The kernel may hold the port briefly after a close; retry for a while
	// rather than fail a test on an unlucky moment.
	var l net.Listener
	var err error
	for range 100 {
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		// Test infrastructure only, and SetDown has no test to fail.
		panic("smtptest: cannot listen again on " + s.addr + ": " + err.Error())
	}
	s.serveLocked(l)
}

// serveLocked starts serving l; the caller holds s.life.
func (s *Server) serveLocked(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.Domain = "smtptest.local"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = discardLogger{}
	if s.opts.STARTTLS || s.opts.ImplicitTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{s.cert}, MinVersion: tls.VersionTLS12}
	}
	if s.opts.ImplicitTLS {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	s.srv, s.ln, s.serveErr = srv, l, errc
}

// stopLocked closes the listener and every connection; the caller holds s.life.
func (s *Server) stopLocked() {
	if s.srv == nil {
		return
	}
	// Close the listener ourselves too: srv.Close misses it when Serve has
	// not registered it yet, and Serve would then accept forever.
	s.srv.Close()
	s.ln.Close()
	<-s.serveErr
	s.srv, s.ln, s.serveErr = nil, nil, nil
}

func (s *Server) stop() {
	s.life.Lock()
	defer s.life.Unlock()
	s.stopLocked()
}

func (s *Server) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *Server) store(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

// errDown is what a session hears during an outage: a temporary failure.
func errDown() error {
	return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "smtptest: service not available"}
}

// Refuse makes the server answer RCPT TO rcpt with code (a 4xx or 5xx
// reply, e.g. 550 for an unknown mailbox or 451 for a local error); 0 accepts
// rcpt again.
func (s *Server) Refuse(rcpt string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse == nil {
		s.refuse, s.refused = map[string]int{}, map[string]int{}
	}
	if code == 0 {
		delete(s.refuse, rcpt)
		return
	}
	s.refuse[rcpt] = code
}

// Refused returns how many times RCPT TO rcpt was refused.
func (s *Server) Refused(rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[rcpt]
}

// refusal is the reply RCPT TO rcpt gets, nil to accept it, and counts it.
func (s *Server) refusal(rcpt string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	code, ok := s.refuse[rcpt]
	if !ok {
		return nil
	}
	s.refused[rcpt]++
	enhanced := smtp.EnhancedCode{5, 1, 1} // bad destination mailbox
	if code < 500 {
		enhanced = smtp.EnhancedCode{4, 3, 0} // other mail system problem
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: "smtptest: recipient refused"}
}

// session is one SMTP transaction's state.
type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opts.Username || pass != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.isDown() {
		return errDown()
	}
	if ss.s.opts.Username != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.isDown() {
		return errDown()
	}
	if err := ss.s.refusal(to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.isDown() {
		return errDown()
	}
	ss.s.store(Message{From: ss.from, To: append([]string(nil), ss.to...), Data: b})
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
