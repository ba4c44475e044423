package forge

import (
	"context"
	"net/http"
)

// gitea posts to the commit statuses API of Gitea and Forgejo (the same API),
// as documented in their Swagger reference (operation repoCreateStatus, at
// https://gitea.com/api/swagger#/repository/repoCreateStatus and
// https://codeberg.org/api/swagger#/repository/repoCreateStatus) and, for
// the token header, https://docs.gitea.com/development/api-usage and
// https://forgejo.org/docs/latest/user/api-usage/:
//
//	POST {api}/repos/{owner}/{repo}/statuses/{sha}      (api is https://HOST/api/v1)
//	Authorization: token <token>
//	{"state": "pending|success|error|failure|warning", "target_url", "description", "context"}
//
// The token needs the repository scope with write access ("repo").
type gitea struct{ poster }

var _ Client = (*gitea)(nil)

func (g *gitea) Post(ctx context.Context, s Status) error {
	body := githubStatus{State: githubState(s.State), TargetURL: s.TargetURL,
		Description: clip(s.Description, MaxDescription), Context: s.Context}
	return g.post(ctx, s.SHA, body, func(h http.Header) {
		h.Set("Authorization", "token "+g.token)
		h.Set("Accept", "application/json")
	})
}
