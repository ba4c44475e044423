package config

import (
	"net"
	"net/url"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/greenlight-cd/greenlight"
)

// Notification is one entry of the server's `notifications:` (SPEC §12):
// where events go besides mail.
type Notification struct {
	Name string
	Type string // greenlight.NotifySlack, NotifyTeams or NotifyWebhook
	// URL is where to post. Chat URLs are secrets themselves (whoever has
	// one can post to the channel): messages never quote them.
	URL string
	// Secret signs webhook bodies (X-Greenlight-Signature); required for
	// webhooks, not taken by chats, which cannot check a signature.
	Secret string
	// Events and Pipelines filter what is posted; nil means every one.
	Events    []string
	Pipelines []string
}

// notification reads one entry of `notifications:`. It runs after the
// pipelines were read, so `pipelines:` can be checked against them.
//
// Decisions: a URL must be https unless its host is the loopback (a
// receiver on the same machine), since bodies name commits and people and
// a chat URL is a credential; a webhook needs a secret, since the signature
// is the receiver's only proof that Greenlight sent the body.
func (d *decoder) notification(n ast.Node, path string, s *Server) *Notification {
	o, ok := d.object(n, path, "name", "type", "url", "secret", "events", "pipelines")
	if !ok {
		return nil
	}
	nt := &Notification{Name: d.uniqueName(o, path, "notification", ""), Type: o.str("type", ""), URL: o.str("url", ""),
		Secret: o.str("secret", "")}

	switch {
	case o.missing("type"):
		d.errorf(o.node, "%s.type: required (slack, teams or webhook)", path)
	case !o.valid("type"):
	case nt.Type != greenlight.NotifySlack && nt.Type != greenlight.NotifyTeams && nt.Type != greenlight.NotifyWebhook:
		d.errorf(o.at("type"), "%s.type: %q is not slack, teams or webhook", path, nt.Type)
	}

	// The URL is not quoted back: a chat's incoming-webhook URL is a secret.
	switch {
	case o.missing("url"):
		d.errorf(o.node, "%s.url: required", path)
	case !o.valid("url"):
	default:
		if why := notificationURLProblem(nt.URL); why != "" {
			d.errorf(o.at("url"), "%s.url: %s", path, why)
		}
	}

	switch {
	case !o.valid("secret"):
	case nt.Type == greenlight.NotifyWebhook && o.missing("secret"):
		d.errorf(o.node, "%s.secret: required for a webhook: receivers check X-Greenlight-Signature with it "+
			"(write ${VARIABLE} to keep it out of the file)", path)
	case nt.Type == greenlight.NotifyWebhook && strings.TrimSpace(nt.Secret) == "":
		d.errorf(o.at("secret"), "%s.secret: must not be empty", path)
	case (nt.Type == greenlight.NotifySlack || nt.Type == greenlight.NotifyTeams) && o.has("secret"):
		d.errorf(o.keyAt("secret"), "%s.secret: %s does not check signatures; only a webhook takes a secret", path, nt.Type)
	}

	if o.has("events") {
		events, nodes := o.strings("events")
		if len(events) == 0 && o.valid("events") {
			d.errorf(o.at("events"), "%s.events: empty, so nothing would be sent; leave the key out for every event", path)
		}
		nt.Events = []string{}
		for i, e := range events {
			if !greenlight.IsNotificationEvent(e) {
				d.errorf(nodes[i], "%s: unknown event %q (one of %s)", index(join(path, "events"), i), e,
					strings.Join(greenlight.NotificationEvents, ", "))
				continue
			}
			nt.Events = append(nt.Events, e)
		}
	}
	if o.has("pipelines") {
		names, nodes := o.strings("pipelines")
		if len(names) == 0 && o.valid("pipelines") {
			d.errorf(o.at("pipelines"), "%s.pipelines: empty, so nothing would be sent; leave the key out for every pipeline", path)
		}
		nt.Pipelines = []string{}
		for i, p := range names {
			if s.Pipeline(p) == nil {
				d.errorf(nodes[i], "%s: no pipeline is named %q", index(join(path, "pipelines"), i), p)
				continue
			}
			nt.Pipelines = append(nt.Pipelines, p)
		}
	}
	return nt
}

// notificationURLProblem explains why raw is not a URL to post
// notifications to, without quoting it.
func notificationURLProblem(raw string) string {
	if why := httpURLProblem(raw); why != "" {
		return "invalid URL: " + why
	}
	u, _ := url.Parse(raw)
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return "must be https:// (http:// only to a receiver on this machine: localhost, 127.0.0.1, ::1)"
	}
	if u.Fragment != "" {
		return "must not have a fragment"
	}
	return ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
