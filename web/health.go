package web

import (
	"context"
	"net/http"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// handleHealth answers 200 when the store answers a cheap read, 503 otherwise,
// so a load balancer stops sending traffic to a server that cannot serve it.
func handleHealth(store greenlight.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := store.Cursor(ctx, "healthz"); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "the database does not answer"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}
