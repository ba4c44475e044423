package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// statusOf maps an error's greenlight code to an HTTP status.
func statusOf(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	switch greenlight.ErrorCode(err) {
	case greenlight.ENOTFOUND:
		return http.StatusNotFound
	case greenlight.EINVALID:
		return http.StatusBadRequest
	case greenlight.EUNPROCESSABLE:
		return http.StatusUnprocessableEntity
	case greenlight.ECONFLICT:
		return http.StatusConflict
	case greenlight.EGONE:
		return http.StatusGone
	case greenlight.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case greenlight.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case greenlight.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// messageOf is the text a user may see for err: the *greenlight.Error message,
// or a generic text for anything internal.
func messageOf(err error) string {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return "the request body is larger than " + strconv.FormatInt(tooLarge.Limit, 10) + " bytes"
	}
	return greenlight.ErrorMessage(err)
}

// writeJSON writes v as JSON with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the client went away; nothing more to do
}

// writeJSONError writes {"error": msg}.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeError answers err as JSON with the status its code maps to. Internal
// errors are logged with their detail and shown as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", loggedPath(r), "err", err)
	}
	writeJSONError(w, status, messageOf(err))
}

// pathID parses the {id} path value as a positive run id.
func pathID(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, greenlight.Errorf(greenlight.EINVALID, "run id must be a positive integer, not %q", truncate(raw, 40))
	}
	return id, nil
}

// truncate cuts s to at most n bytes, on a rune boundary, so that echoing
// input back stays bounded.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// pipelineOr404 returns the pipeline named by the request's path value key,
// or writes a 404 and returns nil.
func pipelineOr404(w http.ResponseWriter, r *http.Request, srv *config.Server, key string) *config.Pipeline {
	name := r.PathValue(key)
	p := srv.Pipeline(name)
	if p == nil {
		writeJSONError(w, http.StatusNotFound, "no pipeline named "+truncate(name, 100))
	}
	return p
}

// environmentOr404 is pipelineOr404 for {name}/environments/{env}: the
// pipeline and the environment's name, or a 404 written and ok false.
func environmentOr404(w http.ResponseWriter, r *http.Request, srv *config.Server) (p *config.Pipeline, env string, ok bool) {
	if p = pipelineOr404(w, r, srv, "name"); p == nil {
		return nil, "", false
	}
	env = r.PathValue("env")
	if _, ok := p.Environments[env]; !ok {
		writeJSONError(w, http.StatusNotFound, "pipeline "+p.Name+" has no environment named "+truncate(env, 100))
		return nil, "", false
	}
	return p, env, true
}
