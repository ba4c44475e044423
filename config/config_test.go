package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestLoadFullExample(t *testing.T) {
	s, err := Load("testdata/server/full.yml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata/server")
	env := func(name, dir, port string) *Environment {
		return &Environment{
			Name:     name,
			Targets:  []Target{{Local: dir, Env: map[string]string{"PORT": port}}},
			Strategy: Strategy{Type: StrategyAllAtOnce, Batch: Amount{N: 1}}, Parallel: 10, Keep: 5,
			Health: Health{URL: "http://127.0.0.1:" + port + "/healthz", Timeout: 30 * time.Second, Passes: 1, Interval: time.Second},
		}
	}
	want := &Server{
		File:       "testdata/server/full.yml",
		Listen:     "127.0.0.1:8080",
		PublicURL:  "http://127.0.0.1:8080",
		DataDir:    filepath.Join(dir, "greenlight-data"),
		AdminToken: "s3cret-admin-token-0123456789abcdef",
		Groups:     map[string][]string{},
		Mail:       Mail{SMTP: "smtp://user:pass@mail.example.com:587", From: "Greenlight <greenlight@example.com>"},
		Retention:  Retention{Runs: DefaultRetainRuns, Logs: DefaultRetainLogs, Keep: DefaultRetainKeep},
		Pipelines: []*Pipeline{{
			Name: "hello",
			Mode: ModeSuperseded,
			Source: Source{
				Repo: "/srv/git/hello.git", Branch: "main", Branches: []string{"main"}, Poll: 30 * time.Second, WebhookSecret: "hook-secret",
			},
			Notify: []string{"dev-team@example.com"},
			Stages: []Stage{
				{Name: "build", Type: greenlight.StageBuild, File: ".greenlight.yml", Timeout: 20 * time.Minute, Network: NetworkHost, Cache: CacheBranch},
				{Name: "staging", Type: greenlight.StageDeploy, Environment: "staging", Timeout: DefaultDeployTimeout},
				{
					Name: "approval", Type: greenlight.StageApproval, Timeout: 72 * time.Hour,
					Approvers: []string{"pm@example.com", "cto@example.com"}, Required: 1, ReviewURL: "http://127.0.0.1:8081",
					Rules:   []greenlight.ApprovalRule{{Name: "approvers", Approvers: []string{"pm@example.com", "cto@example.com"}, Required: 1}},
					Comment: greenlight.CommentReject, OnTimeout: greenlight.TimeoutExpire,
				},
				{Name: "production", Type: greenlight.StageDeploy, Environment: "production", Timeout: DefaultDeployTimeout},
			},
			Environments: map[string]*Environment{
				"staging":    env("staging", "/srv/hello/staging", "8081"),
				"production": env("production", "/srv/hello/production", "8082"),
			},
		}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got:\n%#v\nwant:\n%#v", s, want)
		for i := range min(len(s.Pipelines), 1) {
			t.Errorf("pipeline: got %#v", *s.Pipelines[i])
		}
	}
	if p := s.Pipeline("hello"); p == nil || p.Stage("approval") == nil || p.Stage("nope") != nil {
		t.Errorf("lookups: Pipeline(hello) = %v", p)
	}
	if s.Pipeline("nope") != nil {
		t.Error("Pipeline(nope) is not nil")
	}
}

func TestDefaults(t *testing.T) {
	src := `
server:
  listen: 0.0.0.0:9000
pipelines:
  - name: hello
    source: {repo: ./repos/hello.git}
    stages:
      - {name: build, type: build}
      - {name: ok, type: approval, approvers: [pm@example.com]}
      - {name: staging, type: deploy, environment: staging}
    environments:
      staging:
        targets: [{local: staging}]
`
	dir := t.TempDir()
	file := filepath.Join(dir, "greenlight.yml")
	s, err := Parse(file, []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pipelines[0]
	checks := []struct{ name, got, want string }{
		{"public_url", s.PublicURL, "http://localhost:9000"},
		{"data_dir", s.DataDir, filepath.Join(dir, "greenlight-data")},
		{"admin_token", s.AdminToken, ""},
		{"database", s.Database, ""},
		{"mail.smtp", s.Mail.SMTP, ""},
		{"mail.from", s.Mail.From, DefaultFrom},
		{"mode", p.Mode, ModeSuperseded},
		{"repo", p.Source.Repo, filepath.Join(dir, "repos/hello.git")},
		{"branch", p.Source.Branch, "main"},
		{"poll", p.Source.Poll.String(), "0s"},
		{"build file", p.Stages[0].File, ".greenlight.yml"},
		{"build timeout", p.Stages[0].Timeout.String(), "1h0m0s"},
		{"approval timeout", p.Stages[1].Timeout.String(), "72h0m0s"},
		{"approval required", strconv.Itoa(p.Stages[1].Required), "1"},
		{"strategy", p.Environments["staging"].Strategy.Type, StrategyAllAtOnce},
		{"target", p.Environments["staging"].Targets[0].Local, filepath.Join(dir, "staging")},
		{"health", p.Environments["staging"].Health.Timeout.String() + " " + p.Environments["staging"].Health.Interval.String(), "30s 1s"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if h := p.Environments["staging"].Health; h.Passes != 1 || h.URL != "" {
		t.Errorf("health: got %+v, want passes 1 and no URL", h)
	}
}

func TestDefaultListen(t *testing.T) {
	s, err := Parse("greenlight.yml", []byte("pipelines: []\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Listen != DefaultListen || s.PublicURL != "http://127.0.0.1:8080" {
		t.Errorf("got listen %q public_url %q", s.Listen, s.PublicURL)
	}
}

func TestStrategyMapping(t *testing.T) {
	src := `
pipelines:
  - name: hello
    source: {repo: https://example.com/hello.git}
    stages: [{name: build, type: build}]
    environments:
      prod:
        targets: [{local: /srv/prod}]
        strategy: {type: all-at-once}
`
	s, err := Parse("/etc/greenlight.yml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Pipelines[0].Environments["prod"].Strategy.Type; got != StrategyAllAtOnce {
		t.Errorf("strategy: got %q", got)
	}
	if got := s.Pipelines[0].Source.Repo; got != "https://example.com/hello.git" {
		t.Errorf("a URL repo must stay as written: got %q", got)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	src := `
pipelines:
  - name: hello
    source: {repo: /srv/git/hello.git}
    stages: [{name: build, type: build}]
    environments:
      staging:
        targets: [{local: /srv/staging, env: &env {PORT: "8081"}}]
        health: &health {url: "http://{host}:{env.PORT}/healthz", timeout: 10s}
      production:
        targets: [{local: /srv/production, env: *env}]
        health:
          <<: *health
          timeout: 5s
          passes: 3
`
	s, err := Parse("greenlight.yml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	prod := s.Pipelines[0].Environments["production"]
	want := Health{URL: "http://{host}:{env.PORT}/healthz", Timeout: 5 * time.Second, Passes: 3, Interval: time.Second}
	if prod.Health != want {
		t.Errorf("merged health: got %+v, want %+v", prod.Health, want)
	}
	if prod.Targets[0].Env["PORT"] != "8081" {
		t.Errorf("aliased env: got %v", prod.Targets[0].Env)
	}
}

func TestInterpolation(t *testing.T) {
	env := map[string]string{
		"SECRET": "s3cret",
		"YAMLY":  "{a: [1, 2]} # comment\nb: c",
		"EMPTY":  "",
		"DOLLAR": "${SECRET}",
	}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name, value, want, err string
	}{
		{"plain", `"${SECRET}"`, "s3cret", ""},
		{"unquoted", `${SECRET}`, "s3cret", ""},
		{"inside", `pre-${SECRET}-post`, "pre-s3cret-post", ""},
		{"twice", `${SECRET}${SECRET}`, "s3crets3cret", ""},
		{"escape", `"pa$$word"`, "pa$word", ""},
		{"escaped reference", `"$${SECRET}"`, "${SECRET}", ""},
		{"lone dollar", `"a$b"`, "a$b", ""},
		{"trailing dollar", `"ab$"`, "ab$", ""},
		{"empty value", `"x${EMPTY}y"`, "xy", ""},
		{"yaml stays a string", `${YAMLY}`, env["YAMLY"], ""},
		{"not recursive", `${DOLLAR}`, "${SECRET}", ""},
		{"missing", `${NOPE}`, "", "greenlight.yml:6:21: pipelines[0].source.webhook_secret: environment variable NOPE is not set"},
		{"missing after text", `"abc ${NOPE}"`, "", "greenlight.yml:6:26: pipelines[0].source.webhook_secret: environment variable NOPE is not set"},
		{"missing after multibyte", `ééé-${NOPE}`, "", "greenlight.yml:6:25: pipelines[0].source.webhook_secret: environment variable NOPE is not set"},
		{"missing in block", "|\n      ${NOPE}", "", "greenlight.yml:6:21: pipelines[0].source.webhook_secret: environment variable NOPE is not set"},
		{"bad name", `${A-B}`, "", `greenlight.yml:6:21: pipelines[0].source.webhook_secret: invalid variable name "A-B" in ${…}`},
		{"unterminated", `x${SECRET`, "", "greenlight.yml:6:22: pipelines[0].source.webhook_secret: unterminated ${ (write $$ for a literal dollar)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "pipelines:\n- name: p\n  stages: [{name: b, type: build}]\n  source:\n    repo: /r\n    webhook_secret: " + tt.value + "\n"
			s, err := Parse("greenlight.yml", []byte(src), getenv)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("got error %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Pipelines[0].Source.WebhookSecret; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestManyErrorsAtOnce(t *testing.T) {
	src := `server:
  listen: nowhere
  colour: blue
pipelines:
  - name: Bad Name
    source: {branch: "-x"}
    stages:
      - {name: ship, type: deploy, environment: prod}
      - {name: ok, type: approval, approvers: [boss], timeout: later}
`
	_, err := Parse("g.yml", []byte(src), nil)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %T %v, want Errors", err, err)
	}
	want := []string{
		`g.yml:2:11: server.listen: "nowhere" is not a host:port address`,
		`g.yml:3:3: server.colour: unknown key`,
		`g.yml:5:11: pipelines[0].name: invalid name "Bad Name": use lowercase letters, digits and "-"`,
		`g.yml:6:13: pipelines[0].source.repo: required`,
		`g.yml:6:22: pipelines[0].source.branch: invalid branch name "-x": it must not start with "-"`,
		`g.yml:8:28: pipelines[0].stages[0]: a deploy stage must come after a build stage (it deploys the build's artifact)`,
		`g.yml:8:49: pipelines[0].stages[0].environment: no environment "prod" in this pipeline's environments`,
		`g.yml:9:48: pipelines[0].stages[1].approvers[0]: "boss" is not a plain email address (like pm@example.com) or group:NAME`,
		`g.yml:9:64: pipelines[0].stages[1].timeout: invalid duration "later" (use a Go duration such as 30s, 20m or 72h)`,
	}
	if got := strings.Split(errs.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs[0].File != "g.yml" || errs[0].Line != 2 || errs[0].Col != 11 {
		t.Errorf("first error fields: got %+v", errs[0])
	}
	if code := greenlight.ErrorCode(err); code != greenlight.EINVALID {
		t.Errorf("ErrorCode: got %q, want %q", code, greenlight.EINVALID)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
	_, err = LoadBuild(filepath.Join(t.TempDir(), "nope.yml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("build: got %v, want a not-exist error", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/server/*", "testdata/build/*"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			input, _, _ := strings.Cut(string(data), wantMarker)
			f.Add([]byte(input))
		}
	}
	f.Add([]byte("a: &a [*a]\nb: *a\n"))
	f.Add([]byte("<<: {<<: *x}\n"))
	getenv := func(k string) (string, bool) { return "${" + k + "}$$", k != "NOPE" }
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		s, err := Parse("f.yml", data, getenv)
		checkResult(t, s != nil, err)
		b, err := ParseBuild("b.yml", data)
		checkResult(t, b != nil, err)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("parsing %d bytes took %v", len(data), d)
		}
	})
}

// checkResult asserts Parse's contract: a value or Errors, never both, and
// every problem placed on a real line and column.
func checkResult(t *testing.T, ok bool, err error) {
	t.Helper()
	if ok == (err != nil) {
		t.Fatalf("got value %v and error %v: want exactly one", ok, err)
	}
	if err == nil {
		return
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("error %T %v is not a non-empty Errors", err, err)
	}
	for _, e := range errs {
		if e.Line < 1 || e.Col < 1 || e.Message == "" {
			t.Fatalf("problem without a place or message: %+v", e)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/server/full.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("greenlight.yml", data, testEnv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBuild(b *testing.B) {
	data, err := os.ReadFile("testdata/build/full.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseBuild(".greenlight.yml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRetention(t *testing.T) {
	base := "server: {data_dir: /tmp/gl}\npipelines: []\n"
	cfg, err := Parse("greenlight.yml", []byte(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Retention; got != (Retention{Runs: 90 * 24 * time.Hour, Logs: 30 * 24 * time.Hour, Keep: 20}) {
		t.Errorf("default retention %+v", got)
	}
	cfg, err = Parse("greenlight.yml", []byte(base+"retention: {runs: 400d, logs: 36h, keep: 5}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Retention; got != (Retention{Runs: 400 * 24 * time.Hour, Logs: 36 * time.Hour, Keep: 5}) {
		t.Errorf("retention %+v", got)
	}
	for in, want := range map[string]string{
		"retention: {runs: 10d, logs: 20d}": "greenlight.yml:3:30: retention.logs: 20d is longer than retention.runs (10d)",
		"retention: {runs: -1d}":            "retention.runs: invalid duration",
		"retention: {keep: -1}":             "retention.keep: must not be negative",
		"retention: {days: 3}":              "retention.days: unknown key",
	} {
		_, err := Parse("greenlight.yml", []byte(base+in+"\n"), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}
