package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// maxAPIBody bounds a JSON request body.
const maxAPIBody = 1 << 20

// triggerBody is the body of POST /api/v1/pipelines/{name}/runs.
type triggerBody struct {
	Commit string            `json:"commit"`
	Params map[string]string `json:"params"`
}

// handleTrigger starts a run of a pipeline for a commit, or for the head of
// its branch when no commit is given.
func handleTrigger(srv *config.Server, engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		p := srv.Pipeline(name)
		if p == nil {
			writeJSONError(w, http.StatusNotFound, "no pipeline named "+truncate(name, 100))
			return
		}
		var body triggerBody
		if err := decodeJSON(w, r, &body); err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := body.validate(); err != nil {
			writeError(w, r, log, err)
			return
		}
		run, err := engine.Trigger(r.Context(), p.Name, greenlight.TriggerRequest{
			Commit:  strings.ToLower(body.Commit),
			Params:  body.Params,
			Trigger: greenlight.TriggerAPI,
		})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusCreated, run)
	}
}

func (b *triggerBody) validate() error {
	if b.Commit != "" && !greenlight.ValidSHA(b.Commit) {
		return greenlight.Errorf(greenlight.EINVALID, "commit must be a full 40-character hex sha, not %q", truncate(b.Commit, 80))
	}
	for k, v := range b.Params {
		if !isParamName(k) {
			return greenlight.Errorf(greenlight.EINVALID, "param name %q must be letters, digits and _ (not starting with a digit), at most 64", truncate(k, 80))
		}
		if strings.IndexByte(v, 0) >= 0 || len(v) > 32<<10 {
			return greenlight.Errorf(greenlight.EINVALID, "param %s must be text of at most 32 KiB without NUL bytes", k)
		}
	}
	return nil
}

// isParamName reports whether k can be part of an environment variable name
// (GREENLIGHT_PARAM_<k>).
func isParamName(k string) bool {
	if k == "" || len(k) > 64 || ('0' <= k[0] && k[0] <= '9') {
		return false
	}
	for _, c := range []byte(k) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// decodeJSON reads one JSON object of at most maxAPIBody bytes into v,
// refusing unknown fields and trailing data. An empty body is {}.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return greenlight.Errorf(greenlight.EINVALID, "could not read the request body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return greenlight.Errorf(greenlight.EINVALID, "bad JSON body: %s", truncate(err.Error(), 200))
	}
	if _, err := dec.Token(); err != io.EOF {
		return greenlight.Errorf(greenlight.EINVALID, "bad JSON body: data after the object")
	}
	return nil
}
