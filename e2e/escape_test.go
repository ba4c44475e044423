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

// TestBuildCannotEscape is what a malicious commit tries from a build step
// when the server runs as root (as CI runs it): undo the sandbox's mounts,
// read the database and the config, call the API with what it found,
// remount the host writable and leave a file there, and do the same from a
// user namespace of its own. Every attempt must fail, and the step must
// hold no capability.
func TestBuildCannotEscape(t *testing.T) {
	requireSandbox(t)
	t.Parallel()
	s := start(t, options{})
	data := filepath.Join(s.dir, "data")
	mark := filepath.Join("/var/tmp", fmt.Sprintf("greenlight-escape-%d", time.Now().UnixNano()))
	t.Cleanup(func() { os.Remove(mark) })
	probe := fmt.Sprintf(`set +e
echo "uid=$(id -u)"
grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status || echo "ESCAPE: holds capabilities: $(grep CapEff /proc/self/status)"
umount -l %[1]s 2>/dev/null && echo "ESCAPE: unmounted the data directory"
umount -l /tmp 2>/dev/null && echo "ESCAPE: unmounted the private /tmp"
for f in %[1]s/greenlight.db %[1]s/greenlight.db-wal %[2]s; do
  if cat "$f" >/dev/null 2>&1; then echo "ESCAPE: read $f"; fi
done
tok=$(grep -ao 'admin_token: .*' %[2]s 2>/dev/null)
code=$(curl -s -o /dev/null -w '%%{http_code}' -H "Authorization: Bearer $tok" %[3]s/api/v1/runs 2>/dev/null)
[ "$code" = 200 ] && echo "ESCAPE: the API answered"
mount -o remount,rw,bind / 2>/dev/null && echo "ESCAPE: remounted the host writable"
touch %[4]s 2>/dev/null && echo "ESCAPE: wrote %[4]s"
unshare -Urm sh -c 'umount -l %[1]s 2>/dev/null; cat %[1]s/greenlight.db' 2>/dev/null | head -c 64 | grep -q . && echo "ESCAPE: read the database from a user namespace"
kill -0 1 2>/dev/null; ps -eo user,pid,comm | grep -q greenlight && echo "ESCAPE: sees the server's process"
echo probe-done
true`, data, s.config, s.url, mark)
	sha := s.repo.commit("Try to escape the sandbox", map[string]string{
		".greenlight.yml": "steps:\n  - name: probe\n    run: |\n" + indent(probe, "      "),
	})
	id := s.pushRun(sha)
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting, greenlight.RunFailed, greenlight.RunSucceeded)
	logs := s.stageLog(id, "build")
	if !strings.Contains(logs, "probe-done") {
		t.Fatalf("the probe did not run to its end:\n%s", logs)
	}
	if strings.Contains(logs, "ESCAPE") {
		t.Errorf("a build step got out of its sandbox:\n%s", logs)
	}
	if strings.Contains(logs, "uid=0\n") {
		t.Errorf("a build step ran as root:\n%s", logs)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Errorf("a build step wrote %s on the host", mark)
	}
}

// TestBuildLimits: the build stage's limits stop a process storm, a
// runaway allocation, a full disk and a flood of output, each with its
// reason, and the server and its log stay small.
func TestBuildLimits(t *testing.T) {
	requireSandbox(t)
	t.Parallel()
	s := start(t, options{build: "limits: {processes: 64, memory: 64MiB, disk: 16MiB, log: 1MiB, tmp: 4MiB}"})
	tests := []struct {
		name, script, want string
	}{
		{"processes", `i=0; while [ $i -lt 300 ]; do sleep 60 & i=$((i+1)); done; echo "all-$((150*2))-started"`, "ork"}, // dash: "Cannot fork", bash: "fork: retry: Resource temporarily unavailable"
		{"memory", `dd if=/dev/zero of=/dev/null bs=256M count=1`, "memory exhausted"},
		{"disk", `i=0; while [ $i -lt 40 ]; do dd if=/dev/zero of=f$i bs=1M count=1 2>/dev/null; i=$((i+1)); done; sleep 20`, "disk limit exceeded"},
		{"tmp", `dd if=/dev/zero of=/tmp/fill bs=1M count=16`, "No space left on device"},
		{"one 50 MB line", `head -c 50000000 /dev/zero | tr '\0' x; echo; echo after-the-line; false`, "[line cut: longer than 65536 bytes]\nafter-the-line"},
	}
	for _, tt := range tests {
		sha := s.repo.commit("Limit: "+tt.name, map[string]string{
			".greenlight.yml": "steps:\n  - name: greedy\n    run: |\n" + indent(tt.script, "      "),
		})
		id := s.pushRun(sha)
		run := s.waitRun(id, 90*time.Second, greenlight.RunFailed, greenlight.RunWaiting, greenlight.RunSucceeded)
		logs := s.stageLog(id, "build")
		if run.Status != greenlight.RunFailed {
			t.Errorf("%s: run %s, want failed:\n%.3000s", tt.name, run.Status, logs)
		}
		if !strings.Contains(logs, tt.want) {
			t.Errorf("%s: the log does not say %q:\n%.3000s", tt.name, tt.want, logs)
		}
		if strings.Contains(logs, "all-300-started") {
			t.Errorf("%s: 300 processes started under a limit of 64", tt.name)
		}
		if len(logs) > 1<<20+64<<10 {
			t.Errorf("%s: the stored log holds %d bytes, over the 1 MiB limit", tt.name, len(logs))
		}
	}
	if code, _ := get(t, s.url+"/healthz"); code != 200 {
		t.Fatalf("server unhealthy after the greedy builds: %d", code)
	}
}

// requireSandbox fails on CI and skips elsewhere without bubblewrap.
func requireSandbox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("bubblewrap is required on CI: %v", err)
		}
		t.Skip("bubblewrap is not installed: builds are not isolated on this machine (CI installs it)")
	}
}
