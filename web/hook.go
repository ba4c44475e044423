package web

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/webhook"
)

// maxHookBody bounds a push payload. GitHub caps its payloads at 25 MB.
const maxHookBody = 25 << 20

// hookRefused is the one answer (401) to a delivery for an unknown pipeline,
// a pipeline without a webhook_secret, or with a missing or wrong signature.
const hookRefused = "webhook refused: no such pipeline, or the signature or token is missing or wrong"

// readHookBody reads a webhook body of at most maxHookBody bytes. A body
// whose length is announced is read into a buffer of that size; one without
// grows as it arrives, up to the limit.
func readHookBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, maxHookBody)
	if n := r.ContentLength; n >= 0 && n <= maxHookBody {
		buf := make([]byte, n)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(body)
}

// Inbox is told when a webhook delivery was queued (implemented by
// *orchestrator.Inbox). Wake must return at once.
type Inbox interface {
	Wake()
}

// handleHook receives a webhook for one pipeline and acknowledges it fast:
// the signature is checked against the pipeline's webhook_secret (a pipeline
// without one accepts nothing), the event is parsed, and one statement
// stores it in the inbox unless its delivery id was seen before. The inbox's
// worker then processes it; nothing here waits for git or a run. Forges time
// deliveries out after 10 s (GitHub) and redeliver; the answer must not
// depend on how long building takes.
//
// What a delivery may cost before its signature is known is bounded: the
// answer to an unknown pipeline, a pipeline without a secret or a request
// without a signature header comes before the body is read, and is the same
// 401 as a wrong signature; bodies are read maxHooksInFlight and
// maxHookBytes at a time, each within hookBodyDeadline (limits.go).
func handleHook(srv *config.Server, store greenlight.Store, inbox Inbox, now greenlight.Now, log *slog.Logger) http.HandlerFunc {
	budget := newHookBudget()
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("pipeline")
		// An unknown pipeline, one without a secret, a missing, malformed
		// or wrong signature: one answer, so that names cannot be listed.
		// The log says which.
		refuse := func(why string) {
			dropBody(w)
			log.WarnContext(r.Context(), "webhook refused", "pipeline", truncate(name, 100), "ip", clientIP(r), "why", why)
			writeJSONError(w, http.StatusUnauthorized, hookRefused)
		}
		p := srv.Pipeline(name)
		switch {
		case r.ContentLength > maxHookBody: // the same answer for any name
			dropBody(w)
			writeError(w, r, log, &http.MaxBytesError{Limit: maxHookBody})
			return
		case p == nil:
			refuse("no such pipeline")
			return
		case p.Source.WebhookSecret == "": // refused before reading a body it would throw away
			refuse("the pipeline has no webhook_secret, so it accepts no webhooks")
			return
		case !mayBeSigned(r.Header):
			refuse("no signature or token header")
			return
		}
		if !budget.acquire(r.Context(), r.ContentLength, hookSlotWait) {
			w.Header().Set("Retry-After", hookRetryAfter)
			dropBody(w)
			writeJSONError(w, http.StatusServiceUnavailable, "too many webhook deliveries at once; try again in "+hookRetryAfter+" seconds")
			return
		}
		defer budget.release(r.ContentLength)
		setBodyDeadline(w, r, hookBodyDeadline(r.ContentLength))
		body, err := readHookBody(w, r)
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
			if greenlight.ErrorCode(err) == greenlight.EUNAUTHORIZED {
				refuse(greenlight.ErrorMessage(err))
				return
			}
			writeError(w, r, log, err)
			return
		}
		d, err := newDelivery(p.Name, push, now())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		fresh, err := store.EnqueueDelivery(r.Context(), d)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		switch {
		case !fresh:
			log.InfoContext(r.Context(), "webhook delivery seen before", "pipeline", p.Name, "delivery", d.DeliveryID)
			writeJSON(w, http.StatusOK, map[string]any{"duplicate": true, "delivery": d.DeliveryID})
		case push.Ping:
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "delivery": d.DeliveryID})
		case push.Ignored != "":
			writeJSON(w, http.StatusOK, map[string]any{"ignored": push.Ignored, "delivery": d.DeliveryID})
		default:
			if inbox != nil {
				inbox.Wake()
			}
			writeJSON(w, http.StatusAccepted, map[string]any{"queued": true, "delivery": d.DeliveryID})
		}
	}
}

// newDelivery makes the inbox row of a verified event. A delivery without an
// id gets a random one: it cannot be recognised when sent again, but its run
// is still keyed by it. Pings and ignored events are stored done, so that the
// listing shows them too.
func newDelivery(pipeline string, push *webhook.Push, now time.Time) (*greenlight.Delivery, error) {
	if push.DeliveryID == "" {
		var b [16]byte
		rand.Read(b[:])
		push.DeliveryID = "greenlight-" + hex.EncodeToString(b[:])
	}
	payload, err := json.Marshal(push)
	if err != nil {
		return nil, fmt.Errorf("encode webhook event: %w", err)
	}
	d := &greenlight.Delivery{Pipeline: pipeline, DeliveryID: push.DeliveryID, Forge: push.Forge, Event: push.Kind(),
		Ref: push.Ref, Commit: push.After, Payload: string(payload), Status: greenlight.DeliveryQueued, ReceivedAt: now}
	switch {
	case push.Ping:
		d.Status, d.Result, d.DoneAt = greenlight.DeliveryIgnored, "ping", &now
	case push.Ignored != "":
		d.Status, d.Result, d.DoneAt = greenlight.DeliveryIgnored, push.Ignored, &now
	}
	return d, nil
}

const (
	defaultDeliveryLimit = 50
	maxDeliveryLimit     = 500
)

// listLimit is a listing's ?limit=N: 1 to maxDeliveryLimit, or the default.
func listLimit(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return defaultDeliveryLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxDeliveryLimit {
		return 0, greenlight.Errorf(greenlight.EINVALID, "limit must be a number from 1 to %d", maxDeliveryLimit)
	}
	return n, nil
}

// handleDeliveries lists recent webhook deliveries, newest first, with what
// became of each: ?pipeline=NAME (else every pipeline's) and ?limit=N.
func handleDeliveries(store greenlight.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, err := listLimit(q)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		list, err := store.Deliveries(r.Context(), q.Get("pipeline"), limit)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, list)
	}
}
