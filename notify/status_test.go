package notify_test

// The forges cannot run here, so statuses go to a recording HTTP server that
// speaks the forge's API (package forge tests each API's shape); these tests
// check what is reported, when, and what happens when the forge fails.

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/notify"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

func TestStatusesOfARunThroughARejection(t *testing.T) {
	w := newStatusWorld(t)
	r := w.newRun("hello", nil)
	w.step()
	w.start(r, "build")
	w.step()
	w.finish(r, "build", greenlight.StageSucceeded, 42*time.Second)
	w.step()
	w.start(r, "staging")
	w.step()
	w.finish(r, "staging", greenlight.StageSucceeded, 12*time.Second)
	w.step()

	// The gate opens: the stage waits, the run waits.
	a := &greenlight.Approval{RunID: r.ID, Pipeline: "hello", Stage: "approval", Approvers: []string{"pm@example.com"},
		Required: 1, Deadline: w.clock.Now().Add(72 * time.Hour), Status: greenlight.ApprovalPending, CreatedAt: w.clock.Now()}
	if err := w.store.CreateApproval(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	now := w.clock.Now()
	r.Stage("approval").Status, r.Stage("approval").StartedAt, r.Status = greenlight.StageWaiting, &now, greenlight.RunWaiting
	w.update(r)
	w.event(r, greenlight.EventApprovalOpened, greenlight.ApprovalOpened{ApprovalID: a.ID})
	w.step()

	// pm rejects, with a comment that must not reach the forge.
	w.clock.Add(time.Hour)
	if err := w.store.AddDecision(t.Context(), &greenlight.Decision{ApprovalID: a.ID, Approver: "pm@example.com",
		Verdict: greenlight.Reject, Comment: "the password hunter2 is on the page", At: w.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	w.finish(r, "approval", greenlight.StageRejected, 0)
	w.end(r, greenlight.RunRejected)
	w.step()

	got := byContext(w.forge.posted())
	want := map[string][]string{
		"greenlight/hello": {
			"pending queued",
			"running running build",
			"running running staging",
			"pending waiting for approval at approval",
			"failed rejected at approval",
		},
		"greenlight/hello/build":    {"running build running", "success build passed in 42s"},
		"greenlight/hello/staging":  {"running deploying to staging", "success deployed to staging in 12s"},
		"greenlight/hello/approval": {"pending waiting for approval", "failed rejected"},
	}
	for ctx, states := range want {
		if strings.Join(got[ctx], " | ") != strings.Join(states, " | ") {
			t.Errorf("%s:\n got %q\nwant %q", ctx, got[ctx], states)
		}
	}
	if len(got) != len(want) {
		t.Errorf("contexts = %d (%v), want %d: a stage that never ran reports nothing", len(got), got, len(want))
	}
	for _, p := range w.forge.posted() {
		if want := "https://greenlight.example.com/runs/" + fmt.Sprint(r.ID); p.TargetURL != want {
			t.Errorf("%s: target_url %q, want %q", p.Context, p.TargetURL, want)
		}
		if strings.Contains(p.Description, "hunter2") {
			t.Errorf("%s: description %q holds the approver's comment", p.Context, p.Description)
		}
		if strings.Contains(p.Description, "@") {
			t.Errorf("%s: description %q names the approver (public on public repositories)", p.Context, p.Description)
		}
	}
}

func TestOnlyTheNewestStatePerContextIsPosted(t *testing.T) {
	w := newStatusWorld(t)
	r := w.newRun("hello", nil)
	w.start(r, "build")
	w.finish(r, "build", greenlight.StageFailed, 3*time.Second)
	w.end(r, greenlight.RunFailed)
	w.step() // the forge was not asked in between: four events, two contexts

	got := byContext(w.forge.posted())
	want := map[string][]string{
		"greenlight/hello":       {"failed failed at build"},
		"greenlight/hello/build": {"failed build failed after 3s"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("posted %v, want %v", got, want)
	}
}

func TestPipelinesWithoutAForgeReportNothing(t *testing.T) {
	w := newStatusWorld(t)
	r := w.newRun("other", nil)
	w.start(r, "build")
	w.step()
	if n := len(w.forge.posted()); n != 0 {
		t.Errorf("posted %d statuses for a pipeline without a forge, want 0", n)
	}
	list, err := w.store.CommitStatuses(t.Context(), "other", r.Commit.SHA)
	if err != nil || len(list) != 0 {
		t.Errorf("queued %d statuses (%v), want 0", len(list), err)
	}
}

func TestPullRequestRunsReportOnTheirHeadCommit(t *testing.T) {
	w := newStatusWorld(t)
	r := w.newRun("hello", &greenlight.PullRequest{Number: 7, HeadBranch: "feature", BaseBranch: "main"})
	w.start(r, "build")
	w.step()
	list, err := w.store.CommitStatuses(t.Context(), "hello", commit().SHA)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1].Context != "greenlight/hello/pr/build" || list[1].DoneAt == nil {
		t.Errorf("statuses of the head commit: %+v, want the run's and the build's, posted", list)
	}
}

// A pull request's run and a branch run of the same commit (a request from
// a branch of the same repository) report under their own contexts: the
// failed request must not be hidden by the branch's success, nor the other
// way round.
func TestPullRequestAndBranchRunsOfOneCommitKeepTheirStatuses(t *testing.T) {
	w := newStatusWorld(t)
	branch := w.newRun("hello", nil)
	pr := w.newRun("hello", &greenlight.PullRequest{Number: 7, HeadBranch: "feature", BaseBranch: "main"})
	w.start(branch, "build")
	w.start(pr, "build")
	w.finish(pr, "build", greenlight.StageFailed, time.Second)
	w.end(pr, greenlight.RunFailed)
	w.finish(branch, "build", greenlight.StageSucceeded, time.Second)
	w.step()
	got := map[string]string{}
	list, err := w.store.CommitStatuses(t.Context(), "hello", commit().SHA)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		got[s.Context] = string(s.State) + " " + s.Description
	}
	want := map[string]string{
		"greenlight/hello":          "running running build",
		"greenlight/hello/build":    "success build passed in 2s",
		"greenlight/hello/pr":       "failure failed at build",
		"greenlight/hello/pr/build": "failure build failed after 1s",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statuses of the commit:\n got %v\nwant %v", got, want)
	}
}

func TestFailingForgeIsRetriedWithBackoffAcrossARestart(t *testing.T) {
	w := newStatusWorld(t)
	w.forge.answers = []int{500}
	r := w.newRun("hello", nil)
	w.step()
	if n := len(w.forge.posted()); n != 1 {
		t.Fatalf("attempts = %d, want 1", n)
	}
	list, err := w.store.CommitStatuses(t.Context(), "hello", r.Commit.SHA)
	if err != nil || len(list) != 1 {
		t.Fatalf("statuses = %v, %v", list, err)
	}
	st := list[0]
	if st.DoneAt != nil || st.Attempts != 1 || !strings.Contains(st.LastError, "HTTP 500") || !st.NextAttempt.After(w.clock.Now()) {
		t.Fatalf("after a 500: %+v, want due later with the error", st)
	}
	if strings.Contains(st.LastError, forgeToken) {
		t.Errorf("stored error %q holds the token", st.LastError)
	}

	// Not due yet: nothing is sent.
	w.step()
	if n := len(w.forge.posted()); n != 1 {
		t.Fatalf("attempts before the backoff passed = %d, want 1", n)
	}
	// A restart loses nothing: a new sender finds the status due later.
	w.sender = w.newSender()
	w.clock.Add(10 * time.Minute)
	w.step()
	if n := len(w.forge.posted()); n != 2 {
		t.Fatalf("attempts after the backoff = %d, want 2", n)
	}
	list, _ = w.store.CommitStatuses(t.Context(), "hello", r.Commit.SHA)
	if st := list[0]; st.DoneAt == nil || st.LastError != "" || st.Attempts != 2 {
		t.Errorf("after the retry: %+v, want done after 2 attempts", st)
	}
	w.clock.Add(time.Hour)
	w.step()
	if n := len(w.forge.posted()); n != 2 {
		t.Errorf("attempts after success = %d, want 2", n)
	}
}

func TestRefusedStatusIsDroppedAfterAFewAttempts(t *testing.T) {
	w := newStatusWorld(t)
	w.forge.answers = []int{401, 401, 401, 401, 401}
	r := w.newRun("hello", nil)
	for range 6 {
		w.step()
		w.clock.Add(10 * time.Minute)
	}
	if n := len(w.forge.posted()); n != 3 {
		t.Errorf("attempts = %d, want 3, then give up", n)
	}
	list, err := w.store.CommitStatuses(t.Context(), "hello", r.Commit.SHA)
	if err != nil || len(list) != 1 {
		t.Fatalf("statuses = %v, %v", list, err)
	}
	if st := list[0]; st.DoneAt == nil || !strings.Contains(st.LastError, "HTTP 401") {
		t.Errorf("after 3 refusals: %+v, want dropped with the reason", st)
	}
	logs := w.logs.String()
	if !strings.Contains(logs, "commit status dropped: the forge refused it") || !strings.Contains(logs, "HTTP 401") {
		t.Errorf("the log does not say the status was dropped and why:\n%s", logs)
	}

	// A newer state is tried again: the token may have been fixed.
	w.forge.answers = nil
	w.start(r, "build")
	w.step()
	if n := len(w.forge.posted()); n != 5 {
		t.Errorf("attempts after a new state = %d, want 5 (run and build contexts)", n)
	}
}

func TestPartialApprovalIsReported(t *testing.T) {
	w := newStatusWorld(t)
	r := w.newRun("hello", nil)
	a := &greenlight.Approval{RunID: r.ID, Pipeline: "hello", Stage: "approval",
		Approvers: []string{"pm@example.com", "cto@example.com", "qa@example.com"}, Required: 2,
		Deadline: w.clock.Now().Add(time.Hour), Status: greenlight.ApprovalPending, CreatedAt: w.clock.Now()}
	if err := w.store.CreateApproval(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	w.event(r, greenlight.EventApprovalOpened, greenlight.ApprovalOpened{ApprovalID: a.ID})
	w.step()
	if err := w.store.AddDecision(t.Context(), &greenlight.Decision{ApprovalID: a.ID, Approver: "pm@example.com",
		Verdict: greenlight.Approve, At: w.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	w.event(r, greenlight.EventApprovalDecided, greenlight.ApprovalDecided{ApprovalID: a.ID,
		Approver: "pm@example.com", Verdict: greenlight.Approve, Status: greenlight.ApprovalPending})
	w.step()
	got := byContext(w.forge.posted())["greenlight/hello/approval"]
	want := []string{"pending waiting for 2 approvals", "pending 1 of 2 approvals"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("approval context: got %q, want %q", got, want)
	}
}

func TestOldEventsAreNotReported(t *testing.T) {
	w := newStatusWorld(t)
	r := w.newRun("hello", nil) // written now; read two hours later, as after an upgrade
	w.start(r, "build")
	w.clock.Add(2 * time.Hour)
	w.finish(r, "build", greenlight.StageSucceeded, time.Second)
	w.step()
	got := byContext(w.forge.posted())
	want := map[string][]string{"greenlight/hello/build": {"success build passed in 2h0m1s"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("posted %v, want only the fresh event's status %v", got, want)
	}
	if c, _ := w.store.Cursor(t.Context(), notify.StatusSubscriber); c == 0 {
		t.Error("the cursor did not move past the old events")
	}
}

func TestStatusReporterRefusesUnusableConfig(t *testing.T) {
	for _, cfg := range []notify.StatusConfig{
		{Store: storetest.SQLite(t), PublicURL: "/relative"},
		{PublicURL: publicURL},
	} {
		if err := notify.NewStatusReporter(cfg).Run(t.Context()); greenlight.ErrorCode(err) != greenlight.EINVALID {
			t.Errorf("Run with %+v = %v, want EINVALID", cfg, err)
		}
	}
}
