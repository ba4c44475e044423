package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// gate is a file that build steps wait for. It lives under /var/tmp: the
// build sandbox has a private /tmp, and sees the rest of the host read-only.
func gate(t *testing.T) (path string, open func()) {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "greenlight-e2e-gate-")
	if err != nil {
		t.Fatal(err)
	}
	// Steps run as an unprivileged uid of their own when the server is root.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "open")
	return path, func() {
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTriggerParallelNeverDeploysOlder: in mode parallel two runs build at
// once; the newer commit reaches staging first, so the older commit's deploy
// is skipped rather than put it live, though its run is the later one.
func TestTriggerParallelNeverDeploysOlder(t *testing.T) {
	t.Parallel()
	path, open := gate(t)
	steps := fmt.Sprintf("  - name: wait\n    run: 'if [ -f slow ]; then while [ ! -f %s ]; do sleep 0.1; done; fi'\n  - name: build\n    run: mkdir -p dist && cp bin/app dist/app\n", path)
	r := newRepo(t, steps, false)
	s := startPipelines(t, r, `
  - name: hello
    mode: parallel
    source: {repo: "{{REPO}}", branch: main, webhook_secret: "${HOOK_SECRET}"}
    stages:
      - {name: build, type: build, timeout: 2m}
      - {name: staging, type: deploy, environment: staging}
    environments:
      staging:
        targets: [{local: "{{DIR}}/staging", env: {PORT: "{{PORT}}"}}]
        health: {url: "http://127.0.0.1:{{PORT}}/healthz", timeout: 20s}
`)
	older := r.commit("Older", map[string]string{"slow": "1"})
	newer := r.commit("Newer", map[string]string{"slow": ""})
	// The deliveries arrive out of order: the newer commit's first, so its
	// run has the lower id; commit order, not run order, decides.
	newID, _ := s.send("hello", "push", "p-2", pushEvent("refs/heads/main", older, newer, "Newer", false))
	oldID, _ := s.send("hello", "push", "p-1", pushEvent("refs/heads/main", zeros, older, "Older", false))
	if oldID == 0 || newID == 0 {
		t.Fatalf("runs %d, %d", oldID, newID)
	}
	if run := s.waitRun(newID, 2*time.Minute, greenlight.RunSucceeded, greenlight.RunFailed); run.Status != greenlight.RunSucceeded {
		t.Fatalf("newer run %s: %s", run.Status, run.Error)
	}
	if s.run(oldID).Status.Terminal() {
		t.Fatal("the older run finished before its build was let go")
	}
	open()
	run := s.waitRun(oldID, 2*time.Minute, greenlight.RunSuperseded, greenlight.RunSucceeded, greenlight.RunFailed)
	want := fmt.Sprintf("a newer run (#%d) is already deployed to staging", newID)
	if st := run.Stage("staging"); run.Status != greenlight.RunSuperseded || st.Status != greenlight.StageSkipped || st.Error != want {
		t.Fatalf("older run %s, staging %s %q; want superseded, skipped %q", run.Status, st.Status, st.Error, want)
	}
	if run.Stage("build").Status != greenlight.StageSucceeded {
		t.Errorf("older run's build %s", run.Stage("build").Status)
	}
	code, body := s.api("GET", "/api/v1/pipelines/hello/environments/staging", nil)
	if code != 200 || !strings.Contains(string(body), `"commit":"`+newer+`"`) || strings.Contains(string(body), older) {
		t.Errorf("staging: %d %s", code, body)
	}
}

// TestTriggerQueuedUnderPressure: in mode queued, deliveries that arrive
// out of order while a run is busy still run one at a time, in commit order.
func TestTriggerQueuedUnderPressure(t *testing.T) {
	t.Parallel()
	path, open := gate(t)
	steps := fmt.Sprintf("  - name: wait\n    run: 'while [ ! -f %s ]; do sleep 0.1; done'\n  - name: build\n    run: mkdir -p dist && cp bin/app dist/app\n", path)
	r := newRepo(t, steps, false)
	s := startPipelines(t, r, `
  - name: hello
    mode: queued
    source: {repo: "{{REPO}}", branch: main, webhook_secret: "${HOOK_SECRET}"}
    stages: [{name: build, type: build, timeout: 2m}]
`)
	var shas []string
	for i := range 6 {
		shas = append(shas, r.commit(fmt.Sprintf("Commit %d", i+1), map[string]string{"n": fmt.Sprint(i)}))
	}
	// The first arrives alone and starts; the rest come out of order meanwhile.
	order := []int{0, 2, 1, 4, 3, 5}
	ids := map[string]int64{}
	for i, k := range order {
		before := zeros
		if k > 0 {
			before = shas[k-1]
		}
		id, why := s.send("hello", "push", fmt.Sprintf("q-%d", i), pushEvent("refs/heads/main", before, shas[k], "x", false))
		if id == 0 {
			t.Fatalf("delivery %d: %s", i, why)
		}
		ids[shas[k]] = id
	}
	open()
	runs := make([]*greenlight.Run, len(shas))
	for i, sha := range shas {
		runs[i] = s.waitRun(ids[sha], 2*time.Minute, greenlight.RunSucceeded, greenlight.RunFailed)
		if runs[i].Status != greenlight.RunSucceeded {
			t.Fatalf("run of commit %d: %s %s", i+1, runs[i].Status, runs[i].Error)
		}
	}
	for i := 1; i < len(runs); i++ {
		prev, cur := runs[i-1].Stage("build"), runs[i].Stage("build")
		if cur.StartedAt.Before(*prev.FinishedAt) {
			t.Errorf("commit %d started at %s, before commit %d finished at %s", i+1, cur.StartedAt, i, prev.FinishedAt)
		}
	}
}

// TestTriggerBurst: 500 signed deliveries for 50 branches, 16 at a time;
// each is answered and exactly the runs of branches matching feature-*
// start, one per delivery.
func TestTriggerBurst(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "  - name: build\n    run: mkdir -p dist && cp bin/app dist/app\n", false)
	s := startPipelines(t, r, `
  - name: hello
    mode: queued
    source: {repo: "{{REPO}}", branches: ["feature-*", "!feature-*-wip"], webhook_secret: "${HOOK_SECRET}"}
    stages: [{name: build, type: build, timeout: 2m}]
`)
	var shas []string
	for i := range 10 {
		shas = append(shas, r.commit(fmt.Sprintf("Commit %d", i), map[string]string{"n": fmt.Sprint(i)}))
	}
	type delivery struct{ branch, sha, id string }
	var all []delivery
	want := map[string]bool{}
	for b := range 50 {
		branch := fmt.Sprintf("feature-%d", b)
		switch {
		case b%5 == 4:
			branch = fmt.Sprintf("feature-%d-wip", b)
		case b%2 == 1:
			branch = fmt.Sprintf("bugfix-%d", b)
		}
		for i, sha := range shas {
			all = append(all, delivery{branch, sha, fmt.Sprintf("burst-%d-%d", b, i)})
			if strings.HasPrefix(branch, "feature-") && !strings.HasSuffix(branch, "-wip") {
				want[branch+" "+sha] = true
			}
		}
	}
	work := make(chan delivery)
	var mu sync.Mutex
	var problems []string
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				code, out := s.hook("hello", "push", d.id, pushEvent("refs/heads/"+d.branch, zeros, d.sha, "x", false))
				if code/100 != 2 {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("%s: %d %v", d.id, code, out))
					mu.Unlock()
				}
			}
		}()
	}
	for _, d := range all {
		work <- d
	}
	close(work)
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("%d deliveries not answered with 2xx, first: %s", len(problems), problems[0])
	}
	var runs []*greenlight.Run
	deadline := time.Now().Add(2 * time.Minute)
	for {
		runs = s.runs("hello")
		if len(runs) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	got := map[string]int{}
	for _, run := range runs {
		got[run.Commit.Branch+" "+run.Commit.SHA]++
	}
	var wrong []string
	for k, n := range got {
		if !want[k] || n != 1 {
			wrong = append(wrong, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	sort.Strings(wrong)
	if len(runs) != len(want) || len(wrong) > 0 {
		t.Fatalf("%d runs, want %d; unexpected: %v", len(runs), len(want), wrong)
	}
}
