package webhook

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// buildActions are, per forge, the pull request actions that bring a new head
// commit to build: opened, new commits pushed, reopened. Any other action
// (closed, merged, labeled, approved…) is acknowledged and ignored.
var buildActions = map[string]map[string]bool{
	GitHub:    {"opened": true, "synchronize": true, "reopened": true},
	Gitea:     {"opened": true, "synchronized": true, "reopened": true},
	Forgejo:   {"opened": true, "synchronized": true, "reopened": true},
	GitLab:    {"open": true, "update": true, "reopen": true},
	Bitbucket: {"created": true, "updated": true},
}

// hubPull is a GitHub, Gitea or Forgejo pull_request event.
type hubPull struct {
	Action      string `json:"action"`
	PullRequest *struct {
		Number  int    `json:"number"`
		Title   string `json:"title"`
		HTMLURL string `json:"html_url"`
		Head    struct {
			Ref  string `json:"ref"`
			SHA  string `json:"sha"`
			Repo *struct {
				CloneURL string `json:"clone_url"`
			} `json:"repo"` // null when the fork is gone
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
}

// glMerge is a GitLab Merge Request Hook.
type glMerge struct {
	Attrs *struct {
		IID          int    `json:"iid"`
		Title        string `json:"title"`
		URL          string `json:"url"`
		Action       string `json:"action"`
		SourceBranch string `json:"source_branch"`
		TargetBranch string `json:"target_branch"`
		Source       *struct {
			HTTPURL string `json:"git_http_url"`
		} `json:"source"`
		LastCommit *struct {
			ID      string `json:"id"`
			Message string `json:"message"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
}

// readPull fills p from a pull (merge) request event. action is Bitbucket's,
// from its event key; the others say it in the body.
func readPull(p *Push, body []byte, action string) error {
	if p.Forge == Bitbucket {
		if !buildActions[Bitbucket][action] {
			p.Ignored = "pull request action " + clip(action)
			return nil
		}
		return readBitbucketPull(p, body)
	}
	if p.Forge == GitLab {
		var pl glMerge
		if err := json.Unmarshal(body, &pl); err != nil {
			return greenlight.Errorf(greenlight.EINVALID, "malformed gitlab merge request payload: %s", jsonProblem(err))
		}
		a := pl.Attrs
		if a == nil {
			return greenlight.Errorf(greenlight.EINVALID, "gitlab merge request payload has no \"object_attributes\"")
		}
		if !buildActions[GitLab][a.Action] {
			p.Ignored = "merge request action " + clip(a.Action)
			return nil
		}
		f := pullFields{number: a.IID, title: a.Title, url: a.URL, head: a.SourceBranch, base: a.TargetBranch,
			ref: "refs/merge-requests/" + strconv.Itoa(a.IID) + "/head"}
		if a.Source != nil {
			f.headRepo = a.Source.HTTPURL
		}
		if a.LastCommit != nil {
			f.sha, f.message = a.LastCommit.ID, a.LastCommit.Message
		}
		return setPull(p, f)
	}
	var pl hubPull
	if err := json.Unmarshal(body, &pl); err != nil {
		return greenlight.Errorf(greenlight.EINVALID, "malformed %s pull request payload: %s", p.Forge, jsonProblem(err))
	}
	pr := pl.PullRequest
	if pr == nil {
		return greenlight.Errorf(greenlight.EINVALID, "%s pull request payload has no \"pull_request\"", p.Forge)
	}
	if !buildActions[p.Forge][pl.Action] {
		p.Ignored = "pull request action " + clip(pl.Action)
		return nil
	}
	f := pullFields{number: pr.Number, title: pr.Title, url: pr.HTMLURL, head: pr.Head.Ref, base: pr.Base.Ref,
		sha: pr.Head.SHA, ref: "refs/pull/" + strconv.Itoa(pr.Number) + "/head"}
	if pr.Head.Repo != nil {
		f.headRepo = pr.Head.Repo.CloneURL
	}
	return setPull(p, f)
}

// pullFields is what every forge says of a pull request, before it is checked.
type pullFields struct {
	number            int
	title, url        string
	head, base        string // branch names
	headRepo          string // clone URL
	sha, message, ref string
}

// setPull checks f and makes p a pull request event. The head repository's
// URL and the branch names go to git later, so they are held to what such
// things can be: no options, no control characters, known URL schemes.
func setPull(p *Push, f pullFields) error {
	bad := func(format string, args ...any) error {
		return greenlight.Errorf(greenlight.EINVALID, p.Forge+" pull request: "+format, args...)
	}
	if f.number <= 0 {
		return bad("no number")
	}
	sha := strings.ToLower(f.sha)
	if !greenlight.ValidSHA(sha) && !(p.Forge == Bitbucket && abbreviatedSHA(sha)) {
		return bad("head commit %q is not a full commit sha", clip(sha))
	}
	for _, b := range []struct{ what, name string }{{"head", f.head}, {"base", f.base}} {
		if b.name == "" {
			return bad("no %s branch", b.what)
		}
		if checkRef("refs/heads/"+b.name) != nil || strings.HasPrefix(b.name, "-") {
			return bad("%s branch %q is not a valid branch name", b.what, clip(b.name))
		}
	}
	if f.headRepo != "" && !cloneURL(f.headRepo) {
		return bad("head repository %q is not an http(s), ssh or git URL", clip(f.headRepo))
	}
	if f.url != "" {
		if u, err := url.Parse(f.url); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return bad("URL %q is not an http(s) URL", clip(f.url))
		}
	}
	if f.ref != "" {
		if err := checkRef(f.ref); err != nil {
			return err
		}
	}
	p.Ref, p.After, p.Message = f.ref, sha, f.message
	p.PullRequest = &greenlight.PullRequest{Number: f.number, Title: strings.ToValidUTF8(f.title, "?"), URL: f.url,
		HeadBranch: f.head, BaseBranch: f.base, HeadRepo: f.headRepo}
	return nil
}

// cloneURL accepts the URLs forges give for a repository: http(s), ssh and
// git URLs, and scp-like user@host:path. It keeps out anything git would
// take for an option or a local path.
func cloneURL(s string) bool {
	if len(s) > 2048 || strings.HasPrefix(s, "-") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		switch u.Scheme {
		case "https", "http", "ssh", "git":
			return true
		}
		return false
	}
	// scp-like: git@example.com:group/repo.git
	at, colon := strings.Index(s, "@"), strings.Index(s, ":")
	return at > 0 && colon > at+1 && !strings.Contains(s[:colon], "/")
}
