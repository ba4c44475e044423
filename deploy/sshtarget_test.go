package deploy

import (
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

func TestSSHTargetChecked(t *testing.T) {
	good := SSHTarget{User: "deploy", Host: "web1.example.com", Dir: "/srv/hello/", KnownHosts: "/etc/kh"}
	for _, c := range []struct {
		name   string
		change func(*SSHTarget)
		want   string // "" = accepted
	}{
		{"defaults", func(s *SSHTarget) {}, ""},
		{"port", func(s *SSHTarget) { s.Port = 2222 }, ""},
		{"no user", func(s *SSHTarget) { s.User = "" }, "invalid user"},
		{"user with @", func(s *SSHTarget) { s.User = "a@b" }, "invalid user"},
		{"no host", func(s *SSHTarget) { s.Host = "" }, "invalid host"},
		{"host with space", func(s *SSHTarget) { s.Host = "web1 -oProxyCommand=x" }, "invalid host"},
		{"port too big", func(s *SSHTarget) { s.Port = 65536 }, "port 65536 is not in 1..65535"},
		{"negative port", func(s *SSHTarget) { s.Port = -1 }, "port -1"},
		{"relative dir", func(s *SSHTarget) { s.Dir = "srv/hello" }, "must be an absolute path"},
		{"root dir", func(s *SSHTarget) { s.Dir = "/" }, "must be an absolute path below /"},
		{"newline in dir", func(s *SSHTarget) { s.Dir = "/srv/a\nb" }, "newline"},
		{"no known_hosts", func(s *SSHTarget) { s.KnownHosts = "" }, "no known_hosts file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := good
			c.change(&s)
			got, err := Target{SSH: &s}.checked()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.SSH.Port == 0 || got.SSH.Dir != "/srv/hello" || got.SSH == &s {
					t.Errorf("checked = %+v, want port filled, dir cleaned, a copy", got.SSH)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || greenlight.ErrorCode(err) != greenlight.EINVALID {
				t.Errorf("checked error = %v, want EINVALID with %q", err, c.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":            "''",
		"plain":       "'plain'",
		"it's":        `'it'\''s'`,
		"$(id) `id`":  "'$(id) `id`'",
		"a\nb":        "'a\nb'",
		`back\slash'`: `'back\slash'\'''`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	if _, err := envAssignments(map[string]string{"BAD-NAME": "x"}); err == nil {
		t.Error("an env name that is shell syntax was accepted")
	}
}
