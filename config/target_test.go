package config

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestSSHTargets(t *testing.T) {
	const src = `
pipelines:
  - name: hello
    source: {repo: /srv/git/hello.git}
    stages: [{name: build, type: build}]
    environments:
      production:
        ssh:
          key: keys/deploy_key
          known_hosts: /etc/greenlight/known_hosts
        targets:
          - ssh: deploy@web1.example.com
            dir: /srv/hello/
            env: {PORT: "8080"}
          - ssh: app@[2001:db8::1]:2222
            dir: /srv/hello
            key: /etc/greenlight/other_key
            known_hosts: hosts/known
          - local: hello-local
            env: {PORT: "8081"}
      agent:
        targets:
          - ssh: deploy@10.0.0.7:22
            dir: /srv/hello
            known_hosts: /etc/greenlight/known_hosts
`
	dir := t.TempDir()
	s, err := Parse(filepath.Join(dir, "greenlight.yml"), []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	envs := s.Pipelines[0].Environments
	for _, c := range []struct {
		name string
		got  Target
		want Target
	}{
		{"env defaults, port 22, clean dir", envs["production"].Targets[0], Target{
			SSH: &SSHTarget{User: "deploy", Host: "web1.example.com", Port: 22, Dir: "/srv/hello",
				Key: filepath.Join(dir, "keys/deploy_key"), KnownHosts: "/etc/greenlight/known_hosts"},
			Env: map[string]string{"PORT": "8080"},
		}},
		{"own key and known_hosts, IPv6 and port", envs["production"].Targets[1], Target{
			SSH: &SSHTarget{User: "app", Host: "2001:db8::1", Port: 2222, Dir: "/srv/hello",
				Key: "/etc/greenlight/other_key", KnownHosts: filepath.Join(dir, "hosts/known")},
		}},
		{"local beside ssh", envs["production"].Targets[2], Target{
			Local: filepath.Join(dir, "hello-local"), Env: map[string]string{"PORT": "8081"},
		}},
		{"agent: no key", envs["agent"].Targets[0], Target{
			SSH: &SSHTarget{User: "deploy", Host: "10.0.0.7", Port: 22, Dir: "/srv/hello",
				KnownHosts: "/etc/greenlight/known_hosts"},
		}},
	} {
		if len(c.got.Env) == 0 {
			c.got.Env = nil
		}
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s:\ngot  %+v %+v\nwant %+v %+v", c.name, c.got, c.got.SSH, c.want, c.want.SSH)
		}
	}
	if got, want := envs["production"].Targets[0].Name(), "deploy@web1.example.com:22:/srv/hello"; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
}

func TestParseSSHAddr(t *testing.T) {
	for _, c := range []struct {
		addr, user, host string
		port             int
		bad              bool
	}{
		{addr: "deploy@web1", user: "deploy", host: "web1", port: 22},
		{addr: "deploy@web1.example.com:2222", user: "deploy", host: "web1.example.com", port: 2222},
		{addr: "d_e.p-l@10.1.2.3:1", user: "d_e.p-l", host: "10.1.2.3", port: 1},
		{addr: "deploy@[::1]", user: "deploy", host: "::1", port: 22},
		{addr: "deploy@[::1]:65535", user: "deploy", host: "::1", port: 65535},
		{addr: "web1", bad: true},
		{addr: "@web1", bad: true},
		{addr: "deploy@", bad: true},
		{addr: "deploy@web1:0", bad: true},
		{addr: "deploy@web1:65536", bad: true},
		{addr: "deploy@web1:022", bad: true},
		{addr: "deploy@web1:", bad: true},
		{addr: "deploy@::1", bad: true},
		{addr: "de ploy@web1", bad: true},
		{addr: "-oProxyCommand=x@web1", bad: true},
		{addr: "deploy@-web1", bad: true},
		{addr: "deploy@web1;id", bad: true},
		{addr: "deploy@a@web1", bad: true},
	} {
		user, host, port, why := parseSSHAddr(c.addr)
		if c.bad {
			if why == "" {
				t.Errorf("%q: accepted as %s %s %d, want refused", c.addr, user, host, port)
			}
			continue
		}
		if why != "" || user != c.user || host != c.host || port != c.port {
			t.Errorf("%q: got %q %q %d (%s), want %q %q %d", c.addr, user, host, port, why, c.user, c.host, c.port)
		}
	}
}

// A local target's user is kept as written, a name or a uid.
func TestTargetUser(t *testing.T) {
	const src = `
pipelines:
  - name: hello
    source: {repo: /srv/git/hello.git}
    stages: [{name: build, type: build}]
    environments:
      staging:
        targets:
          - local: /srv/hello/staging
            user: nobody
          - local: /srv/hello/by-uid
            user: 1234
          - local: /srv/hello/confined
`
	s, err := Parse("greenlight.yml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range s.Pipelines[0].Environments["staging"].Targets {
		got = append(got, tg.User)
	}
	if want := []string{"nobody", "1234", ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("users = %q, want %q", got, want)
	}
}
