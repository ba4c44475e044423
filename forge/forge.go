// Package forge posts commit statuses to GitHub, GitLab and Gitea/Forgejo
// (SPEC §10). It is an adapter: each Client turns one greenlight status into
// one HTTP request of its forge's API and reports what the forge answered.
// Which state to report, when to retry and when to give up are decided by
// the caller (package notify).
package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/greenlight-cd/greenlight"
)

// Forge types, as written in source.forge.type.
const (
	GitHub = "github"
	GitLab = "gitlab"
	Gitea  = "gitea" // Gitea and Forgejo share this API
)

// MaxDescription is the longest description sent, in characters: GitHub
// refuses longer ones with 422 (GitLab allows 255), so every forge gets at
// most this many.
const MaxDescription = 140

// Status is one state of one context on one commit.
type Status struct {
	SHA         string // the commit, 40 (or 64) hex digits
	Context     string // e.g. greenlight/hello/build
	State       greenlight.StatusState
	Description string // clipped to MaxDescription characters
	TargetURL   string // absolute http(s) URL, or ""
}

// Client posts commit statuses to one repository of one forge.
//
// Contract: Post is safe for concurrent use and makes exactly one request; ctx
// bounds it. A forge's answer other than 2xx is an *Error (with the HTTP
// status and a clipped body, never the token); any other error is a transport
// failure, worth retrying.
type Client interface {
	Post(ctx context.Context, s Status) error
}

// Config is what New needs: source.forge of a pipeline.
type Config struct {
	Type  string // github | gitlab | gitea
	API   string // base URL; "" for the default of github and gitlab
	Repo  string // owner/name; GitLab: a project path (group/sub/name) or numeric id
	Token string
	// HTTP is the client requests go through; nil: one with a 30s timeout
	// that never follows redirects (a redirected POST would lose its body,
	// and the token must not follow it elsewhere).
	HTTP *http.Client
}

// Default API base URLs.
const (
	DefaultGitHubAPI = "https://api.github.com"
	DefaultGitLabAPI = "https://gitlab.com/api/v4"
)

// New returns the Client for c.
func New(c Config) (Client, error) {
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.API == "" {
		switch c.Type {
		case GitHub:
			c.API = DefaultGitHubAPI
		case GitLab:
			c.API = DefaultGitLabAPI
		}
	}
	u, err := url.Parse(c.API)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("forge %s: api %q is not an absolute http(s) URL", c.Type, c.API)
	}
	if c.Token == "" {
		return nil, fmt.Errorf("forge %s: no token", c.Type)
	}
	base := strings.TrimRight(c.API, "/")
	switch c.Type {
	case GitHub, Gitea:
		owner, name, ok := strings.Cut(c.Repo, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("forge %s: repo %q is not owner/name", c.Type, c.Repo)
		}
		prefix := base + "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/statuses/"
		if c.Type == GitHub {
			return &github{poster{c.HTTP, c.Token, prefix, GitHub}}, nil
		}
		return &gitea{poster{c.HTTP, c.Token, prefix, Gitea}}, nil
	case GitLab:
		if c.Repo == "" || strings.HasPrefix(c.Repo, "/") || strings.HasSuffix(c.Repo, "/") {
			return nil, fmt.Errorf("forge gitlab: repo %q is not a project path or id", c.Repo)
		}
		// The whole path is one URL segment: group%2Fname.
		prefix := base + "/projects/" + url.PathEscape(c.Repo) + "/statuses/"
		return &gitlab{poster{c.HTTP, c.Token, prefix, GitLab}}, nil
	}
	return nil, fmt.Errorf("forge: unknown type %q (want github, gitlab or gitea)", c.Type)
}

// Error is a forge's answer other than 2xx, or a status refused before it
// was sent (a commit id that is not one), which gets status 422 as the
// forge would have answered.
type Error struct {
	Forge  string
	Status int    // HTTP status code
	Body   string // clipped, on one line, without the token
	// RetryAfter is the forge's Retry-After, when it sent one (rate limits).
	RetryAfter  time.Duration
	rateLimited bool
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: HTTP %d %s", e.Forge, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Permanent reports whether trying again cannot help without someone
// changing the configuration or the forge: a bad token (401), a token
// without the right (403), a repository or commit the token cannot see
// (404), a refused body (400, 422), a redirect (a renamed repository).
// A rate limit (429, or 403 with Retry-After or no requests left) is not.
func (e *Error) Permanent() bool {
	if e.rateLimited || e.RetryAfter > 0 {
		return false
	}
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusGone, http.StatusUnprocessableEntity:
		return true
	}
	return e.Status >= 300 && e.Status < 400
}

// Permanent reports whether err is an *Error that is Permanent.
func Permanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent()
}

// validSHA matches a full commit id (SHA-1 or SHA-256): it becomes part of
// the URL's path, so nothing else may pass.
var validSHA = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// clip cuts s to at most n characters, ending with … when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
