package gittest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Repo is a bare repository (Dir), as a server holds it, and a working clone
// (Work) whose commits are pushed to it on branch main.
type Repo struct {
	Dir  string
	Work string
	t    testing.TB
}

// NewRepo makes an empty bare repository at dir and a working clone of it.
// The bare repository lets clients fetch any reachable commit by its sha
// (uploadpack.allowReachableSHA1InWant), as GitHub and GitLab do.
func NewRepo(t testing.TB, dir string) *Repo {
	t.Helper()
	r := &Repo{Dir: dir, Work: filepath.Join(t.TempDir(), "work"), t: t}
	Git(t, "", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	Git(t, dir, "config", "uploadpack.allowReachableSHA1InWant", "true")
	Git(t, dir, "config", "http.receivepack", "true")
	Git(t, "", "init", "--quiet", "--initial-branch=main", r.Work)
	Git(t, r.Work, "remote", "add", "origin", dir)
	return r
}

// Git runs git in the working clone and returns its trimmed output.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return Git(r.t, r.Work, args...)
}

// Commit writes files (path → content) into the working clone, commits them
// with msg on its current branch (main unless the test switched), pushes
// that branch and returns the new commit's sha.
func (r *Repo) Commit(files map[string]string, msg string) string {
	r.t.Helper()
	for p, content := range files {
		full := filepath.Join(r.Work, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.Git("add", "--all")
	r.Git("commit", "--quiet", "--allow-empty", "-m", msg)
	r.Push()
	return r.Git("rev-parse", "HEAD")
}

// Push pushes the current branch and the tags of the working clone to the
// bare repository.
func (r *Repo) Push() {
	r.t.Helper()
	r.Git("push", "--quiet", "--force", "--tags", "origin", "HEAD")
}

// Import appends n commits to main with git fast-import (thousands a
// second), each changing one of a few hundred files, pushes, and returns the
// last sha.
func (r *Repo) Import(n int) string {
	r.t.Helper()
	parent := ""
	if out, err := r.cmd("rev-parse", "--verify", "--quiet", "HEAD").Output(); err == nil {
		parent = strings.TrimSpace(string(out))
	}
	cmd := r.cmd("fast-import", "--quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if out, err := runWithInput(cmd, func() error {
		w := bufio.NewWriter(stdin)
		for i := 0; i < n; i++ {
			content := fmt.Sprintf("line %d\n", i)
			msg := fmt.Sprintf("commit %d", i)
			fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n",
				i+1, 1700000000+i, len(msg), msg)
			if i == 0 && parent != "" {
				fmt.Fprintf(w, "from %s\n", parent)
			}
			fmt.Fprintf(w, "M 100644 inline src/f%03d.txt\ndata %d\n%s\n", i%300, len(content), content)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return stdin.Close()
	}); err != nil {
		r.t.Fatalf("git fast-import: %v\n%s", err, out)
	}
	r.Git("reset", "--quiet", "--hard", "main")
	r.Push()
	return r.Git("rev-parse", "HEAD")
}

func runWithInput(cmd *exec.Cmd, write func() error) ([]byte, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	werr := write()
	if err := cmd.Wait(); err != nil {
		return []byte(out.String()), err
	}
	return []byte(out.String()), werr
}

func (r *Repo) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Work
	cmd.Env = Env(r.t)
	return cmd
}

// Env is a clean environment for git in tests: no user or system
// configuration, a fixed identity, and the file protocol allowed for
// submodules (git refuses it by default since 2.38.1).
func Env(t testing.TB) []string {
	return []string{
		"HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "PATH=" + os.Getenv("PATH"), "LANG=C",
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer", "GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=protocol.file.allow", "GIT_CONFIG_VALUE_0=always",
	}
}

// Git runs git in dir ("" for the current directory) with Env and returns
// its trimmed output; it fails the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
