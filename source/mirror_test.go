package source

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestHead(t *testing.T) {
	u := newUpstream(t)
	main := u.git("rev-parse", "HEAD")
	u.git("checkout", "--quiet", "-b", "release/1.0")
	rel := u.commit(map[string]string{"v": "1"}, "release")
	u.git("checkout", "--quiet", "main")
	g := newGit(t)

	tests := []struct {
		name, repo, branch, want, code string
	}{
		{"path main", u.dir, "main", main, ""},
		{"file url main", "file://" + u.dir, "main", main, ""},
		{"nested branch", u.dir, "release/1.0", rel, ""},
		{"tail of a branch is not the branch", u.dir, "1.0", "", greenlight.ENOTFOUND},
		{"missing branch", u.dir, "nope", "", greenlight.ENOTFOUND},
		{"invalid branch", u.dir, "a..b", "", greenlight.EINVALID},
		{"missing repository", filepath.Join(t.TempDir(), "nothing"), "main", "", greenlight.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.Head(ctx, tt.repo, tt.branch)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Head = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestHeadErrorCarriesStderr(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing")
	_, err := newGit(t).Head(ctx, missing, "main")
	if err == nil || !strings.Contains(err.Error(), "ls-remote "+missing) || !strings.Contains(err.Error(), "does not appear to be a git repository") {
		t.Fatalf("got %v, want the operation, the repository and git's message", err)
	}
}

// Nothing a pipeline's configuration or a pushed branch name holds may make
// git run a command: each case would create marker if it did.
func TestNoCommandInjection(t *testing.T) {
	u := newUpstream(t)
	sha := u.git("rev-parse", "HEAD")
	marker := filepath.Join(t.TempDir(), "pwned")
	inject := "--upload-pack=touch " + marker
	g := newGit(t)

	_, err := g.Head(ctx, u.dir, inject)
	wantCode(t, err, greenlight.EINVALID)
	_, err = g.Head(ctx, inject, "main")
	wantCode(t, err, greenlight.EINVALID)
	err = g.Fetch(ctx, inject)
	wantCode(t, err, greenlight.EINVALID)
	err = g.Checkout(ctx, u.dir, inject, t.TempDir())
	wantCode(t, err, greenlight.EINVALID)

	// ext:: runs a command by design; GIT_ALLOW_PROTOCOL shuts it out.
	ext := "ext::sh -c touch% " + marker
	if _, err := g.Head(ctx, ext, "main"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("Head(ext::) = %v, want transport not allowed", err)
	}
	if err := g.Fetch(ctx, ext); err == nil {
		t.Error("Fetch(ext::) succeeded")
	}

	// Below the validation, --end-of-options alone keeps git from reading
	// the URL as an option.
	if _, err := g.run(ctx, "ls-remote", "--end-of-options", inject, "refs/heads/main"); err == nil {
		t.Error("ls-remote of an option-like repository succeeded")
	}
	if _, err := g.run(ctx, "clone", "--mirror", "--end-of-options", inject, filepath.Join(t.TempDir(), "m")); err == nil {
		t.Error("clone of an option-like repository succeeded")
	}
	if !isNotExist(marker) {
		t.Fatal("a command ran: marker file exists")
	}
	// The repository itself still works.
	if err := g.Ensure(ctx, u.dir, sha); err != nil {
		t.Fatal(err)
	}
}

// The server user's git configuration must not reach git: an insteadOf in a
// ~/.gitconfig would redirect every fetch.
func TestCleanEnvironment(t *testing.T) {
	u := newUpstream(t)
	home := t.TempDir()
	cfg := "[url \"/nonexistent/\"]\n\tinsteadOf = " + u.dir + "\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("GIT_DIR", "/nonexistent")
	if _, err := newGit(t).Head(ctx, u.dir, "main"); err != nil {
		t.Fatalf("Head read the server's environment: %v", err)
	}
}

func TestFetchAndEnsure(t *testing.T) {
	u := newUpstream(t)
	first := u.git("rev-parse", "HEAD")
	g := newGit(t)
	if err := g.Fetch(ctx, u.dir); err != nil {
		t.Fatal(err)
	}
	mirrorDir := g.mirror(u.dir).dir
	if got := strings.TrimSuffix(filepath.Base(mirrorDir), ".git"); len(got) != 64 {
		t.Fatalf("mirror named %q, want the sha256 of the URL", got)
	}

	second := u.commit(map[string]string{"a": "2"}, "second")
	if err := g.Ensure(ctx, u.dir, second); err != nil {
		t.Fatalf("Ensure of a new commit: %v", err)
	}
	third := u.commit(map[string]string{"a": "3"}, "third")
	if err := g.Fetch(ctx, u.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := g.run(ctx, "--git-dir="+mirrorDir, "cat-file", "-e", third); err != nil {
		t.Fatalf("Fetch did not bring the third commit: %v", err)
	}

	// With the remote gone, Ensure of a mirrored commit still works: it
	// did not fetch.
	if err := os.RemoveAll(u.dir); err != nil {
		t.Fatal(err)
	}
	for _, sha := range []string{first, second, third} {
		if err := g.Ensure(ctx, u.dir, sha); err != nil {
			t.Errorf("Ensure(%s) fetched or failed: %v", sha, err)
		}
	}
}

func TestEnsureUnknownCommit(t *testing.T) {
	u := newUpstream(t)
	err := newGit(t).Ensure(ctx, u.dir, strings.Repeat("ab", 20))
	wantCode(t, err, greenlight.ENOTFOUND)
}

// A mirror that is broken or gone is cloned again on the next fetch.
func TestMirrorRecovery(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"missing", func(t *testing.T, dir string) { os.RemoveAll(dir) }},
		{"objects deleted", func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "objects")) }},
		{"config garbage", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config"), []byte("[[[not config"), 0o644)
		}},
		{"empty directory", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.Mkdir(dir, 0o755)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t)
			g := newGit(t)
			if err := g.Fetch(ctx, u.dir); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, g.mirror(u.dir).dir)
			sha := u.commit(map[string]string{"x": "y"}, "after the damage")
			if err := g.Fetch(ctx, u.dir); err != nil {
				t.Fatalf("Fetch of a damaged mirror: %v", err)
			}
			c, err := g.Commit(ctx, u.dir, sha)
			if err != nil || c.Title != "after the damage" {
				t.Fatalf("Commit after recovery = %+v, %v", c, err)
			}
			if err := g.Checkout(ctx, u.dir, sha, filepath.Join(t.TempDir(), "ws")); err != nil {
				t.Fatalf("Checkout after recovery: %v", err)
			}
		})
	}
}

