package web

import (
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/webhook"
)

// maxHookBody bounds a push payload. GitHub caps its payloads at 25 MB.
const maxHookBody = 25 << 20

// handleHook receives a push webhook for one pipeline: the signature is
// checked against the pipeline's webhook_secret (a pipeline without one
// accepts nothing), then the engine decides whether the push starts a run.
func handleHook(srv *config.Server, engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("pipeline")
		p := srv.Pipeline(name)
		if p == nil {
			writeJSONError(w, http.StatusNotFound, "no pipeline named "+truncate(name, 100))
			return
		}
		if p.Source.WebhookSecret == "" { // refused before reading a body it would throw away
			writeJSONError(w, http.StatusUnauthorized, "pipeline "+name+" has no webhook_secret, so it accepts no webhooks")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeError(w, r, log, err)
				return
			}
			writeJSONError(w, http.StatusBadRequest, "could not read the request body")
			return
		}
		push, err := webhook.Parse(r.Header, body, p.Source.WebhookSecret)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if push.Ping {
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
			return
		}
		run, reason, err := engine.Push(r.Context(), p.Name, push)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if run == nil {
			writeJSON(w, http.StatusOK, map[string]string{"ignored": reason})
			return
		}
		log.InfoContext(r.Context(), "webhook started a run", "pipeline", p.Name, "run", run.ID,
			"forge", push.Forge, "delivery", push.DeliveryID, "commit", push.After)
		writeJSON(w, http.StatusCreated, map[string]*greenlight.Run{"run": run})
	}
}
