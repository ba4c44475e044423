package webhook

import (
	"strings"
	"testing"
)

// What the forges may put where a pusher is named, beyond the samples.
func TestPusher(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"github noreply email", `{"pusher":{"name":"octocat","email":"1+octocat@users.noreply.github.com"},"sender":{"login":"octocat"}}`, "1+octocat@users.noreply.github.com"},
		{"github pusher without email", `{"pusher":{"name":"octocat","email":null},"sender":{"login":"octo-sender"}}`, "octo-sender"},
		{"gitlab redacted email", `{"user_email":"[REDACTED]","user_username":"jsmith","user_name":"John Smith"}`, "jsmith"},
		{"gitlab empty email, no username", `{"user_email":"","user_name":"John  Smith"}`, "John Smith"},
		{"gitea pusher without email", `{"pusher":{"login":"gitea-user","email":""}}`, "gitea-user"},
		{"bitbucket without username", `{"actor":{"display_name":"Emma","nickname":"emma-n"}}`, "emma-n"},
		{"bitbucket display name only", `{"actor":{"display_name":"Emma\u0007 \u202eevil"}}`, "Emma evil"},
		{"email with spaces is no email", `{"pusher":{"email":"a b@example.com","name":"ab"}}`, "ab"},
		{"two at signs", `{"pusher":{"email":"a@b@example.com"}}`, ""},
		{"wrong types", `{"pusher":"octocat","user":7,"actor":[1]}`, ""},
		{"nobody", `{"ref":"refs/heads/main"}`, ""},
		{"not JSON", `{`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pusher([]byte(tt.body)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	long := `{"pusher":{"name":"` + strings.Repeat("é", 300) + `"}}`
	if got := pusher([]byte(long)); len(got) > maxBy || got[len(got)-2:] != "é" {
		t.Errorf("long name: %d bytes, ends %q", len(got), got[len(got)-2:])
	}
}
