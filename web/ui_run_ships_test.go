package web

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// The run page shows what ships: who started the run and how, the
// committer when not the author, the tests summary with its failures, and
// a compare link from each environment's live release when the forge is
// known.
func TestRunPageShowsWhatShips(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	ctx := context.Background()
	e.srv.Pipelines[0].Source.Forge = &config.Forge{Type: config.ForgeGitHub, API: config.DefaultGitHubAPI, Repo: "acme/hello", Token: "t"}
	live := strings.Repeat("1", 40)
	if err := e.store.CreateRelease(ctx, &greenlight.Release{Pipeline: "hello", Environment: "production", RunID: 1,
		Commit: live, Artifact: strings.Repeat("f", 64), Status: greenlight.ReleaseLive, DeployedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	run := &greenlight.Run{Pipeline: "hello", Status: greenlight.RunFailed, Trigger: greenlight.TriggerWebhook,
		TriggeredBy: "ada@example.com", CreatedAt: e.clock.Now(),
		Commit: greenlight.Commit{SHA: sha2, Branch: "main", Title: "Divide", AuthorName: "Grace Hopper",
			AuthorEmail: "grace@example.com", CommitterEmail: "bot@example.com"},
		Tests: &greenlight.TestSummary{Passed: 41, Failed: 23, Skipped: 2},
		Stages: []greenlight.Stage{
			{Index: 0, Name: "build", Type: greenlight.StageBuild, Status: greenlight.StageFailed},
			{Index: 1, Name: "production", Type: greenlight.StageDeploy, Environment: "production", Status: greenlight.StageSkipped},
		}}
	for i := range greenlight.MaxTestFailures {
		run.Tests.Failures = append(run.Tests.Failures, greenlight.TestFailure{Name: fmt.Sprintf("calc.TestDiv%d", i), Message: "got 1, want <2>"})
	}
	if err := e.store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	resp, body := e.page(c, "/runs/"+itoa(run.ID))
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if out := os.Getenv("SHOT_HTML"); out != "" { // for screenshots while developing
		_ = os.WriteFile(out, []byte(body), 0o644)
	}
	for _, want := range []string{
		`started by ada@example.com via webhook`,
		`<dt>Committer</dt><dd>bot@example.com</dd>`,
		`Tests: 41 passed, 23 failed, 2 skipped`,
		`<li><strong>calc.TestDiv0</strong><pre class="log">got 1, want &lt;2&gt;</pre></li>`,
		`<li><strong>calc.TestDiv19</strong>`,
		`and 3 more failed tests`,
		`href="https://github.com/acme/hello/compare/` + live + `...` + sha2 + `"`,
		`compare 1111111 (live in production) with this commit`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}

	// A run started by nobody, with its author as committer, no reports and
	// an unknown forge shows none of it.
	e.srv.Pipelines[0].Source.Forge = nil
	plain := e.run(greenlight.RunSucceeded, "Plain")
	_, body = e.page(c, "/runs/"+itoa(plain.ID))
	for _, absent := range []string{"started by", "Committer", "Tests:", "compare"} {
		if strings.Contains(body, absent) {
			t.Errorf("plain run page shows %q", absent)
		}
	}
}
