package config

import (
	"reflect"
	"testing"
)

func TestParseTriggers(t *testing.T) {
	data := []byte(`
pipelines:
  - name: good
    mode: parallel
    source:
      repo: https://github.com/acme/hello.git
      branches: ["release/*", main, "!release/old-*"]
      tags: ["v*"]
      paths: ["src/**", "!docs/**"]
      schedule: "0 3 * * 1-5"
      timezone: Europe/Berlin
      token: ${HELLO_WEBHOOK_SECRET}
      ssh_known_hosts: testdata/keys/deploy_key
      submodules: true
      depth: 50
    secrets: {NPM_TOKEN: "${HELLO_WEBHOOK_SECRET}", DEPLOY_KEY: abc}
    stages: [{name: build, type: build}]
  - name: short
    source: {repo: /srv/a.git, branch: dev}
    stages: [{name: build, type: build}]
  - name: globs-only
    source: {repo: /srv/a.git, branches: ["feature-*"]}
    stages: [{name: build, type: build}]
`)
	s, err := Parse("greenlight.yml", data, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	good := s.Pipeline("good")
	got := good.Source
	got.SSHKnownHosts = ""
	want := Source{Repo: "https://github.com/acme/hello.git", Branch: "main",
		Branches: []string{"release/*", "main", "!release/old-*"}, Tags: []string{"v*"},
		Paths: []string{"src/**", "!docs/**"}, Schedule: "0 3 * * 1-5", Timezone: "Europe/Berlin",
		Token: "hook-secret", Submodules: true, Depth: 50}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("source:\ngot  %#v\nwant %#v", got, want)
	}
	if good.Source.SSHKnownHosts == "" || good.Mode != ModeParallel {
		t.Errorf("known hosts %q, mode %q", good.Source.SSHKnownHosts, good.Mode)
	}
	if want := map[string]string{"NPM_TOKEN": "hook-secret", "DEPLOY_KEY": "abc"}; !reflect.DeepEqual(good.Secrets, want) {
		t.Errorf("secrets: got %v, want %v", good.Secrets, want)
	}
	if b := s.Pipeline("short").Source; b.Branch != "dev" || !reflect.DeepEqual(b.Branches, []string{"dev"}) {
		t.Errorf("branch shorthand: got %q %q", b.Branch, b.Branches)
	}
	if b := s.Pipeline("globs-only").Source; b.Branch != "" {
		t.Errorf("globs only: default branch %q, want none", b.Branch)
	}
}
