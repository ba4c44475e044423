package notify_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/notify"
)

// targets are one of each type, wanting every event of every pipeline.
func targets() []notify.Target {
	return []notify.Target{
		{Name: "hook", Type: greenlight.NotifyWebhook, URL: "https://itsm.example.com/greenlight", Secret: "s3cret"},
		{Name: "chat", Type: greenlight.NotifySlack, URL: "https://hooks.slack.com/services/T/B/X"},
		{Name: "teams", Type: greenlight.NotifyTeams, URL: "https://example.webhook.office.com/workflows/x"},
	}
}

func (e *env) announcer(ts []notify.Target) *notify.Announcer {
	return notify.NewAnnouncer(notify.AnnounceConfig{Store: e.db, PublicURL: publicURL, Targets: ts,
		Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(testWriter{e.t}, nil))})
}

func (e *env) notices(notification string) []*greenlight.Notice {
	e.t.Helper()
	list, err := e.db.Notices(e.t.Context(), notification, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	// oldest first, as they are posted
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

// hostile is a commit whose title and author try every format's tricks.
func hostile() greenlight.Commit {
	c := commit()
	c.Title = `Fix <!channel> *bold* _it_ & [click](https://evil.example/) {{DATE(2017-02-14T06:08:39Z)}} ` + "`code`"
	c.AuthorName = "- Mallory <mallory@evil.example>"
	return c
}

// TestNoticeGolden compares every event's three bodies (webhook, Slack,
// Teams) with testdata/notices/*.golden. GREENLIGHT_UPDATE_GOLDEN=1
// rewrites the files.
func TestNoticeGolden(t *testing.T) {
	e := newEnv(t)
	an := e.announcer(targets())
	r := e.run(hostile())
	a := e.approval(r, "pm@example.com", "cto@example.com")
	if err := e.db.AddDecision(t.Context(), &greenlight.Decision{ApprovalID: a.ID, Approver: "pm@example.com",
		Verdict: greenlight.Approve, Comment: "Looks good *on staging* <b>", At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		typ  greenlight.EventType
		data any
	}{
		{"run.started", greenlight.EventRunCreated, nil},
		{"stage.started", greenlight.EventStageStarted, greenlight.StageStarted{Stage: "build", Attempt: 1}},
		{"stage.finished", greenlight.EventStageFinished, greenlight.StageFinished{Stage: "build", Status: greenlight.StageSucceeded}},
		{"approval.requested", greenlight.EventApprovalOpened, greenlight.ApprovalOpened{ApprovalID: a.ID}},
		{"approval.decided", greenlight.EventApprovalDecided, greenlight.ApprovalDecided{ApprovalID: a.ID,
			Approver: "pm@example.com", Verdict: greenlight.Approve, Status: greenlight.ApprovalApproved}},
		{"approval.revoked", greenlight.EventApprovalRevoked, greenlight.Revocation{ApprovalID: a.ID, Reason: "superseded"}},
		{"release.live", greenlight.EventReleaseLive, greenlight.ReleaseOutcome{Environment: "production", Status: greenlight.ReleaseLive}},
		{"run.failed", greenlight.EventRunFinished, greenlight.RunFinished{Status: greenlight.RunFailed,
			Error: "step test: exit status 1 <script>"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			ev := e.event(tt.typ, r.ID, tt.data)
			if n, err := an.Handle(t.Context(), ev); err != nil || n != 3 {
				t.Fatalf("Handle = %d, %v; want 3 notices", n, err)
			}
			var got strings.Builder
			for _, target := range targets() {
				list := e.notices(target.Name)
				n := list[len(list)-1]
				if n.Event != tt.name || n.Seq != ev.Seq {
					t.Fatalf("newest notice of %s is %s of event %d, want %s of %d", target.Name, n.Event, n.Seq, tt.name, ev.Seq)
				}
				body := strings.ReplaceAll(n.Body, n.DeliveryID, "DELIVERY-ID")
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, []byte(body), "", "  "); err != nil {
					t.Fatalf("%s body is not JSON: %v\n%s", target.Type, err, n.Body)
				}
				got.WriteString("---- " + target.Type + "\n" + pretty.String() + "\n")
				if target.Type != greenlight.NotifyWebhook && strings.Contains(n.Body, "/approvals/") {
					t.Errorf("%s message holds an approval link: %s", target.Type, n.Body)
				}
			}
			path := filepath.Join("testdata", "notices", tt.name+".golden")
			if os.Getenv("GREENLIGHT_UPDATE_GOLDEN") != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (GREENLIGHT_UPDATE_GOLDEN=1 writes it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("%s differs from %s:\n%s", tt.name, path, got.String())
			}
		})
	}
}

// TestChatEscapesStrangersWords: a commit title cannot mention the
// channel, make a link or format text in either chat.
func TestChatEscapesStrangersWords(t *testing.T) {
	e := newEnv(t)
	an := e.announcer(targets())
	r := e.run(hostile())
	ev := e.event(greenlight.EventRunCreated, r.ID, nil)
	if _, err := an.Handle(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	slack := e.notices("chat")[0].Body
	for _, bad := range []string{"<!channel>", "<mallory@", "& ["} {
		if strings.Contains(slack, bad) {
			t.Errorf("Slack body holds %q unescaped: %s", bad, slack)
		}
	}
	if !strings.Contains(slack, "&lt;!channel&gt;") || !strings.Contains(slack, "&amp;") {
		t.Errorf("Slack body lacks the escaped title: %s", slack)
	}
	teams := e.notices("teams")[0].Body
	for _, bad := range []string{"[click](", "{{DATE", " *bold*", `"- Mallory`} {
		if strings.Contains(teams, bad) {
			t.Errorf("Teams body holds %q unescaped: %s", bad, teams)
		}
	}
	var p notify.Payload
	if err := json.Unmarshal([]byte(e.notices("hook")[0].Body), &p); err != nil {
		t.Fatal(err)
	}
	if p.Run.Commit.Title != hostile().Title {
		t.Errorf("webhook title = %q, want it verbatim (JSON needs no other escaping)", p.Run.Commit.Title)
	}
}

func TestAnnouncerFiltersAndDeduplicates(t *testing.T) {
	e := newEnv(t)
	ts := []notify.Target{
		{Name: "failures", Type: greenlight.NotifySlack, URL: "https://hooks.slack.com/x", Events: []string{greenlight.NoticeRunFailed}},
		{Name: "other", Type: greenlight.NotifyWebhook, URL: "https://h.example/", Secret: "s", Pipelines: []string{"other"}},
		{Name: "all", Type: greenlight.NotifyWebhook, URL: "https://h.example/", Secret: "s"},
	}
	an := e.announcer(ts)
	r := e.run(commit())
	started := e.event(greenlight.EventRunCreated, r.ID, nil)
	failed := e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: greenlight.RunFailed})
	ignored := e.event(greenlight.EventRunFinished, r.ID, greenlight.RunFinished{Status: "exploded"})
	for _, ev := range []greenlight.Event{started, failed, ignored, started, failed} { // twice: no more
		if _, err := an.Handle(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string][]string{}
	for _, n := range e.notices("") {
		got[n.Notification] = append(got[n.Notification], n.Event)
	}
	want := map[string][]string{"failures": {"run.failed"}, "all": {"run.started", "run.failed"}}
	if js(got) != js(want) {
		t.Errorf("notices = %v, want %v", got, want)
	}

	// Old history is passed over: configuring a webhook must not replay a year.
	e.clock.Add(2 * time.Hour)
	if err := an.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.notices("")); n != 3 {
		t.Errorf("notices after draining old events = %d, want still 3", n)
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }
