package config

import (
	"net/url"
	"strings"
)

// CompareURL returns the address of the forge's web page that compares
// commit from with commit to: what deploying to brings over from, say the
// release live in an environment. GitHub, Gitea and Forgejo show
// /compare/from...to, GitLab /-/compare/from...to, Bitbucket Cloud
// /branches/compare/to%0Dfrom.
//
// The forge is the one source.forge names (its web address is its API's
// without the API path: https://api.github.com is https://github.com,
// https://git.example.com/api/v1 is https://git.example.com); without
// source.forge, a repository on github.com, gitlab.com, bitbucket.org or
// codeberg.org is known by its address. It returns "" when the forge is not
// known, when from is "" (nothing released yet) or the same as to, or when
// either is not a commit id (hex).
func (s *Source) CompareURL(from, to string) string {
	from, to = strings.ToLower(from), strings.ToLower(to)
	if !isHex(from) || !isHex(to) || from == to {
		return ""
	}
	kind, base, repo := s.web()
	if base == "" || repo == "" {
		return ""
	}
	page := base + "/" + escapePath(repo)
	switch kind {
	case ForgeGitHub, ForgeGitea:
		return page + "/compare/" + from + "..." + to
	case ForgeGitLab:
		return page + "/-/compare/" + from + "..." + to
	case forgeBitbucket:
		return page + "/branches/compare/" + to + "%0D" + from
	}
	return ""
}

const forgeBitbucket = "bitbucket"

// publicForges are the hosted forges known by their host name alone.
var publicForges = map[string]string{
	"github.com":    ForgeGitHub,
	"gitlab.com":    ForgeGitLab,
	"bitbucket.org": forgeBitbucket,
	"codeberg.org":  ForgeGitea, // Forgejo
}

// web returns the forge's kind, its web address (scheme://host[/path]) and
// the repository's path there, or empty strings.
func (s *Source) web() (kind, base, repo string) {
	host, path := repoHostPath(s.Repo)
	if f := s.Forge; f != nil {
		u, err := url.Parse(f.API)
		if err != nil || u.Host == "" {
			return "", "", ""
		}
		p := strings.TrimRight(u.Path, "/")
		switch f.Type {
		case ForgeGitHub:
			if strings.EqualFold(u.Host, "api.github.com") {
				u.Host, p = "github.com", ""
			}
			p = strings.TrimSuffix(p, "/api/v3") // GitHub Enterprise Server
		case ForgeGitLab:
			p = strings.TrimSuffix(p, "/api/v4")
		case ForgeGitea:
			p = strings.TrimSuffix(p, "/api/v1")
		}
		repo = f.Repo
		if forgeProjectID(repo) { // GitLab's numeric id: the path is in the clone URL
			repo = ""
			if strings.EqualFold(host, u.Host) {
				repo = path
			}
		}
		return f.Type, u.Scheme + "://" + u.Host + p, repo
	}
	if kind = publicForges[strings.ToLower(host)]; kind == "" {
		return "", "", ""
	}
	return kind, "https://" + strings.ToLower(host), path
}

// repoHostPath splits a clone address (https://, ssh://, scp-like
// git@host:path) into its host and the repository's path without ".git".
func repoHostPath(repo string) (host, path string) {
	if u, err := url.Parse(repo); err == nil && u.Host != "" {
		host, path = u.Hostname(), u.Path
	} else if at, rest, ok := strings.Cut(repo, ":"); ok && !strings.Contains(at, "/") {
		host, path = at[strings.LastIndexByte(at, '@')+1:], rest
	} else {
		return "", ""
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	return host, strings.Trim(path, "/")
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func isHex(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
