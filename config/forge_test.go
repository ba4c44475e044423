package config

import (
	"strings"
	"testing"
)

func TestForgeDefaultsAndValues(t *testing.T) {
	src := `pipelines:
  - name: github
    source:
      repo: https://github.com/acme/hello.git
      forge: {type: github, repo: acme/hello, token: "${HELLO_WEBHOOK_SECRET}"}
    stages: [{name: build, type: build}]
  - name: gitlab
    source:
      repo: https://gitlab.example.com/acme/tools/hello.git
      forge: {type: gitlab, repo: acme/tools/hello, token: glpat-x}
    stages: [{name: build, type: build}]
  - name: gitea
    source:
      repo: https://codeberg.org/acme/hello.git
      forge: {type: gitea, api: "https://codeberg.org/api/v1/", repo: acme/hello, token: t0k}
    stages: [{name: build, type: build}]
  - name: none
    source: {repo: /srv/git/a.git}
    stages: [{name: build, type: build}]
`
	cfg, err := Parse("greenlight.yml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Forge{
		"github": {Type: "github", API: "https://api.github.com", Repo: "acme/hello", Token: "hook-secret"},
		"gitlab": {Type: "gitlab", API: "https://gitlab.com/api/v4", Repo: "acme/tools/hello", Token: "glpat-x"},
		"gitea":  {Type: "gitea", API: "https://codeberg.org/api/v1", Repo: "acme/hello", Token: "t0k"},
	}
	for name, w := range want {
		f := cfg.Pipeline(name).Source.Forge
		if f == nil || *f != w {
			t.Errorf("%s: forge = %+v, want %+v", name, f, w)
		}
	}
	if f := cfg.Pipeline("none").Source.Forge; f != nil {
		t.Errorf("none: forge = %+v, want nil", f)
	}
}

func TestForgeErrorsNeverQuoteTheToken(t *testing.T) {
	const token = "ghp_s3cretValue"
	src := `pipelines:
  - name: hello
    source:
      repo: /srv/git/a.git
      forge: {type: bitbucket, api: "https://user:` + token + `@example.com", repo: acme/hello, token: "` + token + `\n"}
    stages: [{name: build, type: build}]
`
	_, err := Parse("greenlight.yml", []byte(src), testEnv)
	if err == nil {
		t.Fatal("Parse succeeded, want errors")
	}
	msg := err.Error()
	for _, want := range []string{"forge.type:", "forge.api: must not hold credentials", "forge.token: must be one line"} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, token) {
		t.Errorf("errors quote the token:\n%s", msg)
	}
}
