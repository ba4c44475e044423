package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/orchestrator"
	"github.com/greenlight-cd/greenlight/store"
	"github.com/greenlight-cd/greenlight/webhook"
)

const (
	adminToken = "admin-token-for-tests-0123456789"
	hookSecret = "hook-secret"
	sha1       = "0123456789abcdef0123456789abcdef01234567"
	sha2       = "89abcdef0123456789abcdef0123456789abcdef"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testEngine stands in for the orchestrator, which is tested end to end
// elsewhere. Lookup and Decide are the real approval.Service; Trigger, Push
// and Cancel write runs to the real store the way the orchestrator does,
// without running anything.
type testEngine struct {
	srv       *config.Server
	store     greenlight.Store
	approvals *approval.Service
	now       greenlight.Now
	windows   bool // production has deploy windows (api_lock_test.go)
}

var _ Engine = (*testEngine)(nil)

func (e *testEngine) Trigger(ctx context.Context, name string, req greenlight.TriggerRequest) (*greenlight.Run, error) {
	p := e.srv.Pipeline(name)
	if p == nil {
		return nil, greenlight.Errorf(greenlight.ENOTFOUND, "no pipeline %s", name)
	}
	if req.Commit == "" {
		req.Commit = sha1 // the "branch head"
	}
	run := &greenlight.Run{Pipeline: name, Status: greenlight.RunQueued, Trigger: req.Trigger, Params: req.Params,
		Commit:    greenlight.Commit{SHA: req.Commit, Branch: p.Source.Branch, Title: "Commit " + req.Commit[:7], AuthorName: "Ada"},
		CreatedAt: e.now(), TriggeredBy: req.By}
	for i, st := range p.Stages {
		run.Stages = append(run.Stages, greenlight.Stage{Index: i, Name: st.Name, Type: st.Type,
			Environment: st.Environment, Status: greenlight.StagePending})
	}
	if err := e.store.CreateRun(ctx, run); err != nil {
		return nil, fmt.Errorf("create run: %w", err)
	}
	return run, nil
}

// Push stands in for the orchestrator's push path: it starts a run of the
// pipeline's branch or of a pull request, once per delivery id.
func (e *testEngine) Push(ctx context.Context, name string, p *webhook.Push) (*greenlight.Run, string, error) {
	pl := e.srv.Pipeline(name)
	if pl == nil {
		return nil, "", greenlight.Errorf(greenlight.ENOTFOUND, "no pipeline %s", name)
	}
	switch {
	case p.PullRequest != nil:
	case p.Branch != pl.Source.Branch:
		return nil, fmt.Sprintf("branch %s is not %s", p.Branch, pl.Source.Branch), nil
	case p.Deleted:
		return nil, "branch deleted", nil
	}
	if p.DeliveryID != "" {
		fresh, err := e.store.RecordDelivery(ctx, name, p.DeliveryID, e.now())
		if err != nil {
			return nil, "", err
		}
		if !fresh {
			return nil, "delivery " + p.DeliveryID + " was already handled", nil
		}
	}
	run, err := e.Trigger(ctx, name, greenlight.TriggerRequest{Commit: p.After, Trigger: greenlight.TriggerWebhook, By: p.By})
	if err == nil && p.PullRequest != nil {
		run.PullRequest = p.PullRequest
	}
	return run, "", err
}

func (e *testEngine) Cancel(ctx context.Context, id int64) (*greenlight.Run, error) {
	run, err := e.store.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Status.Terminal() {
		return nil, greenlight.Errorf(greenlight.ECONFLICT, "run %d is already %s", id, run.Status)
	}
	now := e.now()
	run.Status, run.FinishedAt, run.Error = greenlight.RunCancelled, &now, "cancelled"
	if err := e.store.UpdateRun(ctx, run); err != nil {
		return nil, err
	}
	return run, nil
}

func (e *testEngine) Lookup(ctx context.Context, token string) (*approval.View, error) {
	return e.approvals.Lookup(ctx, token)
}

func (e *testEngine) Decide(ctx context.Context, token string, in approval.Input) (*approval.Outcome, error) {
	return e.approvals.Decide(ctx, token, in)
}

// env is one test's server over a real SQLite store.
type env struct {
	t     testing.TB
	ts    *httptest.Server
	srv   *config.Server
	store *store.DB
	logs  *store.Logs
	clock *clock
	eng   *testEngine
	inbox *orchestrator.Inbox // processes the webhook deliveries; started by newEnv
	// stopInbox stops the inbox's worker and waits for it.
	stopInbox func()
}

// newEnv starts a Greenlight web server on a fresh store.
func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(context.Background(), "", dir, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e := &env{t: t, store: db, logs: &store.Logs{Dir: dir + "/logs"}, clock: clk}
	// The public URL must be known before the handler is made, and the
	// handler set before the server starts: the listener exists already.
	e.ts = httptest.NewUnstartedServer(nil)
	e.srv = &config.Server{
		PublicURL:  "http://" + e.ts.Listener.Addr().String(),
		AdminToken: adminToken,
		Pipelines: []*config.Pipeline{{
			Name: "hello",
			Mode: config.ModeSuperseded,
			Source: config.Source{Repo: "https://ci-bot:s3cr3t@git.example.com/acme/hello.git",
				Branch: "main", WebhookSecret: hookSecret},
			Stages: []config.Stage{
				{Name: "build", Type: greenlight.StageBuild},
				{Name: "staging", Type: greenlight.StageDeploy, Environment: "staging"},
				{Name: "approval", Type: greenlight.StageApproval, Approvers: []string{"pm@example.com", "cto@example.com"},
					Required: 1, ReviewURL: "http://staging.example.com/"},
				{Name: "production", Type: greenlight.StageDeploy, Environment: "production"},
			},
			Environments: map[string]*config.Environment{
				"staging":    {Name: "staging"},
				"production": {Name: "production"},
			},
		}, {
			Name:   "nosecret",
			Source: config.Source{Repo: "/srv/git/nosecret.git", Branch: "main"},
			Stages: []config.Stage{{Name: "build", Type: greenlight.StageBuild}},
		}},
	}
	e.eng = &testEngine{srv: e.srv, store: db, approvals: approval.New(db, clk.Now), now: clk.Now}
	inbox, err := orchestrator.NewInbox(orchestrator.InboxConfig{Store: db, Push: e.eng.Push, Head: fakeHead, Now: clk.Now,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.inbox = inbox
	e.ts.Config.Handler = NewServer(Config{Server: e.srv, Store: db, Logs: e.logs, Engine: e.eng, Inbox: inbox, Now: clk.Now})
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	e.startInbox()
	return e
}

// startInbox runs the inbox's worker until the test ends or stopInbox.
func (e *env) startInbox() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.inbox.Run(ctx); close(done) }()
	var once sync.Once
	e.stopInbox = func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(e.stopInbox)
}

// fakeHead stands in for git ls-remote: branch2 (of Bitbucket's sample pull
// request) points to the commit its abbreviated head names, every other
// branch to ffff….
func fakeHead(ctx context.Context, repo, branch string) (string, error) {
	if branch == "branch2" {
		return "d3022fc0ca3d" + strings.Repeat("0", 28), nil
	}
	return strings.Repeat("f", 40), nil
}

// do sends a request and returns the status and body.
func (e *env) do(method, path, token string, body io.Reader, header ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body of %s %s: %v", method, path, err)
	}
	return resp, string(b)
}

