package greenlight

import "testing"

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"https://user:secret@git.example.com/acme/hello.git": "https://user:redacted@git.example.com/acme/hello.git",
		"https://ghp_token@github.com/acme/hello.git":        "https://redacted@github.com/acme/hello.git",
		"https://git.example.com/acme/hello.git":             "https://git.example.com/acme/hello.git",
		"ssh://git@host/acme/hello.git":                      "ssh://git@host/acme/hello.git",
		"/srv/git/hello.git":                                 "/srv/git/hello.git",
		"git@github.com:acme/hello.git":                      "git@github.com:acme/hello.git",
		"ssh://git@host:22/r.git":                            "ssh://git@host:22/r.git",
		"--end-of-options":                                   "--end-of-options",
	}
	for in, want := range tests {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidSHAAndName(t *testing.T) {
	for s, want := range map[string]bool{
		"0123456789abcdef0123456789abcdef01234567":                         true,
		"0123456789ABCDEF0123456789abcdef01234567":                         true,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": true,
		"0123456789abcdef": false, "--upload-pack=touch /tmp/x": false,
		"0123456789abcdef0123456789abcdef0123456g": false,
	} {
		if got := ValidSHA(s); got != want {
			t.Errorf("ValidSHA(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{"build": true, "prod-2": true, "": false, "Build": false, "../x": false, "a b": false} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v", s, got)
		}
	}
}
