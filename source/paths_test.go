package source

import (
	"fmt"
	"testing"
)

func TestPatterns(t *testing.T) {
	tests := []struct {
		globs []string
		name  string
		want  bool
	}{
		{nil, "anything/at/all", true},
		{[]string{"main"}, "main", true},
		{[]string{"main"}, "main2", false},
		{[]string{"release/*"}, "release/1.2", true},
		{[]string{"release/*"}, "release/1/2", false},
		{[]string{"release/*"}, "release", false},
		{[]string{"feature-*"}, "feature-login", true},
		{[]string{"feature-*"}, "feature/login", false},
		{[]string{"v?"}, "v1", true},
		{[]string{"v?"}, "v10", false},
		{[]string{"v[0-9]*"}, "v1.2.3", true},
		{[]string{"v[0-9]*"}, "vx", false},
		{[]string{"v[!0-9]*"}, "vx", true},
		{[]string{"src/**"}, "src/a/b/c.go", true},
		{[]string{"src/**"}, "src", true},
		{[]string{"src/**"}, "srcx/a.go", false},
		{[]string{"**/*.go"}, "main.go", true},
		{[]string{"**/*.go"}, "a/b/main.go", true},
		{[]string{"**/*.go"}, "a/b/main.md", false},
		{[]string{"a/**/b"}, "a/b", true},
		{[]string{"a/**/b"}, "a/x/y/b", true},
		{[]string{"a**"}, "a/b/c", true},
		{[]string{"src/**", "!src/gen/**"}, "src/gen/x.go", false},
		{[]string{"src/**", "!src/gen/**"}, "src/main.go", true},
		{[]string{"!docs/**"}, "docs/index.md", false},
		{[]string{"!docs/**"}, "main.go", true},
		{[]string{"!docs/**", "docs/api/**"}, "docs/api/x.md", true},
		{[]string{"*", "!wip-*"}, "wip-x", false},
		{[]string{"*", "!wip-*"}, "main", true},
		{[]string{`a\*`}, "a*", true},
		{[]string{`a\*`}, "ab", false},
		{[]string{"a.b"}, "axb", false},
		{[]string{"(x)+"}, "(x)+", true},
	}
	for _, tt := range tests {
		p, err := ParsePatterns(tt.globs)
		if err != nil {
			t.Fatalf("ParsePatterns(%q): %v", tt.globs, err)
		}
		if got := p.Match(tt.name); got != tt.want {
			t.Errorf("%q matching %q: got %v, want %v", tt.globs, tt.name, got, tt.want)
		}
	}
}

func TestCheckGlob(t *testing.T) {
	tests := []struct {
		glob string
		ok   bool
	}{
		{"main", true},
		{"!docs/**", true},
		{"[a-z]*", true},
		{"", false},
		{"!", false},
		{"[abc", false},
		{`trailing\`, false},
		{"[z-a]", false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		if err := CheckGlob(tt.glob); (err == nil) != tt.ok {
			t.Errorf("CheckGlob(%q) = %v, want ok %v", tt.glob, err, tt.ok)
		}
	}
}

func TestPatternsLiteral(t *testing.T) {
	tests := []struct {
		globs []string
		want  string
		ok    bool
	}{
		{[]string{"main"}, "main", true},
		{[]string{"release/*"}, "", false},
		{[]string{"main", "dev"}, "", false},
		{[]string{"!main"}, "", false},
	}
	for _, tt := range tests {
		p, _ := ParsePatterns(tt.globs)
		got, ok := p.Literal()
		if got != tt.want || ok != tt.ok {
			t.Errorf("Literal(%q) = %q, %v; want %q, %v", tt.globs, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPatternsMatchAny(t *testing.T) {
	p, _ := ParsePatterns([]string{"src/**", "!**/*.md"})
	if got, ok := p.MatchAny([]string{"README.md", "src/a.md", "src/a.go"}); !ok || got != "src/a.go" {
		t.Errorf("MatchAny = %q, %v; want src/a.go, true", got, ok)
	}
	if _, ok := p.MatchAny([]string{"docs/x", "src/y.md"}); ok {
		t.Error("MatchAny matched files that no rule takes")
	}
}

func BenchmarkPatternsMatchAny(b *testing.B) {
	p, _ := ParsePatterns([]string{"src/**", "!src/**/*.md", "cmd/*/main.go"})
	files := make([]string, 1000)
	for i := range files {
		files[i] = fmt.Sprintf("docs/section-%d/page.md", i)
	}
	b.ResetTimer()
	for b.Loop() {
		p.MatchAny(files)
	}
}
