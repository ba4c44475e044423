package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight/source/gittest"
)

// A damaged mirror is noticed by the next operation that needs it, logged
// at WARN, cloned again, and the operation succeeds.
func TestCorruptedMirror(t *testing.T) {
	// looseObject is the file of a loose object in the mirror.
	looseObject := func(dir, sha string) string {
		return filepath.Join(dir, "objects", sha[:2], sha[2:])
	}
	tests := []struct {
		name string
		// damage breaks the mirror at m, which holds base in a pack and
		// top (whose blob is blob) as loose objects.
		damage func(t *testing.T, m, top, blob string)
		// op is what runs next.
		op string
		// warn: the mirror is cloned again, with a warning. Otherwise
		// git repairs it by itself (a fetch brings a missing commit
		// back) and the operation needs only succeed.
		warn bool
	}{
		{"truncated pack", func(t *testing.T, m, top, blob string) {
			packs, _ := filepath.Glob(filepath.Join(m, "objects/pack/*.pack"))
			if len(packs) == 0 {
				t.Fatal("no pack to truncate")
			}
			for _, p := range packs {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, fi.Size()/2); err != nil {
					t.Fatal(err)
				}
			}
		}, "checkout base", true},
		{"missing blob", func(t *testing.T, m, top, blob string) {
			if err := os.Remove(looseObject(m, blob)); err != nil {
				t.Fatal(err)
			}
		}, "checkout top", true},
		{"missing commit", func(t *testing.T, m, top, blob string) {
			if err := os.Remove(looseObject(m, top)); err != nil {
				t.Fatal(err)
			}
		}, "commit top", false},
		{"garbage HEAD", func(t *testing.T, m, top, blob string) {
			if err := os.WriteFile(filepath.Join(m, "HEAD"), []byte("garbage\x00\xff\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "fetch", true},
		{"garbage HEAD, read", func(t *testing.T, m, top, blob string) {
			if err := os.WriteFile(filepath.Join(m, "HEAD"), []byte("ref: nonsense"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "read top", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := gittest.NewServer(t, "")
			r := srv.NewRepo("app")
			base := r.Commit(map[string]string{"f": "base\n"}, "base")
			url := srv.RepoURL("app")
			g, logs := newLoggedGit(t)
			if err := g.Fetch(ctx, url); err != nil {
				t.Fatal(err)
			}
			top := r.Commit(map[string]string{"f": "top\n"}, "top")
			blob := r.Git("rev-parse", top+":f")
			if err := g.Fetch(ctx, url); err != nil { // few objects: fetched loose
				t.Fatal(err)
			}
			m := g.mirror(url)
			if isNotExist(looseObject(m.dir, top)) {
				t.Fatal("the second fetch left no loose objects")
			}
			tt.damage(t, m.dir, top, blob)

			sha, want := top, "top\n"
			if strings.HasSuffix(tt.op, "base") {
				sha, want = base, "base\n"
			}
			switch {
			case tt.op == "fetch":
				if err := g.Fetch(ctx, url); err != nil {
					t.Fatalf("Fetch into a damaged mirror: %v", err)
				}
			case strings.HasPrefix(tt.op, "checkout"):
				ws := filepath.Join(t.TempDir(), "ws")
				if err := g.Checkout(ctx, url, sha, ws); err != nil {
					t.Fatalf("Checkout of a damaged mirror: %v\n%s", err, logs)
				}
				if got, _ := os.ReadFile(filepath.Join(ws, "f")); string(got) != want {
					t.Errorf("f = %q, want %q", got, want)
				}
			case strings.HasPrefix(tt.op, "commit"):
				if c, err := g.Commit(ctx, url, sha); err != nil || c.Title != "top" {
					t.Fatalf("Commit of a damaged mirror = %+v, %v", c, err)
				}
			case strings.HasPrefix(tt.op, "read"):
				if got, err := g.ReadFile(ctx, url, sha, "f"); err != nil || string(got) != want {
					t.Fatalf("ReadFile of a damaged mirror = %q, %v", got, err)
				}
			}
			if err := g.check(ctx, m); err != nil {
				t.Errorf("mirror still damaged: %v", err)
			}
			if l := logs.String(); tt.warn && (!strings.Contains(l, "level=WARN") || !strings.Contains(l, "corrupted")) {
				t.Errorf("no warning logged:\n%s", l)
			}
		})
	}
}
