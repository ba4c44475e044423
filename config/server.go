package config

import (
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
)

// Server defaults (SPEC §3).
const (
	DefaultListen  = "127.0.0.1:8080"
	DefaultDataDir = "./greenlight-data"
	DefaultFrom    = "Greenlight <greenlight@localhost>"
)

// Parse decodes and validates a server file. file names it in errors and
// anchors relative paths; getenv looks up ${NAME} (nil: none are set). On any
// problem it returns nil and Errors listing them all.
func Parse(file string, data []byte, getenv func(string) (string, bool)) (*Server, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	d := newDecoder(file, data, getenv)
	d.base = baseDir(file)
	s := &Server{File: file}
	if body := d.document(data); body != nil {
		d.server(body, s)
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	return s, nil
}

// baseDir is the absolute directory relative paths in file are resolved in.
func baseDir(file string) string {
	dir := filepath.Dir(file)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// resolvePath makes p absolute against the config file's directory, so the
// server behaves the same whatever directory it is started from.
func (d *decoder) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.base, p)
}

// MinAdminToken is the shortest admin token the configuration accepts: the
// token is the bootstrap admin's password, checked over the network, so it
// must be long enough that guessing it is hopeless. A generated one has 43.
const MinAdminToken = 32

func (d *decoder) server(body ast.Node, s *Server) {
	top, ok := d.object(body, "", "server", "database", "mail", "retention", "groups", "pipelines", "notifications")
	if !ok {
		return
	}

	srv := top.child("server", "listen", "public_url", "data_dir", "admin_token", "build_user")
	s.Listen = srv.str("listen", DefaultListen)
	if host, port, err := net.SplitHostPort(s.Listen); err != nil || !validPort(port) {
		if srv.valid("listen") {
			d.errorf(srv.at("listen"), "server.listen: %q is not a host:port address", s.Listen)
		}
	} else {
		s.PublicURL = "http://" + net.JoinHostPort(publicHost(host), port)
	}
	if srv.has("public_url") {
		s.PublicURL = srv.str("public_url", "")
		if !srv.valid("public_url") {
			// already reported
		} else if p := httpURLProblem(s.PublicURL); p != "" {
			d.errorf(srv.at("public_url"), "server.public_url: invalid URL %q: %s", s.PublicURL, p)
		} else if u, _ := url.Parse(s.PublicURL); u.RawQuery != "" || u.Fragment != "" {
			d.errorf(srv.at("public_url"), "server.public_url: %q must not have a query or fragment", s.PublicURL)
		}
		s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	}
	s.DataDir = srv.str("data_dir", DefaultDataDir)
	if s.DataDir == "" && srv.valid("data_dir") {
		d.errorf(srv.at("data_dir"), "server.data_dir: must not be empty")
	}
	s.DataDir = d.resolvePath(s.DataDir)
	s.AdminToken = srv.str("admin_token", "")
	if n := utf8.RuneCountInString(s.AdminToken); srv.has("admin_token") && srv.valid("admin_token") && n < MinAdminToken {
		// The token itself is a secret: say its length, never its value.
		d.errorf(srv.at("admin_token"), "server.admin_token: too short (%d characters, at least %d needed); write at least %d "+
			"random characters, e.g. the output of `openssl rand -base64 32`, or omit the key to have one generated",
			n, MinAdminToken, MinAdminToken)
	}
	s.BuildUser = srv.str("build_user", "")
	if srv.valid("build_user") && srv.has("build_user") && (s.BuildUser == "" || s.BuildUser == "root" || s.BuildUser == "0") {
		d.errorf(srv.at("build_user"), "server.build_user: %q: name an unprivileged user (or leave the key out: each pipeline's builds then get a uid of their own)", s.BuildUser)
	}

	s.Database = top.str("database", "")
	if s.Database != "" && top.valid("database") {
		u, err := url.Parse(s.Database)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			d.errorf(top.at("database"), "database: must be empty (SQLite) or a postgres:// URL")
		}
	}

	d.mail(top, &s.Mail)
	d.retention(top, &s.Retention)
	s.Groups = d.approverGroups(top)

	for i, n := range top.sequence("pipelines") {
		if p := d.pipeline(n, index("pipelines", i)); p != nil {
			s.Pipelines = append(s.Pipelines, p)
		}
	}
	for i, n := range top.sequence("notifications") {
		if nt := d.notification(n, index("notifications", i), s); nt != nil {
			s.Notifications = append(s.Notifications, nt)
		}
	}
}

// publicHost is the host for the default public URL: a wildcard listen
// address is not something a browser can open.
func publicHost(host string) string {
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return "localhost"
	}
	return host
}

func (d *decoder) mail(top *object, m *Mail) {
	o := top.child("mail", "smtp", "from")
	m.SMTP = o.str("smtp", "")
	if m.SMTP != "" && o.valid("smtp") {
		u, err := url.Parse(m.SMTP)
		switch {
		case err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps"):
			d.errorf(o.at("smtp"), "mail.smtp: must be an smtp:// or smtps:// URL")
		case u.Hostname() == "":
			d.errorf(o.at("smtp"), "mail.smtp: has no host")
		case u.Port() != "" && !validPort(u.Port()):
			d.errorf(o.at("smtp"), "mail.smtp: invalid port %q", u.Port())
		}
		if !o.has("from") {
			d.errorf(o.keyAt("smtp"), "mail.from: required when mail.smtp is set")
		}
	}
	m.From = o.str("from", DefaultFrom)
	if _, err := mail.ParseAddress(m.From); err != nil && o.valid("from") {
		d.errorf(o.at("from"), "mail.from: invalid address %q", m.From)
	}
}
