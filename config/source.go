package config

import (
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/greenlight-cd/greenlight/source"
)

func (d *decoder) source(pipeline *object, path string, s *Source) {
	o := pipeline.child("source", "repo", "branch", "poll", "webhook_secret",
		"branches", "tags", "paths", "schedule", "timezone", "forge",
		"token", "ssh_key", "ssh_known_hosts", "submodules", "depth")
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
	case httpUserinfo(s.Repo):
		// git would carry the password in its argv (ps shows it to every
		// user) and write it into the mirror's config; the token: key
		// reaches git through its environment only. The URL is not quoted:
		// it holds the secret.
		d.errorf(o.at("repo"), "%s.repo: an http(s) URL must not hold a user name, password or token: write the URL without \"user:secret@\" and put the token in %s.token", path, path)
	}

	d.branches(o, path, s)
	s.Tags = d.globs(o, path, "tags", true)
	s.Paths = d.globs(o, path, "paths", false)

	s.Poll = o.duration("poll", 0)
	switch {
	case s.Poll < 0:
		d.errorf(o.at("poll"), "%s.poll: must not be negative", path)
	case s.Poll > 0 && s.Poll < time.Second:
		d.errorf(o.at("poll"), "%s.poll: must be 0 (webhooks only) or at least 1s", path)
	}
	s.WebhookSecret = o.str("webhook_secret", "")
	d.schedule(o, path, s)

	s.Token = o.str("token", "")
	if s.Token != "" && o.valid("repo") && !strings.HasPrefix(s.Repo, "https://") && !strings.HasPrefix(s.Repo, "http://") {
		d.errorf(o.keyAt("token"), "%s.token: only used with an https:// repo", path)
	}
	s.SSHKey = d.existingFile(o, path, "ssh_key")
	s.SSHKnownHosts = d.existingFile(o, path, "ssh_known_hosts")
	s.Submodules = o.boolean("submodules", false)
	s.Depth = o.integer("depth", 0)
	if s.Depth < 0 && o.valid("depth") {
		d.errorf(o.at("depth"), "%s.depth: must be 0 (full history) or more", path)
	}
}

// branches reads branch and branches. branch alone is branches: [branch];
// both must agree (branch is one of branches). The default branch, which
// API, poll and schedule runs build, is branch or else the first plain name
// in branches.
func (d *decoder) branches(o *object, path string, s *Source) {
	s.Branch = o.str("branch", "")
	if why := refProblem(s.Branch); why != "" && o.has("branch") && o.valid("branch") {
		d.errorf(o.at("branch"), "%s.branch: invalid branch name %q: %s", path, s.Branch, why)
	}
	s.Branches = d.globs(o, path, "branches", true)
	switch {
	case !o.has("branches"):
		if s.Branch == "" {
			s.Branch = "main"
		}
		s.Branches = []string{s.Branch}
	case len(s.Branches) == 0 && o.valid("branches"):
		d.errorf(o.keyAt("branches"), "%s.branches: at least one branch is required", path)
	case o.has("branch") && s.Branch != "" && o.valid("branches"):
		p, err := source.ParsePatterns(s.Branches)
		if err == nil && !p.Match(s.Branch) {
			d.errorf(o.at("branch"), "%s.branch: %q is not among %s.branches", path, s.Branch, path)
		}
	case s.Branch == "":
		for _, b := range s.Branches {
			if !strings.HasPrefix(b, "!") && !strings.ContainsAny(b, "*?[\\") {
				s.Branch = b
				break
			}
		}
	}
}

// globs reads a list of globs; refs says they name git refs (branches,
// tags), whose plain names must also be valid ref names.
func (d *decoder) globs(o *object, path, key string, refs bool) []string {
	list, nodes := o.strings(key)
	for i, g := range list {
		p := index(join(path, key), i)
		if err := source.CheckGlob(g); err != nil {
			d.errorf(nodes[i], "%s: invalid glob %q: %v", p, g, err)
			continue
		}
		name := strings.TrimPrefix(g, "!")
		if refs && !strings.ContainsAny(name, "*?[\\") {
			if why := refProblem(name); why != "" {
				d.errorf(nodes[i], "%s: invalid name %q: %s", p, g, why)
			}
		}
	}
	return list
}

// schedule reads schedule and timezone; a schedule builds the default branch.
func (d *decoder) schedule(o *object, path string, s *Source) {
	s.Timezone = o.str("timezone", "")
	loc := time.Local
	if s.Timezone != "" && o.valid("timezone") {
		l, err := time.LoadLocation(s.Timezone)
		if err != nil || strings.EqualFold(s.Timezone, "local") {
			d.errorf(o.at("timezone"), "%s.timezone: unknown time zone %q (use an IANA name like Europe/Berlin or UTC)", path, s.Timezone)
		} else {
			loc = l
		}
	}
	s.Schedule = o.str("schedule", "")
	switch {
	case !o.has("schedule") || !o.valid("schedule"):
		if o.has("timezone") && !o.has("schedule") && o.valid("timezone") {
			d.errorf(o.keyAt("timezone"), "%s.timezone: only used with %s.schedule", path, path)
		}
	case strings.TrimSpace(s.Schedule) == "":
		d.errorf(o.at("schedule"), "%s.schedule: must not be empty", path)
	default:
		if _, err := source.ParseSchedule(s.Schedule, loc); err != nil {
			d.errorf(o.at("schedule"), "%s.schedule: invalid cron expression %q: %v", path, s.Schedule, err)
		} else if s.Branch == "" {
			d.errorf(o.at("schedule"), "%s.schedule: a schedule builds the default branch: set %s.branch", path, path)
		}
	}
}

// existingFile reads a path key, resolved against the config file's
// directory, and checks that it names a readable regular file.
func (d *decoder) existingFile(o *object, path, key string) string {
	p := o.str(key, "")
	if p == "" || !o.valid(key) {
		if o.has(key) && o.valid(key) {
			d.errorf(o.at(key), "%s: must not be empty", join(path, key))
		}
		return ""
	}
	abs := d.resolvePath(p)
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		d.errorf(o.at(key), "%s: cannot use %q: %v", join(path, key), p, unwrapPathError(err))
	case !fi.Mode().IsRegular():
		d.errorf(o.at(key), "%s: %q is not a regular file", join(path, key), p)
	}
	return abs
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// boolean reads a true/false key.
func (o *object) boolean(key string, def bool) bool {
	if !o.has(key) {
		return def
	}
	n := o.d.resolve(o.fields[key].value)
	if b, ok := n.(*ast.BoolNode); ok {
		return b.Value
	}
	if n != nil {
		o.d.errorf(n, "%s: expected true or false, got %s", join(o.path, key), kind(n))
	}
	o.fail(key, false)
	return def
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

// httpUserinfo reports whether repo is an http(s) URL with a user part
// ("user:token@host"). ssh:// and scp-like URLs keep their user, which is
// no secret. A URL that url.Parse refuses counts when it holds an "@": a
// password with a "/" in it breaks the URL but is still a password.
func httpUserinfo(repo string) bool {
	lower := strings.ToLower(repo)
	rest, ok := strings.CutPrefix(lower, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(lower, "http://"); !ok {
			return false
		}
	}
	u, err := url.Parse(repo)
	if err != nil {
		// "user:pa/ss@host": the secret is there, however the URL breaks.
		return strings.Contains(rest, "@")
	}
	authority, _, _ := strings.Cut(rest, "/")
	return u.User != nil || strings.Contains(authority, "@")
}
