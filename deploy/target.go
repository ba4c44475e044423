package deploy

import (
	"path"
	"strconv"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Target is one place a release goes: a directory on the server's machine
// (Local) or on a host reached over SSH. Env is given to its hooks and fills
// {env.NAME} in the health URL.
type Target struct {
	Local string
	SSH   *SSHTarget
	Group string // blue-green group; "" otherwise
	Env   map[string]string
	// User, on a local target, is the account its hooks (and the app they
	// start) run as: a user name or a numeric uid. "" runs them confined,
	// as an unprivileged uid of the environment's own when the server is
	// root (hookuser.go).
	User string
}

// SSHTarget is a directory on a host reached over SSH.
type SSHTarget struct {
	User       string
	Host       string
	Port       int    // default 22
	Dir        string // absolute path on the host: releases/ and current live there
	Key        string // private key file; "" = the SSH agent (SSH_AUTH_SOCK)
	KnownHosts string // known_hosts file the host key must be in; required
}

// Name identifies the target in logs, outcomes and stored states.
func (t Target) Name() string {
	if t.SSH != nil {
		return t.SSH.User + "@" + t.SSH.Host + ":" + strconv.Itoa(t.SSH.Port) + ":" + t.SSH.Dir
	}
	return t.Local
}

// checked returns t with defaults filled, or an EINVALID error.
func (t Target) checked() (Target, error) {
	if t.SSH != nil {
		if t.Local != "" {
			return t, greenlight.Errorf(greenlight.EINVALID, "deploy: target %s is both local and ssh", t.Local)
		}
		if t.User != "" {
			return t, greenlight.Errorf(greenlight.EINVALID, "deploy: ssh target %s@%s: user is for local targets (an ssh target's hooks run as its login user)", t.SSH.User, t.SSH.Host)
		}
		s := *t.SSH
		if s.Port == 0 {
			s.Port = 22
		}
		if err := s.check(); err != nil {
			return t, err
		}
		s.Dir = path.Clean(s.Dir)
		t.SSH = &s
		return t, nil
	}
	dir, err := localDir(t.Local)
	if err != nil {
		return t, err
	}
	t.Local = dir
	return t, nil
}

// check refuses an SSH target that cannot be reached safely. The host and
// user end up in an address and a login name, not in a shell command, but
// are still kept plain so that logs and errors cannot be confused.
func (s *SSHTarget) check() error {
	bad := func(format string, args ...any) error {
		return greenlight.Errorf(greenlight.EINVALID, "deploy: ssh target %s@%s: "+format, append([]any{s.User, s.Host}, args...)...)
	}
	switch {
	case s.User == "" || strings.ContainsAny(s.User, "@: \t\n/"):
		return bad("invalid user %q", s.User)
	case s.Host == "" || strings.ContainsAny(s.Host, "@ \t\n/[]"):
		return bad("invalid host %q", s.Host)
	case s.Port < 1 || s.Port > 65535:
		return bad("port %d is not in 1..65535", s.Port)
	case !path.IsAbs(s.Dir) || path.Clean(s.Dir) == "/":
		return bad("dir %q must be an absolute path below /", s.Dir)
	case strings.ContainsAny(s.Dir, "\x00\n"):
		return bad("dir %q holds a NUL or newline", s.Dir)
	case s.KnownHosts == "":
		return bad("no known_hosts file: the host's key must be known before connecting")
	}
	return nil
}

// hostFor returns the host that carries out deploys of pipeline to
// environment on t, over conns for an SSH target. Nothing is dialled yet:
// the first step on the host does it.
func (d *Deployer) hostFor(t Target, pipeline, environment string, conns *connPool) (host, error) {
	if t.SSH != nil {
		return &sshHost{t: t.SSH, name: t.Name(), pool: conns}, nil
	}
	u, err := d.hookUserFor(t, pipeline, environment)
	if err != nil {
		return nil, err
	}
	return &localHost{dir: t.Local, base: d.base, unpack: d.unpack, user: u, d: d}, nil
}
