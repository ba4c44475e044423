package source

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

func TestCommit(t *testing.T) {
	u := newUpstream(t)
	tests := []struct {
		name, author, email, msg string
		want                     greenlight.Commit
	}{
		{
			name: "plain", author: "Ada Lovelace", email: "ada@example.com",
			msg:  "Add engine\n\nLonger body.\n",
			want: greenlight.Commit{Title: "Add engine", AuthorName: "Ada Lovelace", AuthorEmail: "ada@example.com"},
		},
		{
			// Returned verbatim: escaping is the renderer's job. git itself
			// drops '<' and '>' from names.
			name: "html and crlf", author: `O'Brien & "Co" Ltd`, email: "eve+tag@example.com",
			msg:  "Fix <b>bold</b> & <script>alert(1)</script>\r\n\r\nbody\r\n",
			want: greenlight.Commit{Title: "Fix <b>bold</b> & <script>alert(1)</script>", AuthorName: `O'Brien & "Co" Ltd`, AuthorEmail: "eve+tag@example.com"},
		},
		{
			name: "lone CR inside the title", author: "Mallory", email: "m@example.com",
			msg:  "Deploy\rBcc: victim@example.com\nrest",
			want: greenlight.Commit{Title: "Deploy\rBcc: victim@example.com", AuthorName: "Mallory", AuthorEmail: "m@example.com"},
		},
		{
			name: "one line without newline", author: "Zoë Ünicode", email: "zoe@example.com",
			msg:  "ünïcödé ✓",
			want: greenlight.Commit{Title: "ünïcödé ✓", AuthorName: "Zoë Ünicode", AuthorEmail: "zoe@example.com"},
		},
	}
	g := newGit(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sha := u.commitAs(tt.author, tt.email, nil, tt.msg)
			got, err := g.Commit(ctx, u.dir, sha)
			if err != nil {
				t.Fatal(err)
			}
			// The author is given; the committer is the environment's
			// (helpers_test.go): they differ, as after a rebase.
			tt.want.SHA, tt.want.CommitterEmail = sha, "committer@example.com"
			if got != tt.want {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
	_, err := g.Commit(ctx, u.dir, strings.Repeat("cd", 20))
	wantCode(t, err, greenlight.ENOTFOUND)

}

func TestChanges(t *testing.T) {
	u := newUpstream(t)
	base := u.git("rev-parse", "HEAD")
	a := u.commit(nil, "first change\n\nwith a body")
	b := u.commit(nil, "second <change>\r\n")
	c := u.commit(nil, "third change")
	g := newGit(t)

	tests := []struct {
		name     string
		from, to string
		max      int
		want     []string
	}{
		{"from empty: all of to's history", "", c, 10, []string{"third change", "second <change>", "first change", "initial commit"}},
		{"from empty, bounded by max", "", c, 2, []string{"third change", "second <change>"}},
		{"range newest first", base, c, 10, []string{"third change", "second <change>", "first change"}},
		{"max", base, c, 2, []string{"third change", "second <change>"}},
		{"no max", base, c, 0, []string{"third change", "second <change>", "first change"}},
		{"one", b, c, 10, []string{"third change"}},
		{"same commit", c, c, 10, []string{}},
		{"from after to", c, a, 10, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.Changes(ctx, u.dir, tt.from, tt.to, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	_, err := g.Changes(ctx, u.dir, strings.Repeat("ef", 20), c, 10)
	wantCode(t, err, greenlight.ENOTFOUND)
	_, err = g.Changes(ctx, u.dir, "HEAD~3", c, 10)
	wantCode(t, err, greenlight.EINVALID)
}

func TestReadFile(t *testing.T) {
	u := newUpstream(t)
	sha := u.commit(map[string]string{
		".greenlight.yml": "steps:\n  - run: make\n",
		"ci/build.yml":    "x: 1\n",
		"empty":           "",
	}, "build file")
	g := newGit(t)
	tests := []struct {
		path, want, code string
	}{
		{".greenlight.yml", "steps:\n  - run: make\n", ""},
		{"./ci/build.yml", "x: 1\n", ""},
		{"empty", "", ""},
		{"missing.yml", "", greenlight.ENOTFOUND},
		{"ci", "", greenlight.ENOTFOUND}, // a directory is not a file
		{"../etc/passwd", "", greenlight.EINVALID},
		{"/etc/passwd", "", greenlight.EINVALID},
	}
	for _, tt := range tests {
		got, err := g.ReadFile(ctx, u.dir, sha, tt.path)
		if tt.code != "" {
			wantCode(t, err, tt.code)
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("ReadFile(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	_, err := g.ReadFile(ctx, filepath.Join(t.TempDir(), "none"), sha, ".greenlight.yml")
	if err == nil {
		t.Error("ReadFile of a missing repository succeeded")
	}
}

// parseCommit reads what git wrote, but must not panic on a truncated object.
func TestParseCommit(t *testing.T) {
	tests := []struct {
		raw  string
		want greenlight.Commit
	}{
		{"tree x\nauthor A B <a@b> 1 +0000\ncommitter C <c@d> 1 +0000\n\nTitle\nbody\n",
			greenlight.Commit{Title: "Title", AuthorName: "A B", AuthorEmail: "a@b", CommitterEmail: "c@d"}},
		{"committer C <c@d> 1 +0000\nauthor A <a@b> 1 +0000\ncommitter E <e@f> 1 +0000\n\nT",
			greenlight.Commit{Title: "T", AuthorName: "A", AuthorEmail: "a@b", CommitterEmail: "c@d"}},
		{"author A <a@b> 1 +0000\ncommitter broken\n\nT", greenlight.Commit{Title: "T", AuthorName: "A", AuthorEmail: "a@b"}},
		{"author A <a@b> 1 +0000\n\nTitle\r\n", greenlight.Commit{Title: "Title", AuthorName: "A", AuthorEmail: "a@b"}},
		{"author <> 1 +0000\n\n", greenlight.Commit{}},
		{"author broken\n\nT", greenlight.Commit{Title: "T", AuthorName: "broken"}},
		{"author x > y < z\n\nT", greenlight.Commit{Title: "T", AuthorName: "x > y < z"}},
		{"", greenlight.Commit{}},
		{"\n\n", greenlight.Commit{}},
	}
	for _, tt := range tests {
		if got := parseCommit([]byte(tt.raw)); got != tt.want {
			t.Errorf("parseCommit(%q) = %#v, want %#v", tt.raw, got, tt.want)
		}
	}
}

// TestCommits: what an approver is asked to ship names each commit and its
// author.
func TestCommits(t *testing.T) {
	u := newUpstream(t)
	base := u.git("rev-parse", "HEAD")
	a := u.commit(nil, "first change\n\nwith a body")
	b := u.commitAs("Grace Hopper", "grace@example.com", nil, "second change")
	g := newGit(t)
	got, err := g.Commits(ctx, u.dir, base, b, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []greenlight.Change{{SHA: b, Title: "second change", Author: "Grace Hopper"}, {SHA: a, Title: "first change", Author: "Test Author"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
