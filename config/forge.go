package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Forge types (source.forge.type).
const (
	ForgeGitHub = "github"
	ForgeGitLab = "gitlab"
	ForgeGitea  = "gitea" // Gitea and Forgejo
)

// Default forge API base URLs; Gitea has none (every server is self-hosted).
const (
	DefaultGitHubAPI = "https://api.github.com"
	DefaultGitLabAPI = "https://gitlab.com/api/v4"
)

// repoSegment is one part of a forge repository's path: what GitHub, GitLab
// and Gitea allow in owner, group and repository names.
var repoSegment = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// forge reads source.forge: where commit statuses go (SPEC §10). Every key is
// required but api, which defaults for github and gitlab.
func (d *decoder) forge(source *object, path string, s *Source) {
	if !source.has("forge") {
		return
	}
	o := source.child("forge", "type", "api", "repo", "token")
	if o.bad {
		return
	}
	f := &Forge{Type: o.str("type", ""), API: o.str("api", ""), Repo: o.str("repo", ""), Token: o.str("token", "")}
	typeOK := false
	switch {
	case o.missing("type"):
		d.errorf(o.keyAt("type"), "%s.type: required (github, gitlab or gitea)", path)
	case !o.valid("type"):
	case f.Type != ForgeGitHub && f.Type != ForgeGitLab && f.Type != ForgeGitea:
		d.errorf(o.at("type"), "%s.type: %q is not github, gitlab or gitea", path, f.Type)
	default:
		typeOK = true
	}

	switch {
	case !o.valid("api"):
	case o.has("api"):
		// A URL with credentials is not quoted back: it holds a secret.
		if u, err := url.Parse(f.API); err == nil && u.User != nil {
			d.errorf(o.at("api"), "%s.api: must not hold credentials (the token goes in token)", path)
		} else if p := httpURLProblem(f.API); p != "" {
			d.errorf(o.at("api"), "%s.api: invalid URL %q: %s", path, f.API, p)
		} else if u.RawQuery != "" || u.Fragment != "" {
			d.errorf(o.at("api"), "%s.api: %q must not have a query or fragment", path, f.API)
		}
		f.API = strings.TrimRight(f.API, "/")
	case f.Type == ForgeGitHub:
		f.API = DefaultGitHubAPI
	case f.Type == ForgeGitLab:
		f.API = DefaultGitLabAPI
	case f.Type == ForgeGitea:
		d.errorf(o.keyAt("api"), "%s.api: required for gitea (the server's API, like https://gitea.example.com/api/v1)", path)
	}

	switch {
	case o.missing("repo"):
		d.errorf(o.keyAt("repo"), "%s.repo: required", path)
	case !o.valid("repo") || !typeOK:
	default:
		if why := forgeRepoProblem(f.Type, f.Repo); why != "" {
			d.errorf(o.at("repo"), "%s.repo: %q %s", path, f.Repo, why)
		}
	}

	// The token is never quoted in a message: it is a secret.
	switch {
	case o.missing("token"):
		d.errorf(o.keyAt("token"), "%s.token: required (write ${VARIABLE} to keep it out of the file)", path)
	case !o.valid("token"):
	case strings.TrimSpace(f.Token) == "":
		d.errorf(o.at("token"), "%s.token: must not be empty", path)
	case strings.ContainsAny(f.Token, "\r\n"):
		d.errorf(o.at("token"), "%s.token: must be one line", path)
	}
	s.Forge = f
}

// forgeRepoProblem explains why repo does not name a repository of the forge.
func forgeRepoProblem(typ, repo string) string {
	parts := strings.Split(repo, "/")
	if typ == ForgeGitLab {
		if len(parts) == 1 && forgeProjectID(repo) {
			return "" // a numeric project id
		}
		if len(parts) < 2 {
			return "is not a project path (group/name) or a numeric project id"
		}
	} else if len(parts) != 2 {
		return "is not owner/name"
	}
	for _, p := range parts {
		if !repoSegment.MatchString(p) || p == "." || p == ".." {
			return fmt.Sprintf("has an invalid part %q", p)
		}
	}
	return ""
}

func forgeProjectID(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
