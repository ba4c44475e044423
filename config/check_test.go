package config

import "testing"

func TestRefProblem(t *testing.T) {
	tests := []struct {
		ref string
		ok  bool
	}{
		{"main", true},
		{"release/v1.2", true},
		{"feature/x-y_z", true},
		{"", false},
		{"-main", false},
		{"--upload-pack=x", false},
		{"a..b", false},
		{"a b", false},
		{"a\tb", false},
		{"a\x7fb", false},
		{"a~1", false},
		{"a^", false},
		{"a:b", false},
		{"a?", false},
		{"a*", false},
		{"a[b", false},
		{`a\b`, false},
		{"main.lock", false},
		{"a.lock/b", false},
		{"main/", false},
		{"/main", false},
		{"a//b", false},
		{"a/.hidden", false},
		{".hidden", false},
		{"main.", false},
		{"@", false},
		{"a@{b", false},
	}
	for _, tt := range tests {
		why := refProblem(tt.ref)
		if (why == "") != tt.ok {
			t.Errorf("refProblem(%q) = %q, want ok=%v", tt.ref, why, tt.ok)
		}
	}
}

func TestPlainEmail(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"pm@example.com", true},
		{"first.last+tag@sub.example.co.uk", true},
		{"PM <pm@example.com>", false},
		{"<pm@example.com>", false},
		{"pm", false},
		{"pm@", false},
		{"", false},
		{"pm@example.com, cto@example.com", false},
		{" pm@example.com", false},
	}
	for _, tt := range tests {
		if got := plainEmail(tt.addr); got != tt.ok {
			t.Errorf("plainEmail(%q) = %v, want %v", tt.addr, got, tt.ok)
		}
	}
}

func TestLocalRepo(t *testing.T) {
	tests := []struct {
		repo  string
		local bool
	}{
		{"/srv/git/hello.git", true},
		{"../hello.git", true},
		{"hello.git", true},
		{"./a:b.git", true},
		{"https://github.com/acme/hello.git", false},
		{"ssh://git@host:22/hello.git", false},
		{"file:///srv/git/hello.git", false},
		{"git@github.com:acme/hello.git", false},
		{"host:repo.git", false},
	}
	for _, tt := range tests {
		if got := localRepo(tt.repo); got != tt.local {
			t.Errorf("localRepo(%q) = %v, want %v", tt.repo, got, tt.local)
		}
	}
}

func TestRelativeProblem(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"dist", true},
		{"dist/", true},
		{"./dist", true},
		{".", true},
		{"a/../b", true},
		{"", false},
		{"/etc", false},
		{"..", false},
		{"../x", false},
		{"a/../../x", false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		why := relativeProblem(tt.path, "workspace")
		if (why == "") != tt.ok {
			t.Errorf("relativeProblem(%q) = %q, want ok=%v", tt.path, why, tt.ok)
		}
	}
}

func TestValidEnvName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"PORT", true},
		{"_x", true},
		{"a1_B2", true},
		{"", false},
		{"1A", false},
		{"A-B", false},
		{"A B", false},
		{"É", false},
	}
	for _, tt := range tests {
		if got := validEnvName(tt.name); got != tt.ok {
			t.Errorf("validEnvName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestHTTPURLProblem(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8081", true},
		{"https://ci.example.com/greenlight/", true},
		{"http://[::1]:8080/healthz", true},
		{fillSample("http://{host}:{env.PORT}/healthz"), true},
		{"ftp://example.com", false},
		{"example.com", false},
		{"/healthz", false},
		{"http://", false},
		{"http://:8080/", false},
		{"http://host:99999/", false},
		{"http://host:port/", false},
		{fillSample("http://{host}:{env.1BAD}/"), false},
	}
	for _, tt := range tests {
		why := httpURLProblem(tt.url)
		if (why == "") != tt.ok {
			t.Errorf("httpURLProblem(%q) = %q, want ok=%v", tt.url, why, tt.ok)
		}
	}
}
