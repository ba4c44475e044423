package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"path"
	"strings"
)

// refProblem explains why s is not a valid branch name, following
// git check-ref-format, or returns "". A name starting with "-" would be read
// by git as an option.
func refProblem(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case strings.HasPrefix(s, "-"):
		return `it must not start with "-"`
	case s == "@":
		return `it must not be "@"`
	case strings.Contains(s, ".."):
		return `it must not contain ".."`
	case strings.Contains(s, "@{"):
		return `it must not contain "@{"`
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//"):
		return `it must not start or end with "/" or contain "//"`
	case strings.HasSuffix(s, "."):
		return `it must not end with "."`
	case strings.HasSuffix(s, ".lock"):
		return `it must not end with ".lock"`
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == ' ' || strings.ContainsRune(`~^:?*[\`, c) {
			return fmt.Sprintf("it must not contain %q", c)
		}
	}
	for part := range strings.SplitSeq(s, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return `no part of it may start with "." or end with ".lock"`
		}
	}
	return ""
}

// plainEmail reports whether s is a bare address (pm@example.com), not one
// with a display name or angle brackets: approval tokens are bound to it.
func plainEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// httpURLProblem explains why s is not an absolute http(s) URL, or returns "".
func httpURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "it is not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "it must be an absolute http:// or https:// URL"
	case u.Host == "" || u.Hostname() == "":
		return "it has no host"
	}
	if p := u.Port(); p != "" && !validPort(p) {
		return fmt.Sprintf("invalid port %q", p)
	}
	return ""
}

func validPort(p string) bool {
	n := 0
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return false
		}
	}
	return p != ""
}

// relativeProblem explains why p is not a relative path that stays inside
// the directory it is relative to (where: "workspace", "repository"), or
// returns "".
func relativeProblem(p, where string) string {
	switch c := path.Clean(p); {
	case p == "":
		return "it is empty"
	case strings.ContainsRune(p, 0):
		return "it contains a NUL byte"
	case path.IsAbs(p):
		return "it must be a relative path inside the " + where
	case c == ".." || strings.HasPrefix(c, "../"):
		return "it escapes the " + where
	}
	return ""
}
