package web

import (
	"log/slog"
	"net/http"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// rollbackBody is the body of POST …/environments/{env}/rollback: {} for
// the release live before the current one, or {"run": ID} for that run's.
type rollbackBody struct {
	Run int64 `json:"run"`
}

// handleRollback starts a run that deploys an earlier release of an
// environment again, and answers 202 with that run.
func handleRollback(srv *config.Server, engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, env, ok := environmentOr404(w, r, srv)
		if !ok {
			return
		}
		var body rollbackBody
		if err := decodeJSON(w, r, &body); err != nil {
			writeError(w, r, log, err)
			return
		}
		if body.Run < 0 {
			writeError(w, r, log, greenlight.Errorf(greenlight.EINVALID, "run must be a positive run id, or absent for the previous release"))
			return
		}
		run, err := engine.Rollback(r.Context(), p.Name, env, body.Run)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusAccepted, run)
	}
}