// api calls the JSON API with the admin token.
func (e *env) api(method, path, body string) (*http.Response, string) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return e.do(method, path, adminToken, r, "Content-Type", "application/json")
}

// run creates a run in the store with the given status.
func (e *env) run(status greenlight.RunStatus, title string) *greenlight.Run {
	e.t.Helper()
	run := &greenlight.Run{Pipeline: "hello", Status: status, Trigger: greenlight.TriggerAPI, CreatedAt: e.clock.Now(),
		Commit: greenlight.Commit{SHA: sha2, Branch: "main", Title: title, AuthorName: "Grace Hopper", AuthorEmail: "grace@example.com"},
		Stages: []greenlight.Stage{
			{Index: 0, Name: "build", Type: greenlight.StageBuild, Status: greenlight.StageSucceeded},
			{Index: 1, Name: "staging", Type: greenlight.StageDeploy, Environment: "staging", Status: greenlight.StageSucceeded},
			{Index: 2, Name: "approval", Type: greenlight.StageApproval, Status: greenlight.StageWaiting},
			{Index: 3, Name: "production", Type: greenlight.StageDeploy, Environment: "production", Status: greenlight.StagePending},
		}}
	if status.Terminal() {
		at := e.clock.Now()
		run.FinishedAt = &at
	}
	if err := e.store.CreateRun(context.Background(), run); err != nil {
		e.t.Fatalf("create run: %v", err)
	}
	return run
}

// gate creates a waiting run with an open approval, and returns the run and
// one raw token per approver.
func (e *env) gate(title string, required int, approvers ...string) (*greenlight.Run, []string) {
	e.t.Helper()
	ctx := context.Background()
	run := e.run(greenlight.RunWaiting, title)
	a := &greenlight.Approval{RunID: run.ID, Pipeline: run.Pipeline, Stage: "approval", Approvers: approvers,
		Required: required, ReviewURL: "http://staging.example.com/", Deadline: e.clock.Now().Add(72 * time.Hour),
		Status: greenlight.ApprovalPending, CreatedAt: e.clock.Now()}
	if err := e.store.CreateApproval(ctx, a); err != nil {
		e.t.Fatalf("create approval: %v", err)
	}
	var tokens []string
	for _, who := range approvers {
		raw, hash := greenlight.NewToken()
		if err := e.store.CreateToken(ctx, &greenlight.ApprovalToken{Hash: hash, ApprovalID: a.ID, RunID: run.ID,
			Approver: who, ExpiresAt: a.Deadline}); err != nil {
			e.t.Fatalf("create token: %v", err)
		}
		tokens = append(tokens, raw)
	}
	return run, tokens
}

// writeLog writes a stage's log.
func (e *env) writeLog(runID int64, stage, text string) {
	e.t.Helper()
	w, err := e.logs.Create(runID, stage)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := io.WriteString(w, text); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
}

// form is a decision form body.
func form(kv ...string) io.Reader {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode())
}

// itoa formats a run id for a URL.
func itoa(id int64) string { return strconv.FormatInt(id, 10) }
