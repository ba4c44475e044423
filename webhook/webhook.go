// Package webhook verifies and parses push webhooks from GitHub, GitLab,
// Gitea and Forgejo, and Greenlight's own generic form (SPEC §7).
//
// The signature is checked before the body is read as JSON, so a sender
// without the secret learns nothing about how a payload would be parsed.
package webhook

import (
	"net/http"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Forges, as named in Push.Forge.
const (
	GitHub  = "github"
	GitLab  = "gitlab"
	Gitea   = "gitea"
	Forgejo = "forgejo"
	Generic = "generic"
)

// Push is a verified webhook delivery: a push (branch or tag), a ping, or a
// pull/merge request event (PullRequest set).
type Push struct {
	Forge      string // github | gitlab | gitea | forgejo | bitbucket | generic
	DeliveryID string // "" when the sender gave none
	Ping       bool   // a ping: acknowledge, start nothing
	Ref        string // refs/heads/main, refs/tags/v1
	Branch     string // "main" when Ref is a branch, else ""
	Tag        string // "v1" when Ref is a tag, else ""
	Before     string // full lower-case sha the ref pointed to before; all zeros when created
	After      string // full lower-case sha; all zeros (ref deleted) → Deleted
	Deleted    bool
	Created    bool
	Forced     bool   // a forced push, when the forge says so
	Message    string // the head commit's message, for [skip ci]; "" when not given
	// PullRequest is set for a pull request event; After is then its head commit.
	PullRequest *greenlight.PullRequest
}

// Parse verifies a webhook request's signature with secret and reads the push
// it describes. The forge is recognised by its headers; a request with none
// of them is the generic form, signed like GitHub's.
//
// Errors are *greenlight.Error: EUNAUTHORIZED when secret is empty or the
// signature or token is missing or wrong; EINVALID for an event other than a
// push (or ping), a malformed body, or a missing or malformed ref or sha.
// Parse never panics; the caller limits the body's size.
func Parse(h http.Header, body []byte, secret string) (*Push, error) {
	if secret == "" {
		return nil, greenlight.Errorf(greenlight.EUNAUTHORIZED, "pipeline has no webhook_secret: webhooks are refused")
	}
	f := detect(h)
	if err := f.verify(h, body, secret); err != nil {
		return nil, err
	}
	delivery, err := deliveryID(h.Get(f.deliveryHeader))
	if err != nil {
		return nil, err
	}
	p := &Push{Forge: f.name, DeliveryID: delivery}
	switch kind := f.event(h); kind {
	case eventPing:
		p.Ping = true
		return p, nil
	case eventPush:
	default:
		return nil, greenlight.Errorf(greenlight.EINVALID, "unsupported %s event %q: only pushes start runs", f.name, clip(kind))
	}
	if err := readPush(p, h, body); err != nil {
		return nil, err
	}
	return p, nil
}

// deliveryID checks a sender's delivery id: it is stored and logged, so keep
// it short and printable.
func deliveryID(id string) (string, error) {
	if len(id) > 128 {
		return "", greenlight.Errorf(greenlight.EINVALID, "delivery id longer than 128 characters")
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return "", greenlight.Errorf(greenlight.EINVALID, "delivery id %q: only printable ASCII without spaces", clip(id))
		}
	}
	return id, nil
}

// clip shortens sender-supplied text quoted in an error message and makes it
// safe to print.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
