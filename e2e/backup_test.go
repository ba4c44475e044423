package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// command runs the binary on the server's configuration with its environment.
func (s *server) command(args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir, "GREENLIGHT_ADMIN_TOKEN=" + adminToken,
		"HOOK_SECRET=" + hookSecret}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestBackupRestore: a backup taken while the server runs, with a run waiting
// for approval, restored into an empty data directory after the first one
// is lost (kill -9, directory gone): the run still waits, the approval link
// from the mail still works, and production gets the artifact from the
// backup. On PostgreSQL the database survives and the data directory is what
// is lost.
func TestBackupRestore(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg})
		id := s.pushRun(s.repo.head())
		r := s.waitRun(id, 90*time.Second, greenlight.RunWaiting)
		link := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")

		file := filepath.Join(s.dir, "greenlight.backup")
		out, err := s.command("backup", "--config", s.config, "--out", file)
		if err != nil {
			t.Fatalf("backup while serving: %v\n%s", err, out)
		}
		if !strings.Contains(out, "1 artifacts") {
			t.Errorf("backup printed %q, want the run's one artifact", out)
		}
		if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("backup file: %v %v, want mode 0600", st, err)
		}
		if out, err := s.command("backup", "--config", s.config, "--out", file); err == nil {
			t.Errorf("a second backup replaced the first: %s", out)
		}

		s.kill()
		data := filepath.Join(s.dir, "data")
		if err := os.Rename(data, data+".lost"); err != nil {
			t.Fatal(err)
		}
		if out, err := s.command("restore", "--in", file, "--config", s.config); err != nil {
			t.Fatalf("restore: %v\n%s", err, out)
		}
		if out, err := s.command("restore", "--in", file, "--config", s.config); err == nil || !strings.Contains(out, "is not empty") {
			t.Errorf("a restore over a restored directory: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(data, "artifacts", r.Artifact.SHA256+".tar.gz")); err != nil {
			t.Fatalf("the run's artifact was not restored: %v", err)
		}
		s.boot()
		if got := s.run(id); got.Status != greenlight.RunWaiting {
			t.Fatalf("after restore the run is %s", got.Status)
		}
		if code, page := decide(t, link, "approve", ""); code != 200 {
			t.Fatalf("approve after restore: %d\n%s", code, page)
		}
		done := s.waitRun(id, 60*time.Second, greenlight.RunSucceeded)
		if done.Artifact.SHA256 != r.Artifact.SHA256 {
			t.Errorf("production got %s, the run built %s", done.Artifact.SHA256, r.Artifact.SHA256)
		}
	})
}
