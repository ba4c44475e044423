package greenlight

import "net/url"

// ValidName reports whether s matches ^[a-z0-9-]+$ and fits in a file name:
// names of pipelines, stages and environments appear in URLs and paths.
func ValidName(s string) bool {
	if s == "" || len(s) > 250 {
		return false
	}
	for _, c := range []byte(s) {
		if c != '-' && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ValidSHA reports whether s is a full git object name: 40 hex digits
// (SHA-1) or 64 (SHA-256), in either case.
func ValidSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// RedactURL hides credentials written into a repository URL before it is
// shown or logged: https://user:token@host/… keeps the user and hides the
// password, https://token@host/… hides the token. An ssh user such as git@
// is not a secret and stays.
func RedactURL(repo string) string {
	u, err := url.Parse(repo)
	if err != nil || u.User == nil || u.Host == "" {
		return repo
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	} else if u.Scheme == "http" || u.Scheme == "https" {
		u.User = url.User("redacted")
	}
	return u.String()
}
