package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight/source/gittest"
)

// An untrusted commit's submodules are fetched without the repository's
// token: public ones are checked out, a private one on the same host fails
// the checkout and never sees the token, and one on the server's disk is
// refused even for a local superproject.
func TestCheckoutUntrustedSubmodules(t *testing.T) {
	const token = "untrusted-s3cr3t"
	private := gittest.NewServer(t, token)
	lib := private.NewRepo("lib")
	lib.Commit(map[string]string{"lib.txt": "private lib\n"}, "lib")
	app := private.NewRepo("app")
	app.Commit(map[string]string{"app.txt": "app\n"}, "app")
	app.Git("submodule", "--quiet", "add", "../lib.git", "vendor/lib")
	sha := app.Commit(nil, "add lib")
	url := private.RepoURL("app")
	g := newGit(t)
	g.Configure(url, Options{Token: token, Submodules: true})

	// Trusted, the token fetches the private submodule.
	if err := g.Checkout(ctx, url, sha, filepath.Join(t.TempDir(), "ws")); err != nil {
		t.Fatalf("trusted checkout: %v", err)
	}
	before := len(private.Requests())
	ws := filepath.Join(t.TempDir(), "ws")
	err := g.CheckoutUntrusted(ctx, url, sha, ws)
	if err == nil || !strings.Contains(err.Error(), "without credentials") {
		t.Fatalf("untrusted checkout of a private submodule = %v, want a failure naming the missing credentials", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error shows the token: %v", err)
	}
	libRequests := 0
	for _, r := range private.Requests()[before:] {
		if strings.HasPrefix(r.Path, "/lib.git") {
			libRequests++
			if r.Authorization != "" {
				t.Errorf("submodule request %s carried credentials", r.Path)
			}
		}
	}
	if libRequests == 0 {
		t.Error("the submodule was never asked for: the test proves nothing")
	}

	// A public submodule builds.
	public := gittest.NewServer(t, "")
	plib := public.NewRepo("lib")
	plib.Commit(map[string]string{"lib.txt": "public lib\n"}, "lib")
	papp := public.NewRepo("app")
	papp.Commit(map[string]string{"app.txt": "app\n"}, "app")
	papp.Git("submodule", "--quiet", "add", public.RepoURL("lib"), "vendor/lib")
	psha := papp.Commit(nil, "add lib")
	purl := public.RepoURL("app")
	g.Configure(purl, Options{Submodules: true})
	pws := filepath.Join(t.TempDir(), "ws")
	if err := g.CheckoutUntrusted(ctx, purl, psha, pws); err != nil {
		t.Fatalf("untrusted checkout of a public submodule: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(pws, "vendor/lib/lib.txt")); err != nil || string(got) != "public lib\n" {
		t.Errorf("vendor/lib/lib.txt = %q, %v", got, err)
	}

	// The file transport is refused even when the superproject is local,
	// which trusted checkouts allow.
	root := t.TempDir()
	llib := gittest.NewRepo(t, filepath.Join(root, "lib.git"))
	llib.Commit(map[string]string{"lib.txt": "local lib\n"}, "lib")
	lapp := gittest.NewRepo(t, filepath.Join(root, "app.git"))
	lapp.Git("submodule", "--quiet", "add", "../lib.git", "vendor/lib")
	lsha := lapp.Commit(nil, "add lib")
	g.Configure(lapp.Dir, Options{Submodules: true})
	if err := g.Checkout(ctx, lapp.Dir, lsha, filepath.Join(t.TempDir(), "ws")); err != nil {
		t.Fatalf("trusted local checkout: %v", err)
	}
	err = g.CheckoutUntrusted(ctx, lapp.Dir, lsha, filepath.Join(t.TempDir(), "ws"))
	if err == nil || !strings.Contains(err.Error(), "transport 'file' not allowed") {
		t.Errorf("untrusted checkout with a file submodule = %v, want transport not allowed", err)
	}
}
