package main

import (
	"slices"
	"testing"

	"github.com/greenlight-cd/greenlight/config"
)

// Builds never see the data dir, the config's directory (or only the file
// when its directory is a system one), any key or known_hosts the config
// names, the server user's home, nor the SSH agent.
func TestHiddenFromBuilds(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "/run/agent/sock")
	t.Setenv("HOME", "/home/ci")
	pipeline := &config.Pipeline{Name: "web",
		Source: config.Source{Repo: "git@example.com:o/r.git", SSHKey: "/keys/src", SSHKnownHosts: "/keys/src_hosts"},
		Environments: map[string]*config.Environment{"prod": {Targets: []config.Target{
			{Local: "/srv/app"},
			{SSH: &config.SSHTarget{Host: "h", Key: "/keys/deploy", KnownHosts: "/keys/known_hosts"}},
			{SSH: &config.SSHTarget{Host: "h2", KnownHosts: "/keys/known_hosts"}}, // agent, shared known_hosts
		}}}}
	tests := []struct {
		file string
		want []string // besides the data dir, the keys and the agent
	}{
		{"/etc/greenlight/greenlight.yml", []string{"/etc/greenlight"}},
		{"/etc/greenlight.yml", []string{"/etc/greenlight.yml"}},
		{"/greenlight.yml", []string{"/greenlight.yml"}},
		{"/home/ci/greenlight.yml", []string{"/home/ci/greenlight.yml"}},
		{"/home/ci/ci/greenlight.yml", []string{"/home/ci/ci"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg := &config.Server{File: tt.file, DataDir: "/var/lib/greenlight", Pipelines: []*config.Pipeline{pipeline}}
			got := hiddenFromBuilds(cfg)
			want := append([]string{"/var/lib/greenlight"}, tt.want...)
			want = append(want, "/keys/src", "/keys/src_hosts", "/keys/deploy", "/keys/known_hosts", "/home/ci", "/run/agent/sock")
			if !slices.Equal(got, want) {
				t.Errorf("hiddenFromBuilds = %q\nwant %q", got, want)
			}
		})
	}
}
