package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// TestDiskFull: a build that fills the disk holding the data directory fails
// with that reason, and the server goes on: the API answers, and a run that
// was waiting for approval is approved and deployed.
func TestDiskFull(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		s := start(t, options{postgres: pg, tmpfs: "64m"})
		waiting := s.pushRun(s.repo.head())
		s.waitRun(waiting, 90*time.Second, greenlight.RunWaiting)
		link := s.mailTo("pm@example.com", "Approve", 30*time.Second).Link("decision=approve")

		full := s.pushRun(s.repo.commit("Fill the disk", map[string]string{
			".greenlight.yml": "steps:\n  - name: fill\n    run: dd if=/dev/zero of=big bs=1M count=200 2>&1; exit 1\nartifacts: [dist/]\n"}))
		r := s.waitRun(full, 90*time.Second, greenlight.RunFailed)
		if !strings.Contains(r.Error, "disk") || !strings.Contains(r.Error, "full") {
			t.Errorf("the failed build says %q, want that the disk is full", r.Error)
		}
		if code, _ := s.api("GET", "/api/v1/runs", nil); code != 200 {
			t.Errorf("the API answers %d after the disk filled", code)
		}
		if code, page := decide(t, link, "approve", "still fine"); code != 200 {
			t.Fatalf("approve after the disk filled: %d\n%s", code, page)
		}
		s.waitRun(waiting, 60*time.Second, greenlight.RunSucceeded)
	})
}
