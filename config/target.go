package config

import (
	"net"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// sshDefaults are an environment's `ssh:` settings, the defaults of its ssh
// targets.
type sshDefaults struct {
	Key, KnownHosts string
}

// sshDefaults reads an environment's `ssh:` key: `{key, known_hosts}`, both
// paths on the server's machine, relative ones resolved against the config
// file. key absent means the SSH agent.
func (d *decoder) sshDefaults(env *object, _ string) sshDefaults {
	// child names the problems env.path + ".ssh" itself.
	o := env.child("ssh", "key", "known_hosts")
	return sshDefaults{
		Key:        d.sshFile(o, "key"),
		KnownHosts: d.sshFile(o, "known_hosts"),
	}
}

// sshFile reads a key or known_hosts path of o, "" when absent.
func (d *decoder) sshFile(o *object, key string) string {
	p := o.str(key, "")
	if !o.has(key) || !o.valid(key) {
		return ""
	}
	if p == "" {
		d.errorf(o.at(key), "%s: must not be empty (leave %s out to use the default)", join(o.path, key), key)
		return ""
	}
	return d.resolvePath(p)
}

func (d *decoder) target(n ast.Node, path string, defaults sshDefaults) (Target, bool) {
	o, ok := d.object(n, path, "local", "env", "ssh", "dir", "key", "known_hosts", "user")
	if !ok {
		return Target{}, false
	}
	var t Target
	switch {
	case o.has("ssh") && o.has("local"):
		d.errorf(o.keyAt("local"), "%s.local: a target is either local or ssh, not both", path)
	case o.has("ssh"):
		t.SSH = d.sshTarget(o, path, defaults)
		if o.has("user") {
			d.errorf(o.keyAt("user"), "%s.user: only local targets take user (an ssh target's hooks run as the user it logs in as: ssh: USER@host)", path)
		}
	case o.has("dir"):
		d.errorf(o.keyAt("dir"), "%s.dir: only ssh targets take dir (a local target is its directory)", path)
	case o.has("key") || o.has("known_hosts"):
		key := "key"
		if !o.has("key") {
			key = "known_hosts"
		}
		d.errorf(o.keyAt(key), "%s.%s: only ssh targets take %s", path, key, key)
	case o.missing("local"):
		d.errorf(o.node, "%s.local: required: the directory that receives releases", path)
	default:
		t.Local = o.str("local", "")
		if !o.valid("local") {
			break
		}
		if t.Local == "" {
			d.errorf(o.at("local"), "%s.local: must not be empty", path)
			break
		}
		t.Local = d.resolvePath(t.Local)
		if !filepath.IsAbs(t.Local) {
			d.errorf(o.at("local"), "%s.local: %q is not an absolute path", path, t.Local)
		}
		if first, dup := d.firstSeen("local", t.Local, o.at("local")); dup {
			d.errorf(o.at("local"), "%s.local: %s is already a target (at %d:%d): two targets cannot share a directory", path, t.Local, first.line, first.col)
		}
	}
	if t.SSH == nil && o.has("user") {
		t.User = d.targetUser(o, path)
	}
	t.Env = o.env("env")
	return t, true
}

// targetUser reads a local target's `user:`, the account its hooks run as:
// a user name known to this machine, or a numeric uid.
func (d *decoder) targetUser(o *object, path string) string {
	name := o.str("user", "")
	if !o.valid("user") {
		return ""
	}
	if name == "" {
		d.errorf(o.at("user"), "%s.user: must not be empty (leave user out to run hooks confined, as a uid of their own)", path)
		return ""
	}
	uid := name
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		if n == 1<<32-1 {
			d.errorf(o.at("user"), "%s.user: %s is not a valid uid", path, name)
			return ""
		}
	} else if u, err := user.Lookup(name); err != nil {
		d.errorf(o.at("user"), "%s.user: unknown user %q on this machine (want a user name or a numeric uid)", path, name)
		return ""
	} else {
		uid = u.Uid
	}
	if uid == "0" {
		d.errorf(o.at("user"), "%s.user: %q is uid 0: hooks would run with root's rights, able to read the server's database and approve their own release; leave user out to run them confined", path, name)
		return ""
	}
	return name
}

