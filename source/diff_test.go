package source

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

func TestChangedFiles(t *testing.T) {
	u := newUpstream(t) // README.md
	base := u.commit(map[string]string{
		"src/app.go":           strings.Repeat("package app // a long enough file to be recognised when renamed\n", 20),
		"docs/guide.md":        "guide\n",
		"odd name\twith\ttabs": "x\n",
	}, "base")
	u.git("mv", "src/app.go", "src/main.go")
	u.git("rm", "--quiet", "docs/guide.md")
	next := u.commit(map[string]string{"README.md": "changed\n", "new/dir/file.txt": "new\n"}, "rename, delete, change, add")
	same := u.commit(nil, "empty commit")
	g := newGit(t)

	tests := []struct {
		name, from, to string
		want           []string
	}{
		{"rename delete modify add", base, next,
			[]string{"README.md", "docs/guide.md", "new/dir/file.txt", "src/app.go", "src/main.go"}},
		{"backwards", next, base,
			[]string{"README.md", "docs/guide.md", "new/dir/file.txt", "src/app.go", "src/main.go"}},
		{"same commit", next, next, []string{}},
		{"nothing changed", next, same, []string{}},
		{"every file of to", "", base,
			[]string{"README.md", "docs/guide.md", "odd name\twith\ttabs", "src/app.go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.ChangedFiles(ctx, u.dir, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	_, err := g.ChangedFiles(ctx, u.dir, "HEAD~1", next)
	wantCode(t, err, greenlight.EINVALID)
	_, err = g.ChangedFiles(ctx, u.dir, strings.Repeat("ab", 20), next)
	wantCode(t, err, greenlight.ENOTFOUND)
}

func TestChangedFilesBounded(t *testing.T) {
	u := newUpstream(t)
	files := map[string]string{}
	for i := 0; i < 300; i++ {
		files[fmt.Sprintf("%s/%s%03d", strings.Repeat("d", 200), strings.Repeat("f", 200), i)] = "x"
	}
	sha := u.commit(files, "many long paths")
	g := newGit(t)
	// Within the bound: all 301 paths.
	got, err := g.ChangedFiles(ctx, u.dir, "", sha)
	if err != nil || len(got) != 301 {
		t.Fatalf("ChangedFiles = %d paths, %v; want 301", len(got), err)
	}
	// git's output past the byte bound is refused, not read into memory.
	m := g.mirror(u.dir)
	_, err = g.exec(ctx, call{maxOut: 1024}, "--git-dir="+m.dir, "ls-tree", "-r", "-z", "--name-only", sha)
	if !errors.Is(err, errTooMuchOutput) {
		t.Fatalf("bounded run = %v, want errTooMuchOutput", err)
	}
}

func TestParseNameStatus(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"M\x00a\x00", []string{"a"}},
		{"R087\x00old\x00new\x00M\x00a\x00", []string{"a", "new", "old"}},
		{"C100\x00a\x00b\x00D\x00a\x00", []string{"a", "b"}},
		{"R100\x00only-one\x00", []string{"only-one"}}, // truncated: no panic
	}
	for _, tt := range tests {
		if got := parseNameStatus([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseNameStatus(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
