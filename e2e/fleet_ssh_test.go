package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// startScript is deploy/start.sh with extra shell lines before the app starts.
func startScript(extra string) string {
	return "#!/bin/sh\nset -e\n" + extra + "nohup ./dist/app > app.log 2>&1 < /dev/null &\necho $! > app.pid\n"
}

// deployed pushes sha and waits for its run to end; it fails the test
// unless the run ends with want.
func (s *server) deployed(sha string, want greenlight.RunStatus) *greenlight.Run {
	s.t.Helper()
	id := s.pushRun(sha)
	r := s.waitRun(id, 120*time.Second, greenlight.RunSucceeded, greenlight.RunFailed, greenlight.RunCancelled)
	if r.Status != want {
		s.t.Fatalf("run %d of %s is %s (%s), want %s", id, sha[:7], r.Status, r.Error, want)
	}
	return r
}

// TestFleetRollingHealthFailure: rolling one host at a time over three SSH
// hosts, the second host's new release fails its health check: every host
// is back on the old release, and the run and the release say which host
// failed and why.
func TestFleetRollingHealthFailure(t *testing.T) {
	t.Parallel()
	hosts, p := sshHosts(t, 3), ports(t, 3)
	s := startFleet(t, newRepo(t, "", false), sshTargets(hosts, p, map[int]string{1: `, FAIL_NEW: "1"`})+`        strategy: {type: rolling, batch: 1}
        health: {url: "http://{host}:{env.PORT}/healthz", timeout: 4s}
`)
	v1 := s.repo.head()
	s.deployed(v1, greenlight.RunSucceeded)
	allServe(t, p, v1)

	v2 := s.repo.commit("Breaks on the host that says FAIL_NEW", map[string]string{
		"deploy/start.sh": startScript("if [ -n \"$FAIL_NEW\" ]; then touch deploy/unhealthy; fi\n")})
	r := s.deployed(v2, greenlight.RunFailed)
	bad := fmt.Sprintf("%s@127.0.0.1:%d:%s", hosts[1].User, hosts[1].Port, hosts[1].Dir)
	if !strings.Contains(r.Error, bad) || !strings.Contains(r.Error, "health") {
		t.Errorf("run error %q does not name the failing host %s and its health check", r.Error, bad)
	}
	allServe(t, p, v1)
	rel := s.production().History[0]
	if rel.RunID != r.ID || rel.Status != greenlight.ReleaseRolledBack {
		t.Fatalf("newest release = run %d %s, want run %d rolled-back", rel.RunID, rel.Status, r.ID)
	}
	if len(rel.Targets) != 3 || rel.Targets[0].Status != "rolled-back" || rel.Targets[1].Status != "rolled-back" ||
		rel.Targets[2].Status == "live" || rel.Targets[1].Error == "" {
		t.Errorf("target outcomes = %+v, want hosts 1 and 2 rolled back (2 with its error), host 3 untouched", rel.Targets)
	}
	if cur := s.production().Current; cur == nil || cur.Commit != v1 {
		t.Errorf("current release = %+v, want v1's", cur)
	}
	m := s.mailTo("dev-team@example.com", "failed", 30*time.Second)
	if !strings.Contains(m.Text, bad) {
		t.Errorf("the failure mail does not name the failing host %s:\n%s", bad, m.Text)
	}
}

// TestFleetHostKeyChanged: a host whose key is not the one in known_hosts
// is refused before anything is sent to it, with an error that says so.
func TestFleetHostKeyChanged(t *testing.T) {
	t.Parallel()
	h := sshHosts(t, 1)[0]
	p := ports(t, 1)
	s := startFleet(t, newRepo(t, "", false), fmt.Sprintf(`        targets:
          - ssh: %s@127.0.0.1:%d
            dir: %s
            key: %s
            known_hosts: %s
            env: {PORT: "%d"}
`, h.User, h.Port, h.Dir, h.ClientKey, h.WrongKnownHosts(t), p[0]))
	r := s.deployed(s.repo.head(), greenlight.RunFailed)
	if !strings.Contains(strings.ToLower(r.Error), "host key") {
		t.Errorf("run error %q does not say the host key is wrong", r.Error)
	}
	if _, err := os.Lstat(filepath.Join(h.Dir, "current")); err == nil {
		t.Errorf("a release went to a host whose key did not match")
	}
}

