package source

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// gitIn runs git in a workspace the way a build step would.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestCheckout(t *testing.T) {
	u := newUpstream(t)
	old := u.commit(map[string]string{"app/main.go": "package main // v1\n"}, "v1")
	u.git("tag", "-a", "v1.0.0", "-m", "release 1.0.0")
	sha := u.commit(map[string]string{"app/main.go": "package main // v2\n", "docs/x": "x"}, "v2")
	g := newGit(t)
	dst := filepath.Join(t.TempDir(), "ws")

	// Not fetched yet: Checkout fetches on its own.
	if err := g.Checkout(ctx, u.dir, sha, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "app/main.go")); string(got) != "package main // v2\n" {
		t.Errorf("app/main.go = %q", got)
	}
	if got := gitIn(t, dst, "rev-parse", "HEAD"); got != sha {
		t.Errorf("HEAD = %s, want %s", got, sha)
	}
	if got := gitIn(t, dst, "status", "--porcelain"); got != "" {
		t.Errorf("workspace not clean:\n%s", got)
	}
	if got := gitIn(t, dst, "describe", "--tags"); !strings.HasPrefix(got, "v1.0.0-1-g") {
		t.Errorf("git describe = %q, want v1.0.0-1-g…", got)
	}
	// The workspace has its own index: a build that stages files does not
	// touch the mirror.
	if isNotExist(filepath.Join(dst, ".git", "index")) {
		t.Error("workspace has no index of its own")
	}
	if !isNotExist(filepath.Join(g.mirror(u.dir).dir, "index")) {
		t.Error("mirror has an index")
	}

	if got := gitIn(t, dst, "remote", "get-url", "origin"); got != u.dir {
		t.Errorf("origin = %q, want %q", got, u.dir)
	}
	if got := gitIn(t, dst, "rev-parse", "main"); got != sha {
		t.Errorf("branch main in workspace = %q, want %s", got, sha)
	}
	gitIn(t, dst, "fsck", "--no-progress", "--connectivity-only")

	// Refs fetched after the mirror was made are loose files in the
	// mirror; they reach the workspace too.
	u.git("tag", "-a", "v2.0.0", "-m", "release 2.0.0")
	newer := u.commit(map[string]string{"n": "1"}, "after v2")
	newDst := filepath.Join(t.TempDir(), "ws2")
	if err := g.Checkout(ctx, u.dir, newer, newDst); err != nil {
		t.Fatal(err)
	}
	if got := gitIn(t, newDst, "describe"); !strings.HasPrefix(got, "v2.0.0-1-g") {
		t.Errorf("git describe after a fetch = %q, want v2.0.0-1-g…", got)
	}

	// An older commit, already mirrored, into an existing empty directory.
	empty := t.TempDir()
	if err := g.Checkout(ctx, u.dir, old, empty); err != nil {
		t.Fatal(err)
	}
	if !isNotExist(filepath.Join(empty, "docs")) {
		t.Error("old checkout has a file of a later commit")
	}
}

func TestCheckoutErrors(t *testing.T) {
	u := newUpstream(t)
	sha := u.git("rev-parse", "HEAD")
	g := newGit(t)

	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "keep"), []byte("x"), 0o644)
	err := g.Checkout(ctx, u.dir, sha, full)
	wantCode(t, err, greenlight.ECONFLICT)
	if _, err := os.Stat(filepath.Join(full, "keep")); err != nil {
		t.Error("Checkout touched a non-empty destination")
	}

	dst := t.TempDir()
	err = g.Checkout(ctx, u.dir, strings.Repeat("0", 39)+"1", dst)
	wantCode(t, err, greenlight.ENOTFOUND)
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("failed checkout left %d entries in dst", len(entries))
	}
}

func TestConcurrentFetchAndCheckout(t *testing.T) {
	u := newUpstream(t)
	shas := []string{u.git("rev-parse", "HEAD")}
	for i := range 3 {
		shas = append(shas, u.commit(map[string]string{"n": fmt.Sprint(i)}, fmt.Sprint("commit ", i)))
	}
	g := newGit(t)
	root := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sha := shas[i%len(shas)]
			if err := g.Fetch(ctx, u.dir); err != nil {
				errs <- err
			}
			dst := filepath.Join(root, fmt.Sprint(i))
			if err := g.Checkout(ctx, u.dir, sha, dst); err != nil {
				errs <- err
				return
			}
			if _, err := g.Commit(ctx, u.dir, sha); err != nil {
				errs <- err
			}
			if got := gitIn(t, dst, "rev-parse", "HEAD"); got != sha {
				errs <- fmt.Errorf("workspace %d at %s, want %s", i, got, sha)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkCheckout measures the checkout on the webhook → first step path:
// a small repository whose commit is already mirrored.
func BenchmarkCheckout(b *testing.B) {
	u := newUpstream(b)
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("pkg%d/file%d.go", i%5, i)] = strings.Repeat("// line\n", 40)
	}
	sha := u.commit(files, "small app")
	g := New(b.TempDir(), nil)
	if err := g.Ensure(ctx, u.dir, sha); err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := g.Checkout(ctx, u.dir, sha, filepath.Join(root, fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAddOrigin(t *testing.T) {
	tests := []struct{ repo, want string }{
		{"https://bot:s3cret@git.example.com/acme/app.git", "https://git.example.com/acme/app.git"},
		{"git@github.com:acme/app.git", "git@github.com:acme/app.git"},
		{`/srv/git/we"ird\path.git`, `/srv/git/we"ird\path.git`},
	}
	for _, tt := range tests {
		dir := filepath.Join(t.TempDir(), "ws")
		gitIn(t, t.TempDir(), "init", "--quiet", dir)
		if err := addOrigin(filepath.Join(dir, ".git"), tt.repo); err != nil {
			t.Fatal(err)
		}
		if got := gitIn(t, dir, "remote", "get-url", "origin"); got != tt.want {
			t.Errorf("addOrigin(%q): origin = %q, want %q", tt.repo, got, tt.want)
		}
	}
}

// A file:// URL and a plain path name the same repository but are two
// mirrors: the cache keys on the URL as configured.
func TestCheckoutFileURL(t *testing.T) {
	u := newUpstream(t)
	sha := u.commit(map[string]string{"f": "file url\n"}, "via file://")
	g := newGit(t)
	dst := filepath.Join(t.TempDir(), "ws")
	if err := g.Checkout(ctx, "file://"+u.dir, sha, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "f")); string(got) != "file url\n" {
		t.Errorf("f = %q", got)
	}
	if g.mirror("file://"+u.dir).dir == g.mirror(u.dir).dir {
		t.Error("two URLs share one mirror")
	}
}

// Repositories with SHA-256 object names check out too: the workspace is
// made in the same object format.
func TestCheckoutSHA256(t *testing.T) {
	u := &upstream{t: t, dir: filepath.Join(t.TempDir(), "app")}
	u.git("init", "--quiet", "--object-format=sha256", "--initial-branch=main", u.dir)
	sha := u.commit(map[string]string{"f": "sha256\n"}, "first")
	if len(sha) != 64 {
		t.Fatalf("sha %q is not SHA-256", sha)
	}
	dst := filepath.Join(t.TempDir(), "ws")
	if err := newGit(t).Checkout(ctx, u.dir, sha, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "f")); string(got) != "sha256\n" {
		t.Errorf("f = %q", got)
	}
	if got := gitIn(t, dst, "rev-parse", "HEAD"); got != sha {
		t.Errorf("HEAD = %s, want %s", got, sha)
	}
	gitIn(t, dst, "fsck", "--no-progress", "--connectivity-only")
}
