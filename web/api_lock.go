package web

import (
	"log/slog"
	"net/http"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// reasonBody is the body of a lock or an override: {"reason": "…"}, required.
type reasonBody struct {
	Reason string `json:"reason"`
}

// caller names who sends an API request, for locks and overrides: the
// admin token is the only credential so far, so "admin".
func caller(*http.Request) string { return "admin" }

// handleLock locks an environment: 201 with the lock, 409 if it is locked
// already, 400 without a reason.
func handleLock(srv *config.Server, engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, env, ok := environmentOr404(w, r, srv)
		if !ok {
			return
		}
		var body reasonBody
		if err := decodeJSON(w, r, &body); err != nil {
			writeError(w, r, log, err)
			return
		}
		l, err := engine.Lock(r.Context(), p.Name, env, caller(r), body.Reason)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusCreated, l)
	}
}

// handleUnlock removes an environment's lock: 200 with the environment as
// GET shows it, 409 if it was not locked.
func handleUnlock(srv *config.Server, store greenlight.Store, engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, env, ok := environmentOr404(w, r, srv)
		if !ok {
			return
		}
		if err := engine.Unlock(r.Context(), p.Name, env, caller(r)); err != nil {
			writeError(w, r, log, err)
			return
		}
		v, err := environmentView(r.Context(), store, engine, p.Name, env)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// handleOverride starts a deploy held by a window, a freeze or a lock:
// 200 with the run, 409 if the run is not held so, 400 without a reason.
func handleOverride(engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		var body reasonBody
		if err := decodeJSON(w, r, &body); err != nil {
			writeError(w, r, log, err)
			return
		}
		run, err := engine.Override(r.Context(), id, caller(r), body.Reason)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, run)
	}
}
