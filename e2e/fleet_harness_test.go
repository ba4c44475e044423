package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/deploy/sshtest"
	"github.com/greenlight-cd/greenlight/mail/smtptest"
)

// startFleet starts a server whose pipeline "hello" builds repo and deploys
// to one environment, production, described by env: the YAML under
// `production:` (targets, strategy, health, …), indented by 8 spaces.
func startFleet(t *testing.T, r *repo, env string) *server {
	t.Helper()
	s := &server{t: t, dir: passable(t, t.TempDir()), smtp: smtptest.Start(t), repo: r}
	port := freePort(t)
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.config = filepath.Join(s.dir, "greenlight.yml")
	cfg := fmt.Sprintf(`server:
  listen: 127.0.0.1:%d
  public_url: %s
  data_dir: ./data
  admin_token: ${GREENLIGHT_ADMIN_TOKEN}
mail:
  smtp: smtp://%s
  from: "Greenlight <greenlight@example.com>"
pipelines:
  - name: hello
    source:
      repo: %s
      branch: main
      webhook_secret: ${HOOK_SECRET}
    notify: [dev-team@example.com]
    stages:
      - name: build
        type: build
        timeout: 2m
      - name: production
        type: deploy
        environment: production
    environments:
      production:
%s`, port, s.url, s.smtp.Addr(), r.dir, env)
	s.launch(cfg)
	return s
}

// sshHosts starts n real sshd hosts; the apps their hooks start are killed
// when the test ends.
func sshHosts(t *testing.T, n int) []*sshtest.Host {
	t.Helper()
	hosts := make([]*sshtest.Host, n)
	for i := range hosts {
		h := sshtest.Start(t)
		t.Cleanup(func() { killUnder(h.Dir) })
		hosts[i] = h
	}
	return hosts
}

// sshTargets is the `targets:` YAML of hosts, each with its own app PORT
// and, where extra has an entry for it, more env.
func sshTargets(hosts []*sshtest.Host, ports []int, extra map[int]string) string {
	var b strings.Builder
	b.WriteString("        targets:\n")
	for i, h := range hosts {
		fmt.Fprintf(&b, "          - ssh: %s@127.0.0.1:%d\n            dir: %s\n            key: %s\n            known_hosts: %s\n            env: {PORT: \"%d\"%s}\n",
			h.User, h.Port, h.Dir, h.ClientKey, h.KnownHosts, ports[i], extra[i])
	}
	return b.String()
}

// ports returns n free loopback ports for apps.
func ports(t *testing.T, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = freePort(t)
	}
	return out
}

// environmentJSON is GET /api/v1/pipelines/hello/environments/production.
type environmentJSON struct {
	Current *greenlight.Release   `json:"current"`
	History []*greenlight.Release `json:"history"`
}

func (s *server) production() environmentJSON {
	s.t.Helper()
	code, body := s.api("GET", "/api/v1/pipelines/hello/environments/production", nil)
	if code != 200 {
		s.t.Fatalf("GET production: %d %s", code, body)
	}
	var v environmentJSON
	if err := json.Unmarshal(body, &v); err != nil {
		s.t.Fatalf("production: %v: %s", err, body)
	}
	return v
}

// serves reports the version each app port answers with ("" when none).
func serves(t *testing.T, ports []int) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p))
		if code == 200 {
			out[i] = strings.Fields(body)[1]
		}
	}
	return out
}

// allServe waits until every port answers with version sha.
func allServe(t *testing.T, ports []int, sha string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got = serves(t, ports)
		if strings.Count(strings.Join(got, " "), sha) == len(ports) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("apps serve %v, want %s everywhere", got, sha)
}

// targetStatuses is "status status …" of a release's targets, in order.
func targetStatuses(r *greenlight.Release) string {
	var parts []string
	for _, t := range r.Targets {
		parts = append(parts, t.Status)
	}
	return strings.Join(parts, " ")
}
