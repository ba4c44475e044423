// Package gittest serves real git repositories for tests: git http-backend
// behind an httptest server (smart HTTP, protocol v2, optionally behind a
// basic-auth token) and OpenSSH's sshd on a loopback port. Repositories are
// made and committed to with the git command-line tool, so tests exercise the
// same code paths a forge would.
package gittest

import (
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Server is an HTTP git server over the bare repositories in Root.
type Server struct {
	// Root holds the served repositories: <Root>/<name>.git is served at
	// <URL>/<name>.git.
	Root string
	// URL is the server's base URL, without credentials.
	URL string

	t     testing.TB
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	requests []Request
}

// Request is what the server saw of one request.
type Request struct {
	Path          string
	Authorization string // the header as received
	Status        int    // 401 when the token was missing or wrong, else 0 (passed on to git)
}

// NewServer starts an HTTP git server, stopped when the test ends. With a
// non-empty token every request must carry basic auth whose password is the
// token (any user name); others get 401 and a WWW-Authenticate challenge.
func NewServer(t testing.TB, token string) *Server {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("gittest: git not found: %v", err)
	}
	s := &Server{Root: t.TempDir(), t: t, token: token}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		// http-backend complains on stderr about every missing
		// repository; tests read the HTTP status instead.
		Stderr: io.Discard,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + t.TempDir(),
			"PATH=" + os.Getenv("PATH"),
		},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Request{Path: r.URL.Path, Authorization: r.Header.Get("Authorization")}
		if token != "" && !s.authorized(r) {
			req.Status = http.StatusUnauthorized
			s.record(req)
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.record(req)
		// Protocol v2 is asked for in a header; http-backend reads it from
		// GIT_PROTOCOL, which net/http/cgi would not set.
		if p := r.Header.Get("Git-Protocol"); p != "" {
			h := *backend
			h.Env = append(append([]string(nil), backend.Env...), "GIT_PROTOCOL="+p)
			h.ServeHTTP(w, r)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	return s
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	_, pass, ok := strings.Cut(string(raw), ":")
	return ok && subtle.ConstantTimeCompare([]byte(pass), []byte(s.token)) == 1
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

// Requests returns the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RepoURL is the URL of repository name (without ".git").
func (s *Server) RepoURL(name string) string { return s.URL + "/" + name + ".git" }

// NewRepo makes an empty bare repository <Root>/<name>.git, served at
// RepoURL(name), with a working clone to commit in.
func (s *Server) NewRepo(name string) *Repo {
	s.t.Helper()
	return NewRepo(s.t, filepath.Join(s.Root, name+".git"))
}
