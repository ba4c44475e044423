package source

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// upstream is a real git repository standing in for a team's remote.
type upstream struct {
	t   testing.TB
	dir string
}

// newUpstream makes a repository on branch main with one commit.
func newUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{t: t, dir: filepath.Join(t.TempDir(), "app")}
	u.git("init", "--quiet", "--initial-branch=main", u.dir)
	u.commit(map[string]string{"README.md": "hello\n"}, "initial commit")
	return u
}

// git runs git for the test with an environment as clean as the server's.
func (u *upstream) git(args ...string) string {
	u.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Env = []string{"HOME=" + u.t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "PATH=" + os.Getenv("PATH"), "LANG=C",
		"GIT_COMMITTER_NAME=Test Committer", "GIT_COMMITTER_EMAIL=committer@example.com"}
	if exists(u.dir) {
		cmd.Dir = u.dir
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		u.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files and commits them with msg verbatim; it returns the sha.
func (u *upstream) commit(files map[string]string, msg string) string {
	u.t.Helper()
	return u.commitAs("Test Author", "author@example.com", files, msg)
}

func (u *upstream) commitAs(name, email string, files map[string]string, msg string) string {
	u.t.Helper()
	for p, content := range files {
		full := filepath.Join(u.dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			u.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
	msgFile := filepath.Join(u.t.TempDir(), "msg")
	if err := os.WriteFile(msgFile, []byte(msg), 0o644); err != nil {
		u.t.Fatal(err)
	}
	u.git("add", "--all")
	u.git("-c", "user.name="+name, "-c", "user.email="+email,
		"commit", "--quiet", "--allow-empty", "--cleanup=verbatim", "--file="+msgFile)
	return u.git("rev-parse", "HEAD")
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := greenlight.ErrorCode(err); got != code {
		t.Fatalf("error %v: got code %q, want %q", err, got, code)
	}
}

func newGit(t testing.TB) *Git {
	t.Helper()
	return New(t.TempDir(), nil)
}

var ctx = context.Background()

// isNotExist is true when path does not exist.
func isNotExist(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, os.ErrNotExist)
}
