package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

const (
	defaultRunLimit = 50
	maxRunLimit     = 500
)

// runFilter reads ?pipeline=&status=&limit= into a filter. status may list
// several statuses separated by commas.
func runFilter(r *http.Request) (greenlight.RunFilter, error) {
	q := r.URL.Query()
	f := greenlight.RunFilter{Pipeline: q.Get("pipeline"), Limit: defaultRunLimit}
	if s := q.Get("status"); s != "" {
		for _, part := range strings.Split(s, ",") {
			st := greenlight.RunStatus(strings.TrimSpace(part))
			if !st.Valid() {
				return f, greenlight.Errorf(greenlight.EINVALID, "unknown run status %q (want queued, running, waiting, succeeded, failed, rejected, expired, cancelled or superseded)", truncate(string(st), 40))
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxRunLimit {
			return f, greenlight.Errorf(greenlight.EINVALID, "limit must be a number from 1 to %d", maxRunLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// handleRuns lists runs, newest first.
func handleRuns(store greenlight.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := runFilter(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		runs, err := store.Runs(r.Context(), f)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if runs == nil {
			runs = []*greenlight.Run{}
		}
		writeJSON(w, http.StatusOK, runs)
	}
}

// handleRun shows one run.
func handleRun(store greenlight.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		run, err := store.Run(r.Context(), id)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, run)
	}
}

// handleCancel cancels a run that has not finished.
func handleCancel(engine Engine, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		run, err := engine.Cancel(r.Context(), id)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, run)
	}
}

// handleApprovals lists approval gates, newest first; ?status= filters.
func handleApprovals(store greenlight.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status := greenlight.ApprovalStatus(r.URL.Query().Get("status"))
		switch status {
		case "", greenlight.ApprovalPending, greenlight.ApprovalApproved, greenlight.ApprovalRejected,
			greenlight.ApprovalExpired, greenlight.ApprovalRevoked, greenlight.ApprovalFailed:
		default:
			writeJSONError(w, http.StatusBadRequest, "status must be pending, approved, rejected, expired, revoked or failed")
			return
		}
		list, err := store.Approvals(r.Context(), status)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		out := make([]approvalJSON, len(list))
		for i, a := range list {
			out[i] = approvalJSON{Approval: a, Progress: approval.Progress(a)}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// approvalJSON is an approval as the API shows it: the gate with its rules,
// excluded people (and why), decisions (each with the rule it counted for),
// and each rule's progress, counted by package approval.
type approvalJSON struct {
	*greenlight.Approval
	Progress []approval.RuleProgress `json:"progress"`
}

// handleOutbox lists the mail Greenlight kept, newest first.
func handleOutbox(store greenlight.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mails, err := store.Mails(r.Context(), 0)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if mails == nil {
			mails = []*greenlight.Mail{}
		}
		writeJSON(w, http.StatusOK, mails)
	}
}
