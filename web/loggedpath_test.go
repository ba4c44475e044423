package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A decision page that fails inside logs the failure without the link's
// token: the token is its approver's secret and the log is not.
func TestDecisionPageErrorLogHidesToken(t *testing.T) {
	e := newEnv(t)
	_, tokens := e.gate("Add the pricing page", 1, "pm@example.com")
	var buf bytes.Buffer
	h := NewServer(Config{Server: e.srv, Store: e.store, Logs: e.logs, Engine: e.eng, Now: e.clock.Now,
		Log: slog.New(slog.NewTextHandler(&buf, nil))})
	e.store.Close() // every lookup now fails inside
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/approvals/"+tokens[0], nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	if !strings.Contains(buf.String(), "request failed") || strings.Contains(buf.String(), tokens[0]) {
		t.Errorf("log = %q, want the failure logged without the token", buf.String())
	}
}
