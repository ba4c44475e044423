package config

import (
	"strings"
	"time"
)

func (d *decoder) source(pipeline *object, path string, s *Source) {
	o := pipeline.child("source", "repo", "branch", "poll", "webhook_secret",
		"branches", "tags", "paths", "schedule", "timezone", "forge",
		"token", "ssh_key", "ssh_known_hosts", "submodules", "depth")
	for _, key := range []string{"branches", "tags", "paths", "schedule", "timezone",
		"token", "ssh_key", "ssh_known_hosts", "submodules", "depth"} {
		if o.has(key) {
			d.errorf(o.keyAt(key), "%s: not supported yet", join(path, key))
		}
	}
	d.forge(o, join(path, "forge"), s)
	s.Repo = o.str("repo", "")
	switch {
	case o.missing("repo"):
		d.errorf(o.at("repo"), "%s.repo: required", path)
	case !o.valid("repo"):
	case s.Repo == "":
		d.errorf(o.at("repo"), "%s.repo: must not be empty", path)
	case strings.HasPrefix(s.Repo, "-"):
		d.errorf(o.at("repo"), "%s.repo: must not start with \"-\"", path)
	case localRepo(s.Repo):
		s.Repo = d.resolvePath(s.Repo)
	}

	s.Branch = o.str("branch", "main")
	if why := refProblem(s.Branch); why != "" && o.valid("branch") {
		d.errorf(o.at("branch"), "%s.branch: invalid branch name %q: %s", path, s.Branch, why)
	}

	s.Poll = o.duration("poll", 0)
	switch {
	case s.Poll < 0:
		d.errorf(o.at("poll"), "%s.poll: must not be negative", path)
	case s.Poll > 0 && s.Poll < time.Second:
		d.errorf(o.at("poll"), "%s.poll: must be 0 (webhooks only) or at least 1s", path)
	}
	s.WebhookSecret = o.str("webhook_secret", "")
}

// localRepo reports whether repo is a file path rather than a URL or an
// scp-like address (host:path), by git's own rule: a path has no colon, or a
// slash before its first colon.
func localRepo(repo string) bool {
	if strings.Contains(repo, "://") {
		return false
	}
	colon := strings.IndexByte(repo, ':')
	return colon < 0 || strings.IndexByte(repo[:colon], '/') >= 0
}
