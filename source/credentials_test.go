package source

import (
	"bytes"
	"encoding/base64"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/greenlight-cd/greenlight/source/gittest"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLoggedGit is a Git whose log, at debug level (every git command line),
// goes to the returned buffer.
func newLoggedGit(t *testing.T) (*Git, *syncBuffer) {
	t.Helper()
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(t.TempDir(), log), &buf
}

// grepTree fails the test if any file under root contains one of secrets.
func grepTree(t *testing.T, root string, secrets ...string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		files++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s: nothing was checked", root)
	}
}

func TestHTTPSToken(t *testing.T) {
	const token = "glpat-s3cr3t-t0ken-value"
	srv := gittest.NewServer(t, token)
	r := srv.NewRepo("app")
	first := r.Commit(map[string]string{"README.md": "hi\n"}, "first")
	sha := r.Commit(map[string]string{"main.go": "package main\n"}, "second")
	other := srv.NewRepo("other")
	otherSHA := other.Commit(map[string]string{"x": "y"}, "other")
	url := srv.RepoURL("app")
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))

	g, logs := newLoggedGit(t)
	// Not configured: the server refuses, and git must not prompt.
	if _, err := g.Head(ctx, url, "main"); err == nil {
		t.Fatal("Head without the token succeeded")
	}
	if n := len(srv.Requests()); n == 0 || srv.Requests()[n-1].Status != 401 {
		t.Fatalf("requests %+v, want a 401 last", srv.Requests())
	}

	// A wrong token is refused and never shown.
	g.Configure(url, Options{Token: "wrong-token-value"})
	if err := g.Fetch(ctx, url); err == nil || strings.Contains(err.Error(), "wrong-token-value") {
		t.Fatalf("Fetch with a wrong token = %v, want an error without the token", err)
	}

	g.Configure(url, Options{Token: token})
	head, err := g.Head(ctx, url, "main")
	if err != nil || head != sha {
		t.Fatalf("Head = %q, %v; want %s", head, err, sha)
	}
	ws := filepath.Join(t.TempDir(), "ws")
	if err := g.Checkout(ctx, url, sha, ws); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(ws, "main.go")); string(got) != "package main\n" {
		t.Errorf("main.go = %q", got)
	}
	titles, err := g.Changes(ctx, url, first, sha, 10)
	if err != nil || len(titles) != 1 || titles[0] != "second" {
		t.Errorf("Changes = %q, %v", titles, err)
	}
	newer := r.Commit(map[string]string{"n": "1"}, "third")
	if err := g.Ensure(ctx, url, newer); err != nil {
		t.Fatalf("Ensure after a push: %v", err)
	}
	var authorized int
	for _, req := range srv.Requests() {
		if req.Authorization == "Basic "+basic {
			authorized++
		}
	}
	if authorized < 3 {
		t.Errorf("%d requests carried the token, want ls-remote, clone and fetch to", authorized)
	}

	// The token is scoped to its repository: another one on the same
	// server gets no header.
	if err := g.Ensure(ctx, srv.RepoURL("other"), otherSHA); err == nil {
		t.Error("the token reached a repository it was not configured for")
	}

	// Nowhere on disk or in the log: mirror, workspace, git's home, logs.
	grepTree(t, g.dir, token, basic)
	grepTree(t, ws, token, basic)
	if l := logs.String(); strings.Contains(l, token) || strings.Contains(l, basic) || !strings.Contains(l, "level=DEBUG") {
		t.Errorf("log holds the token or no git commands:\n%s", l)
	}
	if got := gitIn(t, ws, "remote", "get-url", "origin"); got != url {
		t.Errorf("origin = %q, want %q", got, url)
	}
}

// A token in the URL itself (https://user:token@host/…) never reaches an
// error message.
func TestURLPasswordRedacted(t *testing.T) {
	const token = "inline-s3cr3t"
	srv := gittest.NewServer(t, "another-token")
	url := strings.Replace(srv.RepoURL("missing"), "http://", "http://user:"+token+"@", 1)
	g := newGit(t)
	for name, err := range map[string]error{
		"Head":  func() error { _, err := g.Head(ctx, url, "main"); return err }(),
		"Fetch": g.Fetch(ctx, url),
	} {
		if err == nil || strings.Contains(err.Error(), token) {
			t.Errorf("%s = %v, want an error without the password", name, err)
		}
	}
}

