package source

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/source/gittest"
)

func TestShallowMirror(t *testing.T) {
	srv := gittest.NewServer(t, "")
	r := srv.NewRepo("app")
	var shas []string // shas[i] is "c<i+1>"
	for i := 1; i <= 10; i++ {
		shas = append(shas, r.Commit(map[string]string{"n": strconv.Itoa(i)}, fmt.Sprintf("c%d", i)))
	}
	r.Git("checkout", "--quiet", "-b", "release")
	release := r.Commit(map[string]string{"r": "1"}, "on release")
	r.Git("checkout", "--quiet", "main")
	url := srv.RepoURL("app")
	g := newGit(t)
	g.Configure(url, Options{Depth: 2})
	m := g.mirror(url)
	count := func(rev string) int {
		t.Helper()
		out, err := g.run(ctx, "--git-dir="+m.dir, "rev-list", "--count", rev)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(string(out[:len(out)-1]))
		return n
	}

	if err := g.Fetch(ctx, url); err != nil {
		t.Fatal(err)
	}
	if isNotExist(filepath.Join(m.dir, "shallow")) {
		t.Fatal("mirror is not shallow")
	}
	if n := count("main"); n != 2 {
		t.Errorf("main has %d commits in the mirror, want 2", n)
	}
	if err := g.Ensure(ctx, url, release); err != nil {
		t.Errorf("the other branch was not mirrored: %v", err)
	}

	// The tip checks out, and the workspace knows it is shallow.
	ws := filepath.Join(t.TempDir(), "ws")
	if err := g.Checkout(ctx, url, shas[9], ws); err != nil {
		t.Fatal(err)
	}
	if got := gitIn(t, ws, "rev-list", "--count", "HEAD"); got != "2" {
		t.Errorf("workspace history has %s commits, want 2: %s", got, gitIn(t, ws, "log", "--format=%H %s"))
	}
	gitIn(t, ws, "fsck", "--no-progress", "--connectivity-only")

	// A commit beyond the depth is fetched by its sha.
	old := filepath.Join(t.TempDir(), "old")
	if err := g.Checkout(ctx, url, shas[2], old); err != nil {
		t.Fatalf("Checkout beyond the depth: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(old, "n")); string(got) != "3" {
		t.Errorf("n at c3 = %q, want 3", got)
	}

	// Changes lists what the mirror holds: fewer titles, newest first, no
	// error.
	titles, err := g.Changes(ctx, url, shas[0], shas[9], 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(titles) == 0 || len(titles) >= 9 || titles[0] != "c10" {
		t.Errorf("Changes on a shallow mirror = %q, want a few titles from c10 down", titles)
	}

	// A from the remote does not have (history rewritten): the shallow
	// mirror lists to's history it holds rather than failing.
	gone := "0123456789abcdef0123456789abcdef01234567"
	titles, err = g.Changes(ctx, url, gone, shas[9], 50)
	if err != nil || len(titles) == 0 || titles[0] != "c10" {
		t.Errorf("Changes from an unknown commit on a shallow mirror = %q, %v", titles, err)
	}

	// New commits arrive with the next fetch.
	c11 := r.Commit(map[string]string{"n": "11"}, "c11")
	if err := g.Fetch(ctx, url); err != nil {
		t.Fatal(err)
	}
	if c, err := g.Commit(ctx, url, c11); err != nil || c.Title != "c11" {
		t.Errorf("Commit(c11) = %+v, %v", c, err)
	}

	// Configured for full history again, the mirror is deepened.
	g.Configure(url, Options{})
	if err := g.Fetch(ctx, url); err != nil {
		t.Fatal(err)
	}
	if !isNotExist(filepath.Join(m.dir, "shallow")) {
		t.Error("mirror still shallow after Depth 0")
	}
	if n := count("main"); n != 11 {
		t.Errorf("main has %d commits after unshallowing, want 11", n)
	}
	titles, err = g.Changes(ctx, url, shas[0], shas[9], 50)
	if err != nil || len(titles) != 9 {
		t.Errorf("Changes on the full mirror = %q, %v; want 9 titles", titles, err)
	}
	// On a full mirror the same unknown from is an error.
	_, err = g.Changes(ctx, url, gone, shas[9], 50)
	wantCode(t, err, greenlight.ENOTFOUND)
}
