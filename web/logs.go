package web

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/greenlight-cd/greenlight"
)

// handleRunLogs streams a run's output as text: one stage's log with
// ?stage=NAME, otherwise every stage's log in order, each under a header.
func handleRunLogs(store greenlight.Store, logs greenlight.Logs, log *slog.Logger) http.HandlerFunc {
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
		if name := r.URL.Query().Get("stage"); name != "" {
			streamStageLog(w, r, logs, log, run, name, writeError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, st := range run.Stages {
			rc, err := logs.Open(run.ID, st.Name)
			if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
				continue
			}
			if err != nil {
				// Headers may be out already: note it in the text and in the log.
				log.ErrorContext(r.Context(), "open stage log", "run", run.ID, "stage", st.Name, "err", err)
				fmt.Fprintf(w, "==> %s: the log could not be read <==\n", st.Name)
				continue
			}
			fmt.Fprintf(w, "==> %s (%s) <==\n", st.Name, st.Status)
			_, err = io.Copy(w, rc)
			rc.Close()
			if err != nil {
				return // the client went away
			}
			fmt.Fprintln(w)
		}
	}
}

// handleStageLog is the UI's full text of one stage's log.
func handleStageLog(store greenlight.Store, logs greenlight.Logs, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeTextError(w, r, log, err)
			return
		}
		run, err := store.Run(r.Context(), id)
		if err != nil {
			writeTextError(w, r, log, err)
			return
		}
		streamStageLog(w, r, logs, log, run, r.PathValue("stage"), writeTextError)
	}
}

// streamStageLog copies one stage's log to w as text/plain.
func streamStageLog(w http.ResponseWriter, r *http.Request, logs greenlight.Logs, log *slog.Logger,
	run *greenlight.Run, name string, fail func(http.ResponseWriter, *http.Request, *slog.Logger, error)) {
	if run.Stage(name) == nil {
		fail(w, r, log, greenlight.Errorf(greenlight.ENOTFOUND, "run %d has no stage named %q", run.ID, truncate(name, 100)))
		return
	}
	rc, err := logs.Open(run.ID, name)
	if err != nil {
		if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
			err = greenlight.Errorf(greenlight.ENOTFOUND, "stage %s of run %d has no log yet", name, run.ID)
		}
		fail(w, r, log, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.Copy(w, rc) // an error here is the client going away
}

// writeTextError answers err as plain text, for URLs a person opens.
func writeTextError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", loggedPath(r), "err", err)
	}
	http.Error(w, messageOf(err), status)
}

// tail returns at most limit bytes from the end of a log, and whether it cut
// anything. A seekable log (a file) is read from its last limit bytes only.
func tail(rc io.ReadCloser, limit int64) ([]byte, bool, error) {
	defer rc.Close()
	cut := false
	if s, ok := rc.(io.Seeker); ok {
		size, err := s.Seek(0, io.SeekEnd)
		if err == nil {
			start := max(size-limit, 0)
			if _, err := s.Seek(start, io.SeekStart); err == nil {
				b, err := io.ReadAll(io.LimitReader(rc, limit))
				return b, start > 0, err
			}
		}
		if _, err := s.Seek(0, io.SeekStart); err != nil {
			return nil, false, fmt.Errorf("rewind log: %w", err)
		}
	}
	// Not seekable: keep a window of the last limit bytes while reading.
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 32<<10)
	for {
		n, err := rc.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if int64(len(buf)) > 2*limit {
			buf = append(buf[:0], buf[int64(len(buf))-limit:]...)
			cut = true
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("read log: %w", err)
		}
	}
	if int64(len(buf)) > limit {
		buf, cut = buf[int64(len(buf))-limit:], true
	}
	return buf, cut, nil
}
