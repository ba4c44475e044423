package webhook

import (
	"encoding/json"
	"strings"
	"unicode"
)

// maxBy bounds Push.By: it is the sender's text, stored and shown.
const maxBy = 254

// actor holds the fields in which the forges name who caused an event:
// GitHub's pusher (name is the login; email may be a noreply address) and
// sender, Gitea's and Forgejo's pusher and sender, GitLab's user_* fields
// (pushes) and user (merge requests), Bitbucket Cloud's actor (which no
// longer has an email, and often no username).
type actor struct {
	Pusher *struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Login    string `json:"login"`
		Username string `json:"username"`
	} `json:"pusher"`
	Sender *struct {
		Email    string `json:"email"`
		Login    string `json:"login"`
		Username string `json:"username"`
	} `json:"sender"`
	UserEmail    string `json:"user_email"`
	UserUsername string `json:"user_username"`
	UserName     string `json:"user_name"`
	User         *struct {
		Email    string `json:"email"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"user"`
	Actor *struct {
		Username    string `json:"username"`
		Nickname    string `json:"nickname"`
		DisplayName string `json:"display_name"`
	} `json:"actor"`
}

// pusher returns who the event's JSON body says caused it: an email address
// when the forge gives one (approvers are compared by email), else a login,
// else a display name; "" when it names nobody. It never fails: a body that
// Parse accepted but whose actor fields have unexpected types names nobody.
func pusher(body []byte) string {
	var a actor
	_ = json.Unmarshal(body, &a) // fields of the wrong type stay empty
	var emails, names []string
	if p := a.Pusher; p != nil {
		emails = append(emails, p.Email)
		names = append(names, p.Login, p.Username, p.Name)
	}
	if u := a.User; u != nil {
		emails = append(emails, u.Email)
	}
	emails = append(emails, a.UserEmail)
	if s := a.Sender; s != nil {
		emails = append(emails, s.Email)
		names = append([]string{s.Login, s.Username}, names...)
	}
	names = append(names, a.UserUsername)
	if u := a.User; u != nil {
		names = append(names, u.Username)
	}
	if b := a.Actor; b != nil {
		names = append(names, b.Nickname, b.Username)
	}
	names = append(names, a.UserName)
	if u := a.User; u != nil {
		names = append(names, u.Name)
	}
	if b := a.Actor; b != nil {
		names = append(names, b.DisplayName)
	}
	for _, e := range emails {
		if e = strings.TrimSpace(e); isEmail(e) {
			return e
		}
	}
	for _, n := range names {
		if n = strings.Join(strings.FieldsFunc(n, unsafe), " "); n != "" {
			return clipTo(n, maxBy)
		}
	}
	return ""
}

// isEmail accepts what a forge would send as a user's email: one @ with text
// on both sides, no spaces or control characters. GitLab sends "[REDACTED]"
// (or "") when the user hides it.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return len(s) <= maxBy && at > 0 && at < len(s)-1 && strings.Count(s, "@") == 1 &&
		!strings.ContainsFunc(s, unsafe)
}

// unsafe are the characters a name loses: spaces (runs become one) and
// control and format characters (a name is shown in pages and mail).
func unsafe(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar
}

// clipTo cuts s to at most n bytes on a character boundary.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
