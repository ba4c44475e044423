package config

import (
	"strings"
	"testing"
)

func TestCompareURL(t *testing.T) {
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	tests := []struct {
		name     string
		src      Source
		from, to string
		want     string
	}{
		{"github forge", Source{Repo: "https://github.com/acme/hello.git", Forge: &Forge{Type: ForgeGitHub, API: DefaultGitHubAPI, Repo: "acme/hello"}},
			a, b, "https://github.com/acme/hello/compare/" + a + "..." + b},
		{"github enterprise", Source{Repo: "git@ghe.example.com:acme/hello.git", Forge: &Forge{Type: ForgeGitHub, API: "https://ghe.example.com/api/v3", Repo: "acme/hello"}},
			a, b, "https://ghe.example.com/acme/hello/compare/" + a + "..." + b},
		{"gitlab forge with a group path", Source{Repo: "https://gitlab.com/g/sub/hello.git", Forge: &Forge{Type: ForgeGitLab, API: DefaultGitLabAPI, Repo: "g/sub/hello"}},
			a, b, "https://gitlab.com/g/sub/hello/-/compare/" + a + "..." + b},
		{"gitlab numeric id: path from the clone URL", Source{Repo: "https://gitlab.example.com/g/hello.git", Forge: &Forge{Type: ForgeGitLab, API: "https://gitlab.example.com/api/v4", Repo: "42"}},
			a, b, "https://gitlab.example.com/g/hello/-/compare/" + a + "..." + b},
		{"gitlab numeric id, clone elsewhere", Source{Repo: "/srv/git/hello", Forge: &Forge{Type: ForgeGitLab, API: "https://gitlab.example.com/api/v4", Repo: "42"}},
			a, b, ""},
		{"gitea under a path", Source{Repo: "/srv/mirror", Forge: &Forge{Type: ForgeGitea, API: "https://example.com/git/api/v1/", Repo: "acme/hello"}},
			a, b, "https://example.com/git/acme/hello/compare/" + a + "..." + b},
		{"github.com without forge", Source{Repo: "git@github.com:acme/hello.git"}, a, b, "https://github.com/acme/hello/compare/" + a + "..." + b},
		{"gitlab.com without forge", Source{Repo: "https://user@gitlab.com/acme/hello"}, a, b, "https://gitlab.com/acme/hello/-/compare/" + a + "..." + b},
		{"bitbucket", Source{Repo: "https://bitbucket.org/acme/hello.git"}, a, b, "https://bitbucket.org/acme/hello/branches/compare/" + b + "%0D" + a},
		{"codeberg", Source{Repo: "ssh://git@codeberg.org/acme/hello.git"}, a, b, "https://codeberg.org/acme/hello/compare/" + a + "..." + b},
		{"unknown host", Source{Repo: "https://git.example.com/acme/hello.git"}, a, b, ""},
		{"local path", Source{Repo: "/srv/git/hello"}, a, b, ""},
		{"nothing live yet", Source{Repo: "https://github.com/acme/hello"}, "", b, ""},
		{"same commit", Source{Repo: "https://github.com/acme/hello"}, b, b, ""},
		{"not a commit", Source{Repo: "https://github.com/acme/hello"}, "main", b, ""},
		{"upper-case sha", Source{Repo: "https://github.com/acme/hello"}, strings.ToUpper(a), b, "https://github.com/acme/hello/compare/" + a + "..." + b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.src.CompareURL(tt.from, tt.to); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
