package notify_test

// The forges cannot run here, so statuses go to a recording HTTP server that
// speaks the forge's API (package forge tests each API's shape); these tests
// check what is reported, when, and what happens when the forge fails.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/forge"
	"github.com/greenlight-cd/greenlight/notify"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

const forgeToken = "glpat-7Hq2-very-secret-token"

// posted is one status the recording forge received.
type posted struct {
	Context, State, Description, TargetURL string
}

// fakeForge records statuses and answers with the codes queued in answers
// (201 once they run out).
type fakeForge struct {
	mu      sync.Mutex
	got     []posted
	answers []int
}

func (f *fakeForge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		State       string `json:"state"`
		Name        string `json:"name"`
		Description string `json:"description"`
		TargetURL   string `json:"target_url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("PRIVATE-TOKEN") != forgeToken {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, posted{body.Name, body.State, body.Description, body.TargetURL})
	code := http.StatusCreated
	if len(f.answers) > 0 {
		code, f.answers = f.answers[0], f.answers[1:]
	}
	w.WriteHeader(code)
	if code >= 300 {
		// A forge echoing the token must not get it into a log.
		fmt.Fprintf(w, `{"message":"%d Unauthorized: token %s"}`, code, forgeToken)
	}
}

func (f *fakeForge) posted() []posted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]posted(nil), f.got...)
}

// syncBuffer collects log output from concurrent senders.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// statusWorld is a real SQLite store, a GitLab-speaking recording forge for
// pipeline hello (none for other pipelines), a reporter and a sender.
type statusWorld struct {
	t        *testing.T
	store    greenlight.Store
	clock    *clock
	forge    *fakeForge
	client   forge.Client
	logs     *syncBuffer
	log      *slog.Logger
	reporter *notify.StatusReporter
	sender   *notify.StatusSender
}

func newStatusWorld(t *testing.T) *statusWorld {
	w := &statusWorld{t: t, store: storetest.SQLite(t), clock: newClock(), forge: &fakeForge{}, logs: &syncBuffer{}}
	srv := httptest.NewServer(w.forge)
	t.Cleanup(srv.Close)
	w.log = slog.New(slog.NewTextHandler(io.MultiWriter(w.logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := forge.New(forge.Config{Type: forge.GitLab, API: srv.URL + "/api/v4", Repo: "acme/hello", Token: forgeToken})
	if err != nil {
		t.Fatal(err)
	}
	w.client = client
	w.reporter = notify.NewStatusReporter(notify.StatusConfig{Store: w.store, PublicURL: publicURL,
		Reports: func(p string) bool { return p == "hello" }, Now: w.clock.Now, Log: w.log})
	w.sender = w.newSender()
	t.Cleanup(func() {
		if strings.Contains(w.logs.String(), forgeToken) {
			t.Errorf("the forge token appears in the log:\n%s", w.logs.String())
		}
	})
	return w
}

// newSender is a sender as after a restart: nothing in memory.
func (w *statusWorld) newSender() *notify.StatusSender {
	return notify.NewStatusSender(w.store, func(p string) forge.Client {
		if p == "hello" {
			return w.client
		}
		return nil
	}, w.clock.Now, w.log)
}

// step lets the reporter read the log and the sender post what is due.
func (w *statusWorld) step() {
	w.t.Helper()
	if err := w.reporter.Drain(w.t.Context()); err != nil {
		w.t.Fatalf("Drain: %v", err)
	}
	if err := w.sender.SendDue(w.t.Context()); err != nil {
		w.t.Fatalf("SendDue: %v", err)
	}
}

func (w *statusWorld) newRun(pipeline string, pr *greenlight.PullRequest) *greenlight.Run {
	w.t.Helper()
	r := &greenlight.Run{Pipeline: pipeline, Status: greenlight.RunQueued, Trigger: greenlight.TriggerWebhook,
		Commit: commit(), PullRequest: pr, CreatedAt: w.clock.Now(),
		Stages: []greenlight.Stage{
			{Name: "build", Type: greenlight.StageBuild, Status: greenlight.StagePending},
			{Name: "staging", Type: greenlight.StageDeploy, Environment: "staging", Status: greenlight.StagePending},
			{Name: "approval", Type: greenlight.StageApproval, Status: greenlight.StagePending},
			{Name: "production", Type: greenlight.StageDeploy, Environment: "production", Status: greenlight.StagePending},
		}}
	if err := w.store.CreateRun(w.t.Context(), r); err != nil {
		w.t.Fatal(err)
	}
	w.event(r, greenlight.EventRunCreated, nil)
	return r
}

func (w *statusWorld) event(r *greenlight.Run, typ greenlight.EventType, data any) {
	w.t.Helper()
	var raw json.RawMessage
	if data != nil {
		raw, _ = json.Marshal(data)
	}
	e := greenlight.Event{Pipeline: r.Pipeline, RunID: r.ID, Type: typ, Data: raw, CreatedAt: w.clock.Now()}
	if err := w.store.AppendEvent(w.t.Context(), &e); err != nil {
		w.t.Fatal(err)
	}
}

func (w *statusWorld) update(r *greenlight.Run) {
	w.t.Helper()
	if err := w.store.UpdateRun(w.t.Context(), r); err != nil {
		w.t.Fatal(err)
	}
}

// start and finish move a stage as the orchestrator does, with its event.
func (w *statusWorld) start(r *greenlight.Run, stage string) {
	now := w.clock.Now()
	s := r.Stage(stage)
	s.Status, s.StartedAt = greenlight.StageRunning, &now
	r.Status = greenlight.RunRunning
	w.update(r)
	w.event(r, greenlight.EventStageStarted, map[string]any{"stage": stage, "attempt": 1})
}

func (w *statusWorld) finish(r *greenlight.Run, stage string, status greenlight.StageStatus, took time.Duration) {
	w.clock.Add(took)
	now := w.clock.Now()
	s := r.Stage(stage)
	s.Status, s.FinishedAt = status, &now
	w.update(r)
	w.event(r, greenlight.EventStageFinished, map[string]string{"stage": stage, "status": string(status)})
}

func (w *statusWorld) end(r *greenlight.Run, status greenlight.RunStatus) {
	now := w.clock.Now()
	for i := range r.Stages {
		if r.Stages[i].Status == greenlight.StagePending {
			r.Stages[i].Status = greenlight.StageSkipped
		}
	}
	r.Status, r.FinishedAt = status, &now
	w.update(r)
	w.event(r, greenlight.EventRunFinished, greenlight.RunFinished{Status: status})
}

// byContext groups what the forge received: "state description" per context.
func byContext(ps []posted) map[string][]string {
	out := map[string][]string{}
	for _, p := range ps {
		out[p.Context] = append(out[p.Context], p.State+" "+p.Description)
	}
	return out
}

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
			"failed rejected by pm@example.com",
		},
		"greenlight/hello/build":    {"running build running", "success build passed in 42s"},
		"greenlight/hello/staging":  {"running deploying to staging", "success deployed to staging in 12s"},
		"greenlight/hello/approval": {"pending waiting for approval", "failed rejected by pm@example.com"},
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
	if len(list) != 2 || list[1].Context != "greenlight/hello/build" || list[1].DoneAt == nil {
		t.Errorf("statuses of the head commit: %+v, want the run's and the build's, posted", list)
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
