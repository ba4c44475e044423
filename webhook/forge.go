package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Event kinds a forge can announce that Parse acts on.
const (
	eventPush = "push"
	eventPing = "ping"
	eventPull = "pull"
)

// forge describes how one sender signs and labels its deliveries.
type forge struct {
	name string
	// deliveryHeader names the delivery id, the same when the forge sends
	// the event again; a forge may have an older header as a fallback.
	deliveryHeader, deliveryFallback string
	// signature is the header holding a hex HMAC-SHA256 of the body
	// (optionally "sha256="-prefixed); "" means the forge sends the secret
	// itself in tokenHeader instead (GitLab).
	signature   string
	prefix      string
	tokenHeader string
	eventHeader string
	// events maps the forge's event names to eventPush, eventPing or
	// eventPull.
	events map[string]string
}

var (
	hubEvents    = map[string]string{"push": eventPush, "ping": eventPing, "pull_request": eventPull}
	giteaEvents  = map[string]string{"push": eventPush, "pull_request": eventPull}
	gitlabEvents = map[string]string{"Push Hook": eventPush, "Tag Push Hook": eventPush, "Merge Request Hook": eventPull}
)

// detect recognises the sender by its headers. Forgejo also sends the
// X-Gitea-* headers and Gitea also sends X-GitHub-Event and
// X-Hub-Signature-256, so Forgejo is looked for first, then Gitea, then GitHub.
// Bitbucket Cloud names its events in X-Event-Key. Its X-Hook-UUID names the
// webhook, the same for every delivery, so only X-Request-UUID is a delivery
// id.
func detect(h http.Header) forge {
	switch {
	case h.Get("X-Forgejo-Event") != "" || h.Get("X-Forgejo-Signature") != "":
		return forge{name: Forgejo, deliveryHeader: "X-Forgejo-Delivery", signature: "X-Forgejo-Signature",
			eventHeader: "X-Forgejo-Event", events: giteaEvents}
	case h.Get("X-Gitea-Event") != "" || h.Get("X-Gitea-Signature") != "":
		return forge{name: Gitea, deliveryHeader: "X-Gitea-Delivery", signature: "X-Gitea-Signature",
			eventHeader: "X-Gitea-Event", events: giteaEvents}
	case h.Get("X-Gitlab-Event") != "" || h.Get("X-Gitlab-Token") != "":
		// Idempotency-Key (GitLab 17.4+) is kept by retries; the older
		// X-Gitlab-Event-UUID also names one event.
		return forge{name: GitLab, deliveryHeader: "Idempotency-Key", deliveryFallback: "X-Gitlab-Event-UUID", tokenHeader: "X-Gitlab-Token",
			eventHeader: "X-Gitlab-Event", events: gitlabEvents}
	case h.Get("X-GitHub-Event") != "":
		return forge{name: GitHub, deliveryHeader: "X-GitHub-Delivery", signature: "X-Hub-Signature-256", prefix: "sha256=",
			eventHeader: "X-GitHub-Event", events: hubEvents}
	case h.Get("X-Event-Key") != "":
		return forge{name: Bitbucket, deliveryHeader: "X-Request-UUID", signature: "X-Hub-Signature", prefix: "sha256=",
			eventHeader: "X-Event-Key"}
	}
	return forge{name: Generic, deliveryHeader: "X-Greenlight-Delivery", signature: "X-Hub-Signature-256", prefix: "sha256="}
}

// event returns the kind of event the request announces, and for a
// Bitbucket pull request event its action (created, updated, fulfilled…);
// an unknown event is returned under its own name.
func (f forge) event(h http.Header) (kind, action string) {
	if f.eventHeader == "" {
		return eventPush, ""
	}
	name := h.Get(f.eventHeader)
	if f.name == Bitbucket {
		switch {
		case name == "repo:push":
			return eventPush, ""
		case strings.HasPrefix(name, "pullrequest:"):
			return eventPull, strings.TrimPrefix(name, "pullrequest:")
		}
		return name, ""
	}
	if kind, ok := f.events[name]; ok {
		return kind, ""
	}
	return name, ""
}

// delivery returns the request's delivery id, or "".
func (f forge) delivery(h http.Header) string {
	if id := h.Get(f.deliveryHeader); id != "" || f.deliveryFallback == "" {
		return id
	}
	return h.Get(f.deliveryFallback)
}

func (f forge) verify(h http.Header, body []byte, secret string) error {
	if f.tokenHeader != "" {
		token := h.Get(f.tokenHeader)
		if token == "" {
			return greenlight.Errorf(greenlight.EUNAUTHORIZED, "missing %s header", f.tokenHeader)
		}
		// Compare digests so the comparison takes the same time whatever
		// the lengths.
		a, b := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(secret))
		if !hmac.Equal(a[:], b[:]) {
			return greenlight.Errorf(greenlight.EUNAUTHORIZED, "wrong %s", f.tokenHeader)
		}
		return nil
	}
	sig := h.Get(f.signature)
	if sig == "" {
		return greenlight.Errorf(greenlight.EUNAUTHORIZED, "missing %s header", f.signature)
	}
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(sig), f.prefix))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(sig), f.prefix) {
		return greenlight.Errorf(greenlight.EUNAUTHORIZED, "malformed %s header: want %shex HMAC-SHA256", f.signature, f.prefix)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return greenlight.Errorf(greenlight.EUNAUTHORIZED, "wrong %s: the body is not signed with this pipeline's webhook_secret", f.signature)
	}
	return nil
}
