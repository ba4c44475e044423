package source

import (
	"testing"

	"github.com/greenlight-cd/greenlight"
)

func TestCheckBranch(t *testing.T) {
	tests := []struct {
		branch string
		ok     bool
	}{
		{"main", true},
		{"release/1.2", true},
		{"feature/x-y_z", true},
		{"v1.0", true},
		{"", false},
		{"-main", false},
		{"--upload-pack=touch /tmp/x", false},
		{"a b", false},
		{"a..b", false},
		{"a@{1}", false},
		{"@", false},
		{"/main", false},
		{"main/", false},
		{"a//b", false},
		{"main.", false},
		{"main.lock", false},
		{"a/.hidden", false},
		{"a~1", false},
		{"a^", false},
		{"a:b", false},
		{"a?", false},
		{"a*", false},
		{"a[b", false},
		{`a\b`, false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
	}
	for _, tt := range tests {
		err := checkBranch(tt.branch)
		if (err == nil) != tt.ok {
			t.Errorf("checkBranch(%q) = %v, want ok=%v", tt.branch, err, tt.ok)
		}
		if err != nil && greenlight.ErrorCode(err) != greenlight.EINVALID {
			t.Errorf("checkBranch(%q): code %q, want %q", tt.branch, greenlight.ErrorCode(err), greenlight.EINVALID)
		}
	}
}

func TestCheckSHA(t *testing.T) {
	tests := []struct {
		sha, want string
		ok        bool
	}{
		{"0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567", true},
		{"0123456789ABCDEF0123456789ABCDEF01234567", "0123456789abcdef0123456789abcdef01234567", true},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"0123456", "", false},
		{"", "", false},
		{"--upload-pack=touch-/tmp/x-aaaaaaaaaaaaaaa", "", false},
		{"g123456789abcdef0123456789abcdef01234567", "", false},
		{"HEAD", "", false},
		{"0123456789abcdef0123456789abcdef0123456", "", false},
	}
	for _, tt := range tests {
		got, err := checkSHA(tt.sha)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("checkSHA(%q) = %q, %v; want %q, ok=%v", tt.sha, got, err, tt.want, tt.ok)
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		path, want string
		ok         bool
	}{
		{".greenlight.yml", ".greenlight.yml", true},
		{"./.greenlight.yml", ".greenlight.yml", true},
		{"ci/build.yml", "ci/build.yml", true},
		{"ci//x/../build.yml", "ci/build.yml", true},
		{"", "", false},
		{".", "", false},
		{"/etc/passwd", "", false},
		{"../secret", "", false},
		{"a/../../secret", "", false},
		{"a\nb", "", false},
	}
	for _, tt := range tests {
		got, err := cleanPath(tt.path)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, ok=%v", tt.path, got, err, tt.want, tt.ok)
		}
	}
}
