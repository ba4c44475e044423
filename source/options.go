package source

import (
	"encoding/base64"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Options are how one repository is reached and checked out. The zero value
// is a public repository, full history, no submodules.
type Options struct {
	// Token is an HTTPS access token, sent as the password of basic auth;
	// the user is the one in the URL, or "x-access-token" (GitHub's
	// convention; GitLab and Gitea accept any user with a token).
	Token string
	// SSHKey is the path of a private key (a deploy key) for ssh:// and
	// scp-like URLs; only this key is offered.
	SSHKey string
	// SSHKnownHosts is a known_hosts file holding the server's host key;
	// "" leaves ssh's own (the server user's ~/.ssh/known_hosts and
	// /etc/ssh/ssh_known_hosts). An unknown or changed host key is refused.
	SSHKnownHosts string
	// Submodules makes Checkout initialise and update submodules
	// recursively, at the commits the superproject records, with the same
	// credentials.
	Submodules bool
	// Depth > 0 keeps a shallow mirror: each fetch brings at most Depth
	// commits of each branch's history. Changes then lists at most what the
	// mirror holds.
	Depth int
}

// access is what git needs to reach one repository: extra environment
// variables and the secrets to strip from anything git says.
type access struct {
	env     []string
	secrets []string
}

// repoConfig is a repository's options and the access made from them once.
type repoConfig struct {
	opts   Options
	access access
}

// Configure sets the options used by every later operation on repo (the URL
// exactly as passed to Head, Fetch, Checkout…). A repository never
// configured is reached without credentials. Calling it again replaces the
// options; operations already running keep the old ones.
func (g *Git) Configure(repo string, o Options) {
	if o.Depth < 0 {
		o.Depth = 0
	}
	for _, p := range []*string{&o.SSHKey, &o.SSHKnownHosts} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	if u, err := url.Parse(repo); err == nil && o.Token != "" && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		g.log.Warn("a token is sent over plain http: use https", "repo", greenlight.RedactURL(repo))
	}
	g.mu.Lock()
	g.repos[repo] = repoConfig{opts: o, access: newAccess(repo, o)}
	g.mu.Unlock()
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// config returns repo's options and access.
func (g *Git) config(repo string) repoConfig {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.repos[repo]
	if c.access.env == nil {
		c.access = newAccess(repo, c.opts)
	}
	return c
}

// newAccess turns options into git's environment.
//
// The HTTPS token reaches git as an http.<url>.extraHeader set through
// GIT_CONFIG_COUNT/KEY/VALUE environment variables rather than through
// GIT_ASKPASS: nothing is written to disk (no helper script, no config
// file a build could read), no argv shows it (ps lists argv to every user;
// /proc/<pid>/environ is readable only by the same user), git sends it on the
// first request instead of after a 401, and git's URL matching limits it to
// this repository (or, with submodules, to this host, which is the scope a
// credential helper would have). The mirror's config and the workspace's
// config never hold it, so neither a later build step nor a copy of the
// cache leaks it.
//
// The ssh key goes in GIT_SSH_COMMAND, which git runs through sh: both
// paths are single-quoted. StrictHostKeyChecking=yes refuses unknown and
// changed host keys; BatchMode=yes makes ssh fail instead of prompting.
func newAccess(repo string, o Options) access {
	a := access{env: []string{}}
	if u, err := url.Parse(repo); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			a.secrets = append(a.secrets, p, url.QueryEscape(p))
		}
	}
	if o.Token != "" {
		if scopes := tokenScopes(repo, o.Submodules); len(scopes) > 0 {
			user := "x-access-token"
			if u, err := url.Parse(repo); err == nil && u.User != nil && u.User.Username() != "" {
				user = u.User.Username()
			}
			basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + o.Token))
			n := 0
			for _, scope := range scopes {
				a.env = append(a.env,
					"GIT_CONFIG_KEY_"+strconv.Itoa(n)+"=http."+scope+".extraHeader",
					"GIT_CONFIG_VALUE_"+strconv.Itoa(n)+"=Authorization: Basic "+basic)
				n++
			}
			a.env = append(a.env, "GIT_CONFIG_COUNT="+strconv.Itoa(n))
			a.secrets = append(a.secrets, o.Token, basic)
		}
	}
	ssh := []string{"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"}
	if o.SSHKey != "" {
		ssh = append(ssh, "-i", shellQuote(o.SSHKey), "-o", "IdentitiesOnly=yes")
	}
	if o.SSHKnownHosts != "" {
		ssh = append(ssh, "-o", "UserKnownHostsFile="+shellQuote(o.SSHKnownHosts))
	}
	a.env = append(a.env, "GIT_SSH_COMMAND="+strings.Join(ssh, " "))
	return a
}

// tokenScopes are the URLs whose requests carry the token: the repository
// itself, plus its whole host when submodules (which live beside it) are
// fetched. Only http(s) URLs get one: a token is never sent over ssh or to a
// local path.
func tokenScopes(repo string, host bool) []string {
	u, err := url.Parse(repo)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil
	}
	// A user name in the key would have to match exactly; without one
	// the key matches the URL with any user.
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	scopes := []string{u.String()}
	if host {
		scopes = append(scopes, u.Scheme+"://"+u.Host+"/")
	}
	return scopes
}

// shellQuote quotes s for sh: inside single quotes, each quote in s ends the
// quoted string, is escaped with a backslash, and starts a new one.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// redact replaces every secret in s.
func (a access) redact(s string) string {
	for _, secret := range a.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
