package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/artifact"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
	"github.com/greenlight-cd/greenlight/mail"
	"github.com/greenlight-cd/greenlight/mail/smtptest"
	"github.com/greenlight-cd/greenlight/notify"
	"github.com/greenlight-cd/greenlight/orchestrator"
	"github.com/greenlight-cd/greenlight/runner"
	"github.com/greenlight-cd/greenlight/source"
	"github.com/greenlight-cd/greenlight/source/gittest"
	"github.com/greenlight-cd/greenlight/store"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

// realEnv is the server as cmd/greenlight wires it: the real orchestrator,
// approval service, notifier and dispatcher over a real store (SQLite or
// PostgreSQL), a real git repository, real builds (without a sandbox) and
// local deploy targets, with the mail going to a real SMTP server. The
// decision pages are tested on it, so that they show what the engine really
// records, not what a stand-in writes.
type realEnv struct {
	t          *testing.T
	dir        string
	ts         *httptest.Server
	srv        *config.Server
	db         greenlight.Store
	repo       *gittest.Repo
	engine     *orchestrator.Engine
	notifier   *notify.Notifier
	dispatcher *notify.Dispatcher
	smtp       *smtptest.Server
	seen       int // mails already read from smtp
}

// gateOptions shape the pipeline's approval stage.
type gateOptions struct {
	required int    // default 2
	timeout  string // default 72h
}

// realStores runs f on SQLite and on PostgreSQL, as parallel subtests.
func realStores(t *testing.T, o gateOptions, f func(t *testing.T, e *realEnv)) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newRealEnv(t, pg, o))
		})
	}
}

func newRealEnv(t *testing.T, pg bool, o gateOptions) *realEnv {
	t.Helper()
	if o.required == 0 {
		o.required = 2
	}
	if o.timeout == "" {
		o.timeout = "72h"
	}
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o711) // deploys run as another uid when root
	e := &realEnv{t: t, dir: dir, smtp: smtptest.Start(t)}
	e.repo = gittest.NewRepo(t, filepath.Join(dir, "upstream.git"))
	e.repo.Commit(map[string]string{
		".greenlight.yml": "steps:\n  - name: build\n    run: mkdir -p dist && cp app.txt dist/\nartifacts: [dist/]\n",
		"app.txt":         "v1\n"}, "First release")

	e.ts = httptest.NewUnstartedServer(nil)
	publicURL := "http://" + e.ts.Listener.Addr().String()
	database := ""
	if pg {
		database = storetest.PostgresDatabase(t)
	}
	cfgText := fmt.Sprintf(`server:
  data_dir: %[1]s/data
  public_url: %[2]s
  admin_token: %[3]s
pipelines:
  - name: hello
    source: {repo: %[4]s, branch: main}
    stages:
      - {name: build, type: build}
      - {name: staging, type: deploy, environment: staging}
      - name: approval
        type: approval
        approvers: [pm@example.com, cto@example.com]
        required: %[5]d
        timeout: %[6]s
        review_url: http://staging.example.com/
      - {name: production, type: deploy, environment: production}
    environments:
      staging: {targets: [{local: %[1]s/staging}]}
      production: {targets: [{local: %[1]s/production}]}
`, dir, publicURL, adminToken, e.repo.Dir, o.required, o.timeout)
	srv, err := config.Parse(filepath.Join(dir, "greenlight.yml"), []byte(cfgText), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, cfgText)
	}
	e.srv = srv
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	db, err := store.Open(ctx, database, srv.DataDir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	now := time.Now
	build, err := runner.New(runner.Config{Sandbox: runner.SandboxNone, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSMTP("smtp://"+e.smtp.Addr(), "greenlight@example.com", log)
	if err != nil {
		t.Fatal(err)
	}
	e.dispatcher = notify.NewDispatcher(db, sender, true, now, log)
	e.notifier = notify.New(notify.Config{Store: db, PublicURL: publicURL, Now: now, Log: log,
		Recipients: func(string) []string { return nil }})
	logs := &store.Logs{Dir: filepath.Join(srv.DataDir, "logs")}
	e.engine, err = orchestrator.New(orchestrator.Config{Server: srv, Store: db, Logs: logs,
		Git: source.New(filepath.Join(srv.DataDir, "git"), log), Runner: build,
		Artifacts: &artifact.Store{Dir: filepath.Join(srv.DataDir, "artifacts")}, Deployer: deploy.New(log),
		Approvals: approval.New(db, now), WorkDir: srv.DataDir, Now: now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.engine.Shutdown(ctx)
	})
	e.ts.Config.Handler = NewServer(Config{Server: srv, Store: db, Logs: logs, Engine: e.engine, Log: log})
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	return e
}

// trigger starts a run of the branch head (after committing title, if not
// "") and waits until it stops or waits; by is who started it.
func (e *realEnv) trigger(title, by string) *greenlight.Run {
	e.t.Helper()
	if title != "" {
		e.repo.Commit(map[string]string{"app.txt": title + "\n"}, title)
	}
	run, err := e.engine.Trigger(context.Background(), "hello", greenlight.TriggerRequest{Trigger: greenlight.TriggerAPI, By: by})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.wait(run.ID, greenlight.RunWaiting)
}

// wait waits until the run has status want, or has finished.
func (e *realEnv) wait(id int64, want greenlight.RunStatus) *greenlight.Run {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		run, err := e.db.Run(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if run.Status == want {
			return run
		}
		if run.Status.Terminal() || time.Now().After(deadline) {
			e.t.Fatalf("run %d is %s (%s), want %s", id, run.Status, run.Error, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mail handles the events so far, sends what they queued, and returns the
// new mails by recipient.
func (e *realEnv) mail(n int) map[string]*smtptest.Parsed {
	e.t.Helper()
	ctx := context.Background()
	if err := e.notifier.Drain(ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := e.dispatcher.SendDue(ctx); err != nil {
		e.t.Fatal(err)
	}
	msgs := e.smtp.WaitFor(e.t, e.seen+n, 10*time.Second)
	out := map[string]*smtptest.Parsed{}
	for _, m := range msgs[e.seen:] {
		p, err := m.Parse()
		if err != nil {
			e.t.Fatal(err)
		}
		out[m.To[0]] = p
	}
	e.seen = len(msgs)
	return out
}

// links returns each approver's token, from the mail they were sent.
func (e *realEnv) tokens() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for to, p := range e.mail(2) {
		l := p.Link("decision=approve")
		u, err := url.Parse(l)
		if err != nil || !strings.HasPrefix(u.Path, "/approvals/") {
			e.t.Fatalf("mail to %s has no approve link (%q):\n%s", to, l, p.Text)
		}
		out[to] = strings.TrimPrefix(u.Path, "/approvals/")
	}
	return out
}

// do sends a request to the server.
func (e *realEnv) do(method, path string, kv ...string) (int, string) {
	e.t.Helper()
	env := &env{t: e.t, ts: e.ts, srv: e.srv}
	if method == "POST" {
		resp, body := env.do(method, path, "", form(kv...), "Content-Type", "application/x-www-form-urlencoded",
			"Origin", e.srv.PublicURL, "User-Agent", "TestBrowser/1.0")
		wantDecisionHeaders(e.t, resp)
		return resp.StatusCode, body
	}
	resp, body := env.do(method, path, "", nil)
	if strings.HasPrefix(path, "/approvals/") {
		wantDecisionHeaders(e.t, resp)
	}
	return resp.StatusCode, body
}
