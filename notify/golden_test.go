package notify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail"
)

// TestMailGolden compares whole mails with testdata/*.golden: what a reader
// gets is the product. GREENLIGHT_UPDATE_GOLDEN=1 rewrites the files.
func TestMailGolden(t *testing.T) {
	e := newEnv(t)
	e.notifyList = []string{"dev-team@example.com"}
	r := e.run(commit())
	a := e.approvalWithChanges(r, []string{"Add the pricing page", "Fix the footer on small screens"}, "pm@example.com", "cto@example.com")
	e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID})
	e.drain()
	if _, err := e.db.SetApprovalStatus(t.Context(), a.ID, greenlight.ApprovalRevoked, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.event(greenlight.EventApprovalRevoked, r.ID, greenlight.Revocation{ApprovalID: a.ID, Reason: "superseded"})

	r2 := e.run(commit())
	r2.Status, r2.Error = greenlight.RunFailed, "step test: exit status 1"
	r2.Stages[0].Status, r2.Stages[0].Error = greenlight.StageFailed, "step test: exit status 1"
	if err := e.db.UpdateRun(t.Context(), r2); err != nil {
		t.Fatal(err)
	}
	e.event(greenlight.EventRunFinished, r2.ID, greenlight.RunFinished{Status: greenlight.RunFailed, Error: r2.Error})
	e.drain()

	byKey := map[string]*greenlight.Mail{}
	for _, m := range e.mails() {
		byKey[m.Key] = m
	}
	for name, key := range map[string]string{
		"approval": "approval:1:pm@example.com",
		"revoked":  "revoked:1:pm@example.com",
		"failed":   "run:2:failed",
	} {
		m := byKey[key]
		if m == nil {
			t.Fatalf("no mail with key %s; have %v", key, keys(byKey))
		}
		text, html := m.Subject+"\n\n"+m.Text, m.HTML
		if name == "approval" { // stored with the placeholder: the token is made at sending
			if l := mail.Links(m.Text)[1]; !strings.Contains(l, "/approvals/"+greenlight.TokenPlaceholder+"?") {
				t.Errorf("stored approval link = %q, want the placeholder in place of the token", l)
			}
			text = strings.ReplaceAll(text, greenlight.TokenPlaceholder, "TOKEN")
			html = strings.ReplaceAll(html, greenlight.TokenPlaceholder, "TOKEN")
		}
		golden(t, name+".txt.golden", text)
		golden(t, name+".html.golden", html)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("GREENLIGHT_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with GREENLIGHT_UPDATE_GOLDEN=1 to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
