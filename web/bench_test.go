package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// These measure the handlers over the real SQLite store, without the network.

func BenchmarkDecisionPage(b *testing.B) {
	e := newEnv(b)
	_, tokens := e.gate("Bench", 1, "pm@example.com")
	h := e.ts.Config.Handler
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/approvals/"+tokens[0], nil))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func BenchmarkAPIRuns(b *testing.B) {
	e := newEnv(b)
	for range 50 {
		e.run(greenlight.RunSucceeded, "Bench")
	}
	h := e.ts.Config.Handler
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/api/v1/runs?limit=50", nil)
		r.Header.Set("Authorization", "Bearer "+adminToken)
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		_, _ = io.Copy(io.Discard, w.Body)
	}
}
