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

// TestRetention: `greenlight gc` beside the serving server deletes a failed
// old run with its log, and the logs of older runs, but keeps the run and
// artifact of what is live; --dry-run lists the same and deletes nothing.
func TestRetention(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg, top: "retention: {runs: 1s, logs: 1s, keep: 0}\n"})
		live := s.pushRun(s.repo.head())
		s.waitRun(live, 90*time.Second, greenlight.RunWaiting)
		link := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")
		if code, page := decide(t, link, "approve", ""); code != 200 {
			t.Fatalf("approve: %d\n%s", code, page)
		}
		artifact := s.waitRun(live, 60*time.Second, greenlight.RunSucceeded).Artifact.SHA256
		broken := s.pushRun(s.repo.commit("Break the build", map[string]string{
			".greenlight.yml": "steps:\n  - name: test\n    run: echo failing on purpose; exit 3\nartifacts: [dist/]\n"}))
		s.waitRun(broken, 60*time.Second, greenlight.RunFailed)
		if !strings.Contains(s.stageLog(broken, "build"), "failing on purpose") {
			t.Fatalf("the failed build has no log")
		}
		time.Sleep(1100 * time.Millisecond) // older than retention's 1s

		out, err := s.command("gc", "--dry-run", "--config", s.config)
		if err != nil {
			t.Fatalf("gc --dry-run: %v\n%s", err, out)
		}
		for _, want := range []string{fmt.Sprintf("would delete run hello #%d (failed", broken),
			fmt.Sprintf("would delete logs of run #%d", live)} {
			if !strings.Contains(out, want) {
				t.Errorf("gc --dry-run does not say %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, fmt.Sprintf("run hello #%d ", live)) || strings.Contains(out, "artifact "+artifact) {
			t.Errorf("gc --dry-run would delete the live run or its artifact:\n%s", out)
		}
		if code, _ := s.api("GET", fmt.Sprintf("/api/v1/runs/%d", broken), nil); code != 200 {
			t.Fatalf("a dry run deleted run %d: %d", broken, code)
		}

		out, err = s.command("gc", "--config", s.config)
		if err != nil {
			t.Fatalf("gc: %v\n%s", err, out)
		}
		if code, _ := s.api("GET", fmt.Sprintf("/api/v1/runs/%d", broken), nil); code != 404 {
			t.Errorf("the old failed run answers %d after gc, want 404", code)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "data", "logs", fmt.Sprint(live))); !os.IsNotExist(err) {
			t.Errorf("the live run's old logs were kept: %v", err)
		}
		if r := s.run(live); r.Status != greenlight.RunSucceeded {
			t.Errorf("the live run after gc: %s", r.Status)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "data", "artifacts", artifact+".tar.gz")); err != nil {
			t.Errorf("the live artifact was deleted: %v", err)
		}
		code, body := s.api("GET", "/api/v1/pipelines/hello/environments/production", nil)
		if code != 200 || !strings.Contains(string(body), artifact) {
			t.Errorf("production after gc: %d %s", code, body)
		}
	})
}
