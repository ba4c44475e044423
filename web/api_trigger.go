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
	Branch string            `json:"branch"`
	Params map[string]string `json:"params"`
}

// Limits of a manual run's params, given to steps as GREENLIGHT_PARAM_<NAME>.
const (
	maxParams     = 50
	maxParamValue = 4 << 10
)

// AdminIdentity is who a request carrying the admin token is, as a run's
// triggered_by: the admin token is the API's only credential.
const AdminIdentity = "admin"

// handleTrigger starts a run of a pipeline for a commit, or for the head of
// a branch (by default the pipeline's), with optional params.
func handleTrigger(srv *config.Server, engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := pipelineOr404(w, r, srv, "name")
		if p == nil {
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
			Branch:  body.Branch,
			Params:  body.Params,
			Trigger: greenlight.TriggerAPI,
			By:      AdminIdentity,
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
	if b.Branch != "" && !isBranchName(b.Branch) {
		return greenlight.Errorf(greenlight.EINVALID, "branch %q is not a valid branch name", truncate(b.Branch, 80))
	}
	if len(b.Params) > maxParams {
		return greenlight.Errorf(greenlight.EINVALID, "at most %d params, got %d", maxParams, len(b.Params))
	}
	for k, v := range b.Params {
		if !isParamName(k) {
			return greenlight.Errorf(greenlight.EINVALID, "param name %q must match [A-Z_][A-Z0-9_]* (at most 64 characters)", truncate(k, 80))
		}
		if strings.IndexByte(v, 0) >= 0 || len(v) > maxParamValue {
			return greenlight.Errorf(greenlight.EINVALID, "param %s must be text of at most 4 KiB without NUL bytes", k)
		}
	}
	return nil
}

// isParamName reports whether k is upper case letters, digits and _, not
// starting with a digit: it becomes part of GREENLIGHT_PARAM_<k>.
func isParamName(k string) bool {
	if k == "" || len(k) > 64 || ('0' <= k[0] && k[0] <= '9') {
		return false
	}
	for _, c := range []byte(k) {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// isBranchName is a first check of a branch name from a request: printable,
// no option-like start, nothing git refuses in a ref (git has the last word).
func isBranchName(b string) bool {
	if len(b) > 255 || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") || strings.HasSuffix(b, ".lock") {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c == 0x7f || strings.ContainsRune("~^:?*[\\", c) {
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
