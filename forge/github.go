package forge

import (
	"context"
	"net/http"

	"github.com/greenlight-cd/greenlight"
)

// github posts to GitHub's commit statuses API, as documented at
// https://docs.github.com/en/rest/commits/statuses#create-a-commit-status:
//
//	POST {api}/repos/{owner}/{repo}/statuses/{sha}
//	Authorization: Bearer <token>
//	Accept: application/vnd.github+json
//	X-GitHub-Api-Version: 2022-11-28
//	{"state": "error|failure|pending|success", "target_url", "description", "context"}
//
// The token needs the repo:status scope (classic) or "Commit statuses: write"
// (fine-grained). GitHub keeps at most 1000 statuses per sha and context.
// GitHub Enterprise Server serves the same API under https://HOST/api/v3.
type github struct{ poster }

var _ Client = (*github)(nil)

// githubStatus is the body of a status on GitHub, and on Gitea and Forgejo,
// which copied GitHub's API.
type githubStatus struct {
	State       string `json:"state"`
	TargetURL   string `json:"target_url,omitempty"`
	Description string `json:"description"`
	Context     string `json:"context"`
}

func (g *github) Post(ctx context.Context, s Status) error {
	body := githubStatus{State: githubState(s.State), TargetURL: s.TargetURL,
		Description: clip(s.Description, MaxDescription), Context: s.Context}
	return g.post(ctx, s.SHA, body, func(h http.Header) {
		h.Set("Authorization", "Bearer "+g.token)
		h.Set("Accept", "application/vnd.github+json")
		h.Set("X-GitHub-Api-Version", "2022-11-28")
	})
}

// githubState: GitHub (and Gitea) have no running or cancelled state; a
// cancelled run is an error (nobody judged the commit), not a failure of it.
func githubState(s greenlight.StatusState) string {
	switch s {
	case greenlight.StatusSuccess:
		return "success"
	case greenlight.StatusFailure:
		return "failure"
	case greenlight.StatusCancelled:
		return "error"
	}
	return "pending"
}
