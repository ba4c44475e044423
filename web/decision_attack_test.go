package web

import (
	"strings"
	"testing"
)

// TestRealRequiredCommentCannotBeSkipped: a rejection needs a comment
// (comment: reject, the default), and none of these is one: a comment only
// in the query string of the POST (a link crafted to decide in one click),
// a comment of spaces, tabs and newlines, no comment field at all, a second
// decision field with a comment on the query string. Each answers 422 and
// records nothing; a real comment then decides.
func TestRealRequiredCommentCannotBeSkipped(t *testing.T) {
	realStores(t, gateOptions{required: 1}, func(t *testing.T, e *realEnv) {
		run := e.trigger("Reject me", "")
		pm := e.tokens()["pm@example.com"]
		for _, try := range []struct {
			name, query string
			kv          []string
		}{
			{"comment in the query string", "?comment=because", []string{"decision", "reject"}},
			{"whitespace only", "", []string{"decision", "reject", "comment", " \t\r\n "}},
			{"no comment field", "", []string{"decision", "reject"}},
			{"decision and comment in the query", "?decision=reject&comment=because", []string{"comment", ""}},
		} {
			status, body := e.do("POST", "/approvals/"+pm+try.query, try.kv...)
			if try.name == "decision and comment in the query" {
				if status != 400 && status != 422 {
					t.Errorf("%s: %d, want 400 or 422\n%s", try.name, status, body)
				}
			} else if status != 422 || !strings.Contains(body, "comment is required to reject") {
				t.Errorf("%s: %d, want 422 saying a comment is required\n%s", try.name, status, body)
			}
			a, err := e.db.ApprovalForStage(t.Context(), run.ID, "approval")
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Decisions) != 0 || a.Status != "pending" {
				t.Fatalf("%s: recorded %+v, gate %s", try.name, a.Decisions, a.Status)
			}
		}
		if status, body := e.do("POST", "/approvals/"+pm, "decision", "reject", "comment", "the footer is broken"); status != 200 {
			t.Fatalf("reject with a comment: %d\n%s", status, body)
		}
		e.wait(run.ID, "rejected")
	})
}
