package forge

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// gitlab posts to GitLab's commit status API, as documented at
// https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit
// (formerly "Post the build status to a commit"), with the token header of
// https://docs.gitlab.com/api/rest/authentication/#personalprojectgroup-access-tokens:
//
//	POST {api}/projects/{id or URL-encoded path}/statuses/{sha}   (api is https://HOST/api/v4)
//	PRIVATE-TOKEN: <token>
//	{"state": "pending|running|success|failed|canceled", "name", "target_url", "description"}
//
// The token needs the api scope (and at least the Developer role).
type gitlab struct{ poster }

var _ Client = (*gitlab)(nil)

type gitlabStatus struct {
	State       string `json:"state"`
	Name        string `json:"name"`
	TargetURL   string `json:"target_url,omitempty"`
	Description string `json:"description"`
}

func (g *gitlab) Post(ctx context.Context, s Status) error {
	body := gitlabStatus{State: gitlabState(s.State), Name: s.Context, TargetURL: s.TargetURL,
		Description: clip(s.Description, MaxDescription)}
	err := g.post(ctx, s.SHA, body, func(h http.Header) {
		h.Set("PRIVATE-TOKEN", g.token)
		h.Set("Accept", "application/json")
	})
	// GitLab keeps one open (pending or running) status per name and
	// refuses to move it to the state it already has, or from running back
	// to pending, with 400 "Cannot transition status via :run from
	// :running" (gitlab-org/gitlab-foss#25807). The status then already
	// shows the work is under way; only its description stays older, so
	// this is taken as posted rather than retried and dropped.
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusBadRequest && strings.Contains(e.Body, "Cannot transition status") {
		return nil
	}
	return err
}

func gitlabState(s greenlight.StatusState) string {
	switch s {
	case greenlight.StatusRunning:
		return "running"
	case greenlight.StatusSuccess:
		return "success"
	case greenlight.StatusFailure:
		return "failed"
	case greenlight.StatusCancelled:
		return "canceled"
	}
	return "pending"
}
