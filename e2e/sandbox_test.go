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

// TestStepCannotReachSecrets: a build step runs the repository's code, so it
// must not read the server's database, admin token or environment, nor use
// the API to approve its own run.
func TestStepCannotReachSecrets(t *testing.T) {
	if _, err := os.Stat("/usr/bin/bwrap"); err != nil && os.Getenv("CI") == "" {
		t.Skip("bubblewrap is not installed: builds are not isolated on this machine (CI installs it)")
	}
	t.Parallel()
	// The data directory is known before the server starts: start() puts it
	// at <dir>/data, so the steps below are written after start() picks dir.
	s := start(t, options{})
	data := filepath.Join(s.dir, "data")
	probe := fmt.Sprintf(`set +e
for f in %[1]s/greenlight.db %[1]s/admin-token; do
  if cat "$f" >/dev/null 2>&1; then echo "LEAK: read $f"; else echo "refused: $f"; fi
done
if ls %[1]s/workspaces 2>/dev/null | grep -vqx "$GREENLIGHT_RUN"; then echo "LEAK: other workspaces visible"; fi
if env | grep -q do-not-leak; then echo "LEAK: server environment"; fi
echo x > %[1]s/planted 2>/dev/null # lands in the sandbox's empty tmpfs at most: checked from outside below
code=$(curl -s -o /dev/null -w '%%{http_code}' %[2]s/api/v1/outbox 2>/dev/null || echo none)
echo "api without token: $code"
true`, data, s.url)
	sha := s.repo.commit("Probe the sandbox", map[string]string{
		".greenlight.yml": "steps:\n  - name: probe\n    run: |\n" + indent(probe, "      "),
	})
	id := s.pushRun(sha)
	s.waitRun(id, 90*time.Second, greenlight.RunWaiting, greenlight.RunFailed, greenlight.RunSucceeded)
	code, logs := s.api("GET", fmt.Sprintf("/api/v1/runs/%d/logs?stage=build", id), nil)
	if code != 200 || !strings.Contains(string(logs), "refused: "+data+"/admin-token") {
		t.Fatalf("probe did not run: %d\n%s", code, logs)
	}
	if strings.Contains(string(logs), "LEAK") {
		t.Errorf("a build step reached what the server guards:\n%s", logs)
	}
	if strings.Contains(string(logs), "api without token: 200") {
		t.Errorf("the API answered a step without a token:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(data, "planted")); err == nil {
		t.Errorf("a step planted a file in the data directory")
	}
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}
