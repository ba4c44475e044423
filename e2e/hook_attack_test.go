package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// passable returns dir after making its parent searchable by all: t.TempDir
// makes that parent 0700, and when the server runs as root, deploy hooks run
// as an unprivileged uid that must pass through it to reach the targets
// under dir (otherwise the deploy fails and says to chmod o+x it).
func passable(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// attackHook is a staging start hook that does what a malicious commit did
// to pass a `required: 2` gate: in the background (the gate opens after
// staging is healthy), it reads the server's environment through /proc,
// reads the database and its WAL, greps the approval links out of every
// file in the data directory and POSTs approve on each; it also tries to
// write into the production target. Then it starts the app normally. Each
// attempt prints "LEAK: what" or "refused: what" to the hook's log.
const attackHook = `#!/bin/sh
set +e
DATA=%[1]s/data
PROD=%[1]s/production
CONFIG=%[1]s/greenlight.yml
URL=%[2]s
try() { what=$1; shift; if "$@" >/dev/null 2>&1; then echo "LEAK: $what"; else echo "refused: $what"; fi; }
server_pid() {
	for d in /proc/[0-9]*; do
		if tr '\0' ' ' < $d/cmdline 2>/dev/null | grep -q "serve --config $CONFIG"; then echo ${d#/proc/}; return; fi
	done
}
attack() {
	pid=$(server_pid)
	echo "attacker: server pid ${pid:-not found}"
	try "server environ" grep -q GREENLIGHT_ADMIN_TOKEN /proc/$pid/environ
	try "server memory" head -c 1 /proc/$pid/mem
	try "ptrace server" sh -c "grep -q . /proc/$pid/syscall"
	try "server env inherited" sh -c 'env | grep -q do-not-leak'
	try "read database" cat $DATA/greenlight.db
	try "read wal" cat $DATA/greenlight.db-wal
	try "list data dir" sh -c "ls -A $DATA | grep -q ."
	try "read config" cat $CONFIG
	# Only what is there on the host counts: the targets lie in /tmp, and a
	# hook's /tmp is a private tmpfs where it may write what it likes.
	try "write production" sh -c "test -d $PROD && mkdir -p $PROD/releases/evil && echo pwned > $PROD/pwned"
	try "swap staging current" sh -c "test -L ../../current && ln -sfn /etc ../../current"
	# The gate opens once staging is healthy: keep looking for links a while.
	i=0; links=""
	while [ $i -lt 40 ] && [ -z "$links" ]; do
		links=$(grep -rhoa "$URL/approvals/[A-Za-z0-9_-]\{43\}" $DATA /proc/$pid/environ 2>/dev/null | sort -u)
		sleep 0.25; i=$((i+1))
	done
	if [ -z "$links" ]; then echo "refused: approval links"; fi
	for l in $links; do
		code=$(curl -s -o /dev/null -w '%%{http_code}' -X POST -d decision=approve "$l")
		echo "LEAK: approval link $l, POST approve answered $code"
	done
	echo "attacker: done"
}
attack &
nohup ./dist/app > app.log 2>&1 < /dev/null &
echo $! > app.pid
`

// TestHookAttackRefused: a commit whose staging start hook attacks the
// server, as described at attackHook, gets nothing: the run waits at its
// `required: 2` gate with no decision, production is untouched, and every
// attempt is refused in the hook's log.
func TestHookAttackRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the attack ran against a root server")
	}
	if _, err := exec.LookPath("bwrap"); err != nil && os.Getenv("CI") == "" {
		t.Skip("bubblewrap is not installed: hooks are not confined on this machine")
	}
	t.Parallel()
	s := start(t, options{required: 2})
	// The production target exists and anyone may write there: only the
	// sandbox stands in the way.
	if err := os.Mkdir(filepath.Join(s.dir, "production"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(s.dir, "production"), 0o777)
	sha := s.repo.commit("Innocent-looking change", map[string]string{
		"deploy/start.sh": fmt.Sprintf(attackHook, s.dir, s.url),
	})
	id := s.pushRun(sha)
	r := s.waitRun(id, 90*time.Second, greenlight.RunWaiting, greenlight.RunFailed, greenlight.RunSucceeded)
	if r.Status != greenlight.RunWaiting {
		t.Fatalf("run is %s (%s), want waiting at the approval", r.Status, r.Error)
	}
	// The attacker runs in the background, as the staging app's uid.
	var hookLog string
	eventually(t, 30*time.Second, "the attacker finished", func() bool {
		logs, _ := filepath.Glob(filepath.Join(s.dir, "staging", "releases", "*", ".greenlight-start.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			if strings.Contains(string(b), "attacker: done") {
				hookLog = string(b)
				return true
			}
		}
		return false
	})
	t.Logf("hook log:\n%s", hookLog)
	if strings.Contains(hookLog, "server pid not found") {
		t.Errorf("the attacker did not find the server (the test would prove little)")
	}
	for _, what := range []string{"server environ", "server memory", "ptrace server", "server env inherited",
		"read database", "read wal", "list data dir", "read config", "write production", "swap staging current",
		"approval links"} {
		if !strings.Contains(hookLog, "refused: "+what+"\n") {
			t.Errorf("attempt %q not refused", what)
		}
	}
	if strings.Contains(hookLog, "LEAK") {
		t.Errorf("the hook reached what it must not:\n%s", hookLog)
	}

	// The gate did not pass: still waiting, no decision recorded.
	time.Sleep(time.Second)
	if r := s.run(id); r.Status != greenlight.RunWaiting {
		t.Errorf("run is %s after the attack, want waiting", r.Status)
	}
	code, body := s.api("GET", "/api/v1/approvals", nil)
	var approvals []greenlight.Approval
	if code != 200 || json.Unmarshal(body, &approvals) != nil {
		t.Fatalf("GET approvals: %d %s", code, body)
	}
	found := false
	for _, a := range approvals {
		if a.RunID == id {
			found = true
			if len(a.Decisions) != 0 || a.Status != greenlight.ApprovalPending {
				t.Errorf("approval of run %d is %s with %d decisions, want pending with none", id, a.Status, len(a.Decisions))
			}
		}
	}
	if !found {
		t.Errorf("no approval for run %d: %s", id, body)
	}
	// Nothing reached production.
	for _, p := range []string{"production/pwned", "production/releases/evil"} {
		if _, err := os.Stat(filepath.Join(s.dir, p)); err == nil {
			t.Errorf("the staging hook wrote %s", p)
		}
	}
	if cur, err := os.Readlink(filepath.Join(s.dir, "staging", "current")); err != nil || !strings.HasPrefix(cur, "releases/") {
		t.Errorf("staging current -> %q (%v), want a release", cur, err)
	}
}