// sshTarget reads `ssh: user@host[:port]`, `dir`, and the target's own
// `key` and `known_hosts`, which win over the environment's.
func (d *decoder) sshTarget(o *object, at string, defaults sshDefaults) *SSHTarget {
	s := &SSHTarget{Port: 22, Key: defaults.Key, KnownHosts: defaults.KnownHosts}
	if k := d.sshFile(o, "key"); k != "" {
		s.Key = k
	}
	if k := d.sshFile(o, "known_hosts"); k != "" {
		s.KnownHosts = k
	}
	addr := o.str("ssh", "")
	okAddr := false
	if o.valid("ssh") {
		var why string
		s.User, s.Host, s.Port, why = parseSSHAddr(addr)
		if why != "" {
			d.errorf(o.at("ssh"), "%s.ssh: invalid address %q: %s (want user@host or user@host:port)", at, addr, why)
		} else {
			okAddr = true
		}
	}
	okDir := false
	switch {
	case o.missing("dir"):
		d.errorf(o.keyAt("ssh"), "%s.dir: required for an ssh target: the directory on the host that receives releases", at)
	case !o.valid("dir"):
	default:
		s.Dir = o.str("dir", "")
		switch {
		case !o.valid("dir"):
		case !strings.HasPrefix(s.Dir, "/"):
			d.errorf(o.at("dir"), "%s.dir: %q is not an absolute path", at, s.Dir)
		case path.Clean(s.Dir) == "/":
			d.errorf(o.at("dir"), "%s.dir: must be a directory below /", at)
		case strings.ContainsAny(s.Dir, "\x00\n"):
			d.errorf(o.at("dir"), "%s.dir: must not hold a newline", at)
		default:
			s.Dir = path.Clean(s.Dir)
			okDir = true
		}
	}
	if s.KnownHosts == "" && o.valid("known_hosts") && o.valid("ssh") {
		d.errorf(o.keyAt("ssh"), "%s.known_hosts: required for an ssh target: set known_hosts here or in the environment's ssh: (make it with ssh-keyscan -p PORT HOST >> FILE)", at)
	}
	if okAddr && okDir {
		if first, dup := d.firstSeen("ssh", s.Name(), o.at("ssh")); dup {
			d.errorf(o.at("ssh"), "%s.ssh: %s is already a target (at %d:%d): two targets cannot share a directory", at, s.Name(), first.line, first.col)
		}
	}
	return s
}

var (
	sshUser     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	sshHostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

// parseSSHAddr splits user@host[:port]; an IPv6 host is written in
// brackets, [::1] or [::1]:2222. why is "" when addr is good.
func parseSSHAddr(addr string) (user, host string, port int, why string) {
	user, hostport, ok := strings.Cut(addr, "@")
	if !ok || user == "" {
		return "", "", 0, "no user"
	}
	if !sshUser.MatchString(user) {
		return "", "", 0, "invalid user " + strconv.Quote(user)
	}
	port = 22
	switch {
	case strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]"):
		host = hostport[1 : len(hostport)-1]
	case strings.Contains(hostport, ":") && (strings.HasPrefix(hostport, "[") || strings.Count(hostport, ":") == 1):
		h, p, err := net.SplitHostPort(hostport)
		if err != nil {
			return "", "", 0, "invalid host and port"
		}
		if !validPort(p) || p == "0" || strings.HasPrefix(p, "0") {
			return "", "", 0, "port must be 1..65535"
		}
		host = h
		port, _ = strconv.Atoi(p)
	default:
		host = hostport
	}
	if host == "" {
		return "", "", 0, "no host"
	}
	if ip := net.ParseIP(host); ip == nil && !sshHostName.MatchString(host) {
		return "", "", 0, "invalid host " + strconv.Quote(host)
	} else if ip != nil && strings.Contains(host, ":") && !strings.HasPrefix(hostport, "[") {
		return "", "", 0, "write an IPv6 host in brackets"
	}
	return user, host, port, ""
}
