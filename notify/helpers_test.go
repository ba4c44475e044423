package notify_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail"
	"github.com/greenlight-cd/greenlight/mail/smtptest"
	"github.com/greenlight-cd/greenlight/notify"
	"github.com/greenlight-cd/greenlight/store"
)

const publicURL = "https://greenlight.example.com/"

// clock is an injected time that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one test's world: a real SQLite store, a real SMTP server, a
// notifier and a dispatcher sending through that server.
type env struct {
	t     testing.TB
	dir   string
	db    *store.DB
	clock *clock
	smtp  *smtptest.Server
	n     *notify.Notifier
	d     *notify.Dispatcher
	// notifyList is what Recipients returns for every pipeline.
	notifyList []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: newClock(), smtp: smtptest.Start(t)}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, bench := t.(*testing.B); bench {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := store.Open(t.Context(), "", e.dir, log)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	e.n = notify.New(notify.Config{
		Store:      db,
		PublicURL:  publicURL,
		Recipients: func(string) []string { return e.notifyList },
		Compare: func(p, from, to string) string {
			return "https://git.example.com/acme/" + p + "/compare/" + from[:7] + "..." + to[:7]
		},
		Now: e.clock.Now,
		Log: log,
	})
	sender, err := mail.NewSMTP("smtp://"+e.smtp.Addr(), "Greenlight <greenlight@example.com>", log)
	if err != nil {
		t.Fatal(err)
	}
	e.d = notify.NewDispatcher(db, sender, true, e.clock.Now, log)
	return e
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// run creates a run of pipeline hello waiting at its approval stage.
func (e *env) run(c greenlight.Commit) *greenlight.Run {
	e.t.Helper()
	now := e.clock.Now()
	r := &greenlight.Run{
		Pipeline: "hello", Status: greenlight.RunWaiting, Trigger: greenlight.TriggerWebhook,
		Commit: c, CreatedAt: now,
		Stages: []greenlight.Stage{
			{Index: 0, Name: "build", Type: greenlight.StageBuild, Status: greenlight.StageSucceeded},
			{Index: 1, Name: "staging", Type: greenlight.StageDeploy, Environment: "staging", Status: greenlight.StageSucceeded},
			{Index: 2, Name: "approval", Type: greenlight.StageApproval, Status: greenlight.StageWaiting},
			{Index: 3, Name: "production", Type: greenlight.StageDeploy, Environment: "production", Status: greenlight.StagePending},
		},
	}
	if err := e.db.CreateRun(e.t.Context(), r); err != nil {
		e.t.Fatalf("CreateRun: %v", err)
	}
	return r
}

func commit() greenlight.Commit {
	return greenlight.Commit{
		SHA: "0123456789abcdef0123456789abcdef01234567", Branch: "main",
		Title: "Add the pricing page", AuthorName: "Dana Dev", AuthorEmail: "dana@example.com",
	}
}

// approval opens the approval gate of run for approvers, deadline 72h away.
func (e *env) approval(r *greenlight.Run, approvers ...string) *greenlight.Approval {
	e.t.Helper()
	return e.approvalWithChanges(r, nil, approvers...)
}

// titles is changes known by their titles alone.
func titles(list ...string) []greenlight.Change {
	out := make([]greenlight.Change, len(list))
	for i, t := range list {
		out[i] = greenlight.Change{Title: t}
	}
	return out
}

// approvalWithChanges is approval, listing changes since production.
func (e *env) approvalWithChanges(r *greenlight.Run, changes []greenlight.Change, approvers ...string) *greenlight.Approval {
	e.t.Helper()
	now := e.clock.Now()
	a := &greenlight.Approval{
		RunID: r.ID, Pipeline: r.Pipeline, Stage: "approval", Approvers: approvers, Required: 1,
		ReviewURL: "http://127.0.0.1:8081/", Deadline: now.Add(72 * time.Hour), Changes: changes,
		Status: greenlight.ApprovalPending, CreatedAt: now,
	}
	if err := e.db.CreateApproval(e.t.Context(), a); err != nil {
		e.t.Fatalf("CreateApproval: %v", err)
	}
	return a
}

// event appends an event to the log and returns it with its Seq.
func (e *env) event(typ greenlight.EventType, runID int64, data any) greenlight.Event {
	e.t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		e.t.Fatal(err)
	}
	ev := greenlight.Event{Pipeline: "hello", RunID: runID, Type: typ, Data: raw, CreatedAt: e.clock.Now()}
	if err := e.db.AppendEvent(e.t.Context(), &ev); err != nil {
		e.t.Fatalf("AppendEvent: %v", err)
	}
	return ev
}

func (e *env) drain() {
	e.t.Helper()
	if err := e.n.Drain(e.t.Context()); err != nil {
		e.t.Fatalf("Drain: %v", err)
	}
}

func (e *env) sendDue() {
	e.t.Helper()
	if err := e.d.SendDue(e.t.Context()); err != nil {
		e.t.Fatalf("SendDue: %v", err)
	}
}

func (e *env) mails() []*greenlight.Mail {
	e.t.Helper()
	ms, err := e.db.Mails(e.t.Context(), 100)
	if err != nil {
		e.t.Fatalf("Mails: %v", err)
	}
	return ms
}

func (e *env) cursor() int64 {
	e.t.Helper()
	c, err := e.db.Cursor(e.t.Context(), notify.Subscriber)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// tokens counts the stored tokens, read straight from the database file:
// the Store interface only finds a token by its hash.
func (e *env) tokens() int {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "greenlight.db")+"?mode=ro")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM tokens").Scan(&n); err != nil {
		e.t.Fatalf("count tokens: %v", err)
	}
	return n
}

// received waits for n messages and parses them, keyed by envelope recipient
// list joined with commas.
func (e *env) received(n int) map[string]*smtptest.Parsed {
	e.t.Helper()
	out := map[string]*smtptest.Parsed{}
	for _, m := range e.smtp.WaitFor(e.t, n, 10*time.Second) {
		p, err := m.Parse()
		if err != nil {
			e.t.Fatalf("parse message: %v", err)
		}
		out[strings.Join(m.To, ",")] = p
	}
	return out
}

// tokenOf returns the raw token in an approval link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(link, strings.TrimSuffix(publicURL, "/")+"/approvals/")
	if !ok {
		t.Fatalf("link %q is not under %s/approvals/", link, publicURL)
	}
	tok, _, _ := strings.Cut(rest, "?")
	if !greenlight.WellFormedToken(tok) {
		t.Fatalf("link %q: token %q is not well formed", link, tok)
	}
	return tok
}

// notifyWith returns a notifier like e.n but on store s, calling enqueued
// (if given) after it queued mail.
func notifyWith(e *env, s greenlight.Store, enqueued ...func()) *notify.Notifier {
	cfg := notify.Config{
		Store: s, PublicURL: publicURL, Now: e.clock.Now,
		Recipients: func(string) []string { return e.notifyList },
	}
	if len(enqueued) > 0 {
		cfg.Enqueued = enqueued[0]
	}
	return notify.New(cfg)
}
