package notify

import (
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// nested is a commit title of k placeholders nested into each other: each
// removal joins the next one from the pieces around it.
func nested(k int) string {
	p := greenlight.TokenPlaceholder
	return strings.Repeat(p[:len(p)/2], k) + strings.Repeat(p[len(p)/2:], k)
}

// Every placeholder goes from a title, including those a removal joins.
func TestWithoutPlaceholderNested(t *testing.T) {
	p := greenlight.TokenPlaceholder
	if got := withoutPlaceholder("x" + nested(1000) + "y"); got != "xy" {
		t.Errorf("withoutPlaceholder left %d bytes, want \"xy\"", len(got))
	}
	if got := oneLine("a" + p[:3] + p + p[3:] + "b"); strings.Contains(got, p) {
		t.Errorf("oneLine = %q: a placeholder joined by a removal survived", got)
	}
}

// A 480 KB title of nested placeholders (19.7 s a call with repeated
// ReplaceAll) is cleaned in one pass.
func BenchmarkOneLineNested(b *testing.B) {
	title := nested(30000)
	b.SetBytes(int64(len(title)))
	for b.Loop() {
		oneLine(title)
	}
}
