package orchestrator

import (
	"context"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// A failing build's test reports are recorded on the run: failing tests are
// what people must see. A build that writes none has no summary.
func TestBuildRecordsTestsOnFailure(t *testing.T) {
	report := `<testsuite><testcase name="TestA"/><testcase name="TestB"><failure message="boom"/></testcase><testcase name="TestC"><skipped/></testcase></testsuite>`
	repo := newGitRepo(t, "steps:\n  - name: test\n    run: mkdir -p out && printf '%s' '"+report+"' > out/TEST-a.xml && exit 3\n"+
		"reports: {junit: [out/TEST-*.xml]}\n")
	te := newTestEngine(t, `
  - name: hello
    source: {repo: `+repo.dir+`, branch: main}
    stages: [{name: build, type: build}]
`, nil, true)
	run, err := te.Trigger(context.Background(), "hello", greenlight.TriggerRequest{By: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	got := te.waitRun(run.ID)
	want := greenlight.TestSummary{Passed: 1, Failed: 1, Skipped: 1, Failures: []greenlight.TestFailure{{Name: "TestB", Message: "boom"}}}
	if got.Status != greenlight.RunFailed || got.Tests == nil || !equalSummary(*got.Tests, want) {
		t.Fatalf("run %s, tests %+v; want failed with %+v", got.Status, got.Tests, want)
	}
	if got.TriggeredBy != "ada@example.com" {
		t.Errorf("triggered_by %q", got.TriggeredBy)
	}
	if log := te.log(run.ID, "build"); !strings.Contains(log, "==> tests: 1 passed, 1 failed, 1 skipped (1 report)\n") {
		t.Errorf("build log:\n%s", log)
	}

	repo.commit("No reports", map[string]string{".greenlight.yml": "steps: [{run: 'true'}]\nreports: {junit: [out/*.xml]}\n"})
	run, err = te.Trigger(context.Background(), "hello", greenlight.TriggerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := te.waitRun(run.ID); got.Status != greenlight.RunSucceeded || got.Tests != nil || got.TriggeredBy != "" {
		t.Errorf("run %s (%s), tests %+v, triggered_by %q; want succeeded without a summary or a name", got.Status, got.Error, got.Tests, got.TriggeredBy)
	}
	if log := te.log(run.ID, "build"); !strings.Contains(log, "==> test reports out/*.xml: no file matches\n") {
		t.Errorf("build log:\n%s", log)
	}
}

func equalSummary(a, b greenlight.TestSummary) bool {
	if a.Passed != b.Passed || a.Failed != b.Failed || a.Skipped != b.Skipped || len(a.Failures) != len(b.Failures) {
		return false
	}
	for i := range a.Failures {
		if a.Failures[i] != b.Failures[i] {
			return false
		}
	}
	return true
}
