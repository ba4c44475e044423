package web

import (
	"log/slog"
	"net/http"

	"github.com/greenlight-cd/greenlight"
)

// handleNotices lists the notification outbox, newest first: what each chat
// and webhook was sent or is still to be sent, with attempts and the last
// error. ?notification=NAME (else every one's) and ?limit=N (1 to 500).
// Bodies are left out: they are what the receiver got, and a chat's URL is
// not in them, but neither is anything an operator needs here.
func handleNotices(store greenlight.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, err := listLimit(q)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		list, err := store.Notices(r.Context(), q.Get("notification"), limit)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, list)
	}
}
