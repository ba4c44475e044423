package notify_test

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
