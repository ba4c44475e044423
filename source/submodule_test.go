package source

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight/source/gittest"
)

func TestSubmodules(t *testing.T) {
	const token = "submodule-s3cr3t"
	srv := gittest.NewServer(t, token)
	nested := srv.NewRepo("nested")
	nested.Commit(map[string]string{"nested.txt": "deep\n"}, "nested")
	lib := srv.NewRepo("lib")
	lib.Commit(map[string]string{"lib.txt": "lib v1\n"}, "lib v1")
	// Relative URLs, as teams write them: resolved against the
	// superproject's URL, here the server's.
	lib.Git("submodule", "--quiet", "add", "../nested.git", "deps/nested")
	lib.Commit(nil, "add nested")
	app := srv.NewRepo("app")
	app.Commit(map[string]string{"app.txt": "app\n"}, "app")
	app.Git("submodule", "--quiet", "add", "../lib.git", "vendor/lib")
	sha := app.Commit(nil, "add lib")
	// lib moves on; app still records v1.
	lib.Commit(map[string]string{"lib.txt": "lib v2\n"}, "lib v2")

	url := srv.RepoURL("app")
	g := newGit(t)

	// Off by default: the submodule's directory stays empty.
	g.Configure(url, Options{Token: token})
	plain := filepath.Join(t.TempDir(), "plain")
	if err := g.Checkout(ctx, url, sha, plain); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(plain, "vendor/lib")); len(entries) != 0 {
		t.Errorf("submodules off, vendor/lib holds %d entries", len(entries))
	}

	g.Configure(url, Options{Token: token, Submodules: true})
	ws := filepath.Join(t.TempDir(), "ws")
	if err := g.Checkout(ctx, url, sha, ws); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"app.txt":                           "app\n",
		"vendor/lib/lib.txt":                "lib v1\n", // the recorded commit, not lib's tip
		"vendor/lib/deps/nested/nested.txt": "deep\n",   // recursively
	} {
		if got, err := os.ReadFile(filepath.Join(ws, path)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	// status marks a submodule not checked out with '-', one at another
	// commit than recorded with '+'.
	status := gitIn(t, ws, "submodule", "status", "--recursive")
	lines := strings.Split(status, "\n")
	for _, line := range lines {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "-") || strings.HasPrefix(line, "+") {
			t.Errorf("submodule status line %q: want it checked out at its recorded commit", line)
		}
	}
	if len(lines) != 2 {
		t.Errorf("submodule status:\n%s\nwant two submodules", status)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
	grepTree(t, ws, token, basic)
	grepTree(t, g.dir, token, basic)
}

// A submodule whose server refuses is an error of the checkout, and the
// mirror is left alone.
func TestSubmoduleFailure(t *testing.T) {
	srv := gittest.NewServer(t, "")
	app := srv.NewRepo("app")
	lib := srv.NewRepo("lib")
	lib.Commit(map[string]string{"lib.txt": "lib\n"}, "lib")
	app.Git("submodule", "--quiet", "add", "../lib.git", "vendor/lib")
	sha := app.Commit(nil, "add lib")
	if err := os.RemoveAll(lib.Dir); err != nil {
		t.Fatal(err)
	}
	url := srv.RepoURL("app")
	g := newGit(t)
	g.Configure(url, Options{Submodules: true})
	ws := filepath.Join(t.TempDir(), "ws")
	err := g.Checkout(ctx, url, sha, ws)
	if err == nil {
		t.Fatal("Checkout with an unreachable submodule succeeded")
	}
	if entries, _ := os.ReadDir(ws); len(entries) != 0 {
		t.Errorf("failed checkout left %d entries in the workspace", len(entries))
	}
}

// A superproject on the server's disk may have submodules on the disk too
// (git refuses the file transport for submodules by default since 2.38.1);
// one served over HTTP may not point at the server's disk.
func TestLocalSubmodules(t *testing.T) {
	root := t.TempDir()
	lib := gittest.NewRepo(t, filepath.Join(root, "lib.git"))
	lib.Commit(map[string]string{"lib.txt": "local lib\n"}, "lib")
	app := gittest.NewRepo(t, filepath.Join(root, "app.git"))
	app.Git("submodule", "--quiet", "add", "../lib.git", "vendor/lib")
	sha := app.Commit(nil, "add lib")

	g := newGit(t)
	g.Configure(app.Dir, Options{Submodules: true})
	ws := filepath.Join(t.TempDir(), "ws")
	if err := g.Checkout(ctx, app.Dir, sha, ws); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(ws, "vendor/lib/lib.txt")); err != nil || string(got) != "local lib\n" {
		t.Errorf("vendor/lib/lib.txt = %q, %v", got, err)
	}

	// Over HTTP, a .gitmodules naming a path on the server's disk is
	// refused.
	srv := gittest.NewServer(t, "")
	remote := srv.NewRepo("app")
	remote.Git("submodule", "--quiet", "add", lib.Dir, "vendor/lib")
	rsha := remote.Commit(nil, "submodule on the server's disk")
	url := srv.RepoURL("app")
	g.Configure(url, Options{Submodules: true})
	err := g.Checkout(ctx, url, rsha, filepath.Join(t.TempDir(), "ws"))
	if err == nil || !strings.Contains(err.Error(), "transport 'file' not allowed") {
		t.Errorf("Checkout with a file:// submodule from an HTTP repository = %v, want transport not allowed", err)
	}
}