func TestRedact(t *testing.T) {
	a := newAccess("https://bob:pa%2Fss@example.com/app.git", Options{Token: "tok3n"})
	basic := base64.StdEncoding.EncodeToString([]byte("bob:tok3n"))
	tests := []struct{ in, want string }{
		{"fatal: token tok3n refused", "fatal: token [redacted] refused"},
		{"Authorization: Basic " + basic, "Authorization: Basic [redacted]"},
		{"url https://bob:pa/ss@example.com", "url https://bob:[redacted]@example.com"},
		{"url https://bob:pa%2Fss@example.com", "url https://bob:[redacted]@example.com"},
		{"nothing secret", "nothing secret"},
	}
	for _, tt := range tests {
		if got := a.redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokenScopes(t *testing.T) {
	tests := []struct {
		repo string
		host bool
		want []string
	}{
		{"https://git.example.com/acme/app.git", false, []string{"https://git.example.com/acme/app.git"}},
		{"https://bob@git.example.com:8443/acme/app.git", true, []string{"https://git.example.com:8443/acme/app.git", "https://git.example.com:8443/"}},
		{"ssh://git@git.example.com/acme/app.git", false, nil},
		{"git@github.com:acme/app.git", false, nil},
		{"/srv/git/app.git", true, nil},
	}
	for _, tt := range tests {
		got := tokenScopes(tt.repo, tt.host)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("tokenScopes(%q, %v) = %q, want %q", tt.repo, tt.host, got, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/keys/deploy", `'/keys/deploy'`},
		{"/keys/it's $(here)", `'/keys/it'\''s $(here)'`},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestSSHDeployKey(t *testing.T) {
	sshd := gittest.StartSSHD(t)
	r := gittest.NewRepo(t, filepath.Join(t.TempDir(), "app.git"))
	sha := r.Commit(map[string]string{"app.txt": "over ssh\n"}, "first")
	url := sshd.URL(r.Dir)

	// The key sits where a shell would trip over its name: a space, a
	// quote and a $( ) in the path.
	keyDir := filepath.Join(t.TempDir(), "it's a $(touch pwned) dir")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(keyDir, "deploy key")
	data, err := os.ReadFile(sshd.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, data, 0o600); err != nil {
		t.Fatal(err)
	}

	g := newGit(t)
	// No key and no known host: refused, not prompted.
	if _, err := g.Head(ctx, url, "main"); err == nil {
		t.Fatal("Head without a deploy key succeeded")
	}
	// The right key but another host key on file: refused.
	g.Configure(url, Options{SSHKey: key, SSHKnownHosts: sshd.OtherKnownHosts(t)})
	if _, err := g.Head(ctx, url, "main"); err == nil || !strings.Contains(err.Error(), "Host key verification failed") {
		t.Fatalf("Head with a changed host key = %v, want host key verification failed", err)
	}
	// An empty known_hosts: an unknown host is refused too.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	g.Configure(url, Options{SSHKey: key, SSHKnownHosts: empty})
	if err := g.Fetch(ctx, url); err == nil || !strings.Contains(err.Error(), "Host key verification failed") {
		t.Fatalf("Fetch from an unknown host = %v, want host key verification failed", err)
	}

	g.Configure(url, Options{SSHKey: key, SSHKnownHosts: sshd.KnownHosts})
	head, err := g.Head(ctx, url, "main")
	if err != nil || head != sha {
		t.Fatalf("Head = %q, %v; want %s", head, err, sha)
	}
	ws := filepath.Join(t.TempDir(), "ws")
	if err := g.Checkout(ctx, url, sha, ws); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(ws, "app.txt")); string(got) != "over ssh\n" {
		t.Errorf("app.txt = %q", got)
	}
	newer := r.Commit(map[string]string{"app.txt": "v2\n"}, "second")
	if err := g.Ensure(ctx, url, newer); err != nil {
		t.Fatalf("Ensure after a push: %v", err)
	}
	if !isNotExist(filepath.Join(keyDir, "pwned")) || !isNotExist("pwned") {
		t.Fatal("the key's path ran a command")
	}
	// The key's path is not in the mirror's or the workspace's config.
	grepTree(t, g.dir, "deploy key")
	grepTree(t, ws, "deploy key")
}