// TestFleetSSHHostDown: a host's sshd dies while the host runs its start
// hook. The other changed host returns to the old release; the dead one is
// reported, by name, as not returned: nothing is left half-done silently.
func TestFleetSSHHostDown(t *testing.T) {
	t.Parallel()
	hosts, p := sshHosts(t, 3), ports(t, 3)
	s := startFleet(t, newRepo(t, "", false), sshTargets(hosts, p, nil)+`        strategy: {type: rolling, batch: 1}
        health: {url: "http://{host}:{env.PORT}/healthz", timeout: 10s}
`)
	v1 := s.repo.head()
	s.deployed(v1, greenlight.RunSucceeded)
	v2 := s.repo.commit("Starts slowly", map[string]string{"deploy/start.sh": startScript("echo starting slowly; sleep 4\n")})
	id := s.pushRun(v2)
	down := fmt.Sprintf("%s@127.0.0.1:%d:%s", hosts[1].User, hosts[1].Port, hosts[1].Dir)
	eventually(t, 90*time.Second, "the second host runs its start hook", func() bool {
		return strings.Contains(s.stageLog(id, "production"), "["+down+"] start (release")
	})
	hosts[1].Stop()
	r := s.waitRun(id, 90*time.Second, greenlight.RunSucceeded, greenlight.RunFailed)
	if r.Status != greenlight.RunFailed || !strings.Contains(r.Error, down) {
		t.Errorf("run %s (%q), want failed naming %s", r.Status, r.Error, down)
	}
	rel := s.production().History[0]
	if rel.Status == greenlight.ReleaseLive || len(rel.Targets) != 3 {
		t.Fatalf("release = %s %+v", rel.Status, rel.Targets)
	}
	if rel.Targets[0].Status != "rolled-back" || rel.Targets[1].Status == "live" || rel.Targets[1].Error == "" {
		t.Errorf("target outcomes = %+v, want host 1 rolled back and host 2 reported with its error", rel.Targets)
	}
	if got := serves(t, p); got[0] != v1 || got[2] != v1 {
		t.Errorf("hosts 1 and 3 serve %v, want %s", got, v1)
	}
	if log := s.stageLog(id, "production"); !strings.Contains(log, "==> target "+down+": "+rel.Targets[1].Status) {
		t.Errorf("the stage log does not give the dead host's outcome:\n%s", log)
	}
}

// TestFleetKillMidDeploy: kill -9 of the server while a rolling deploy over
// three SSH hosts is on its second host. After the restart the deploy is
// resumed from the stored target states (or rolled back): either way the
// whole fleet ends on one release, and the release says which.
func TestFleetKillMidDeploy(t *testing.T) {
	t.Parallel()
	hosts, p := sshHosts(t, 3), ports(t, 3)
	s := startFleet(t, newRepo(t, "", false), sshTargets(hosts, p, nil)+`        strategy: {type: rolling, batch: 1}
        health: {url: "http://{host}:{env.PORT}/healthz", timeout: 10s}
`)
	v1 := s.repo.head()
	s.deployed(v1, greenlight.RunSucceeded)
	v2 := s.repo.commit("Starts slowly", map[string]string{"deploy/start.sh": startScript("echo starting slowly; sleep 2\n")})
	id := s.pushRun(v2)
	second := fmt.Sprintf("%s@127.0.0.1:%d:%s", hosts[1].User, hosts[1].Port, hosts[1].Dir)
	eventually(t, 90*time.Second, "the second host runs its start hook", func() bool {
		return strings.Contains(s.stageLog(id, "production"), "["+second+"] start (release")
	})
	s.kill()
	s.boot()
	r := s.waitRun(id, 120*time.Second, greenlight.RunSucceeded, greenlight.RunFailed)
	log := s.stageLog(id, "production")
	if !strings.Contains(log, "resuming the deploy") && !strings.Contains(log, "rolling back") {
		t.Errorf("the stage log does not say how the cut-off deploy went on:\n%s", log)
	}
	rel := s.production().History[0]
	want, status := v2, greenlight.ReleaseLive
	if r.Status == greenlight.RunFailed {
		want, status = v1, greenlight.ReleaseRolledBack
	}
	allServe(t, p, want)
	if rel.RunID != id || rel.Status != status {
		t.Errorf("release = run %d %s, want run %d %s (run %s: %s)", rel.RunID, rel.Status, id, status, r.Status, r.Error)
	}
	if len(s.production().History) != 2 {
		t.Errorf("the resumed deploy made a release of its own: %+v", s.production().History)
	}
	if st := r.Stage("production"); st.Attempts != 2 {
		t.Errorf("production stage attempts = %d, want 2", st.Attempts)
	}
}
