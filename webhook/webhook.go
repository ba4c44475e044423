// Package webhook verifies and parses the webhooks of GitHub, GitLab, Gitea,
// Forgejo and Bitbucket Cloud, and Greenlight's own generic form (SPEC §7,
// §10): branch and tag pushes, pings, and pull (merge) request events.
//
// The signature is checked before the body is read as JSON, so a sender
// without the secret learns nothing about how a payload would be parsed.
// Parsing needs nothing but the request: no git, no database, so that the
// webhook endpoint can acknowledge a delivery at once.
package webhook

import (
	"net/http"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Forges, as named in Push.Forge.
const (
	GitHub    = "github"
	GitLab    = "gitlab"
	Gitea     = "gitea"
	Forgejo   = "forgejo"
	Bitbucket = "bitbucket"
	Generic   = "generic"
)

// Push is a verified webhook delivery: a push (branch or tag), a ping, or a
// pull/merge request event (PullRequest set). It is stored as JSON in the
// webhook inbox between the acknowledgement and its processing, hence the
// tags.
type Push struct {
	Forge      string `json:"forge"`              // github | gitlab | gitea | forgejo | bitbucket | generic
	DeliveryID string `json:"delivery,omitempty"` // "" when the sender gave none
	Ping       bool   `json:"ping,omitempty"`     // a ping: acknowledge, start nothing
	// Ignored is set for an event that is acknowledged but can start nothing
	// (a pull request closed, labelled…): why, for the sender's log.
	Ignored string `json:"ignored,omitempty"`
	// Ref is the pushed ref (refs/heads/main, refs/tags/v1). For a pull
	// request it is the ref the forge keeps for the request's head in the
	// base repository (refs/pull/N/head, GitLab refs/merge-requests/N/head),
	// "" on Bitbucket, which keeps none.
	Ref    string `json:"ref,omitempty"`
	Branch string `json:"branch,omitempty"` // "main" when Ref is a branch, else ""
	Tag    string `json:"tag,omitempty"`    // "v1" when Ref is a tag, else ""
	// Before is the full lower-case sha the ref pointed to before the push;
	// all zeros when the ref was created, "" when the sender did not say.
	Before string `json:"before,omitempty"`
	// After is the full lower-case sha of the commit to build: all zeros when
	// the ref was deleted (Deleted). For a tag it is the tagged commit, not
	// an annotated tag's object. For a pull request it is the head commit;
	// Bitbucket Cloud gives only its first 12 hex digits there, so After is
	// then that abbreviation (see Abbreviated).
	After   string `json:"after,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	Created bool   `json:"created,omitempty"`
	Forced  bool   `json:"forced,omitempty"` // GitHub and Bitbucket say; GitLab and Gitea do not (false)
	// Message is the head commit's message, for [skip ci]; "" when not given.
	Message string `json:"message,omitempty"`
	// PullRequest is set for a pull request event that may start a build.
	PullRequest *greenlight.PullRequest `json:"pull_request,omitempty"`
	// By is who the forge says pushed (or opened the pull request): their
	// email when it gives one, else their login or name; "" when it names
	// nobody. It becomes the run's triggered_by.
	By string `json:"by,omitempty"`
}

// Abbreviated reports whether After is an abbreviated sha that must be
// resolved against the head repository before it can be built (Bitbucket
// pull requests).
func (p *Push) Abbreviated() bool {
	return p.After != "" && !greenlight.ValidSHA(p.After)
}

// Kind names the event for people: push, tag, pull_request or ping. (Only
// pull request events are ever Ignored.)
func (p *Push) Kind() string {
	switch {
	case p.Ping:
		return "ping"
	case p.PullRequest != nil, p.Ignored != "":
		return "pull_request"
	case p.Tag != "":
		return "tag"
	}
	return "push"
}

// Parse verifies a webhook request's signature with secret and reads the event
// it describes. The forge is recognised by its headers; a request with none
// of them is the generic form, signed like GitHub's.
//
// Errors are *greenlight.Error: EUNAUTHORIZED when secret is empty or the
// signature or token is missing or wrong; EINVALID for an event Greenlight
// does not use (issues, stars…), a malformed body, or a missing or malformed
// ref, sha, branch or URL. A pull request event whose action cannot start a
// build (closed, labeled…) is no error: Push.Ignored says why.
// Parse never panics; the caller limits the body's size.
func Parse(h http.Header, body []byte, secret string) (*Push, error) {
	if secret == "" {
		return nil, greenlight.Errorf(greenlight.EUNAUTHORIZED, "pipeline has no webhook_secret: webhooks are refused")
	}
	f := detect(h)
	if err := f.verify(h, body, secret); err != nil {
		return nil, err
	}
	delivery, err := deliveryID(f.delivery(h))
	if err != nil {
		return nil, err
	}
	p := &Push{Forge: f.name, DeliveryID: delivery}
	kind, action := f.event(h)
	switch kind {
	case eventPing:
		p.Ping = true
		return p, nil
	case eventPush, eventPull:
	default:
		return nil, greenlight.Errorf(greenlight.EINVALID, "unsupported %s event %q: only pushes and pull requests start runs", f.name, clip(kind))
	}
	body, err = jsonBody(h, body)
	if err != nil {
		return nil, err
	}
	switch {
	case kind == eventPull:
		err = readPull(p, body, action)
	case f.name == Bitbucket:
		err = readBitbucketPush(p, body)
	default:
		err = readPush(p, body)
	}
	if err != nil {
		return nil, err
	}
	p.By = pusher(body)
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