// A fetch that fails while the mirror is sound (the remote is gone) keeps
// the mirror and does not clone again; a corrupted mirror whose re-clone
// fails is kept too, and the error names both failures.
func TestFailedFetchKeepsMirror(t *testing.T) {
	u := newUpstream(t)
	sha := u.git("rev-parse", "HEAD")
	g := newGit(t)
	if err := g.Fetch(ctx, u.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(u.dir); err != nil {
		t.Fatal(err)
	}
	err := g.Fetch(ctx, u.dir)
	if err == nil || !strings.Contains(err.Error(), "fetch "+u.dir) || strings.Contains(err.Error(), "clone again") {
		t.Fatalf("Fetch of a vanished remote = %v, want the fetch error alone", err)
	}
	if _, err := g.Commit(ctx, u.dir, sha); err != nil {
		t.Fatalf("mirror lost after a failed fetch: %v", err)
	}

	m := g.mirror(u.dir)
	if err := os.WriteFile(filepath.Join(m.dir, "config"), []byte("[[[garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = g.Fetch(ctx, u.dir)
	if err == nil || !strings.Contains(err.Error(), "clone again") {
		t.Fatalf("Fetch of a corrupted mirror of a vanished remote = %v, want both errors", err)
	}
	if isNotExist(filepath.Join(m.dir, "HEAD")) {
		t.Fatal("the corrupted mirror was removed although no new one replaced it")
	}
}

// A remote that never answers must not hold a run: cancelling ctx ends git
// and its helpers.
func TestCancelHungRemote(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold the connection open, say nothing
		}
	}()
	g := newGit(t)
	c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = g.Fetch(c, "git://"+ln.Addr().String()+"/app.git")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch = %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Fetch returned after %v, want soon after the deadline", took)
	}
}
