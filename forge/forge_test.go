package forge_test

// The forges themselves cannot run here (no GitHub, GitLab or Gitea on this
// machine or reachable from it), so each test runs a recording HTTP server
// that checks what the forge's documentation says a request must be (method,
// path, auth headers, JSON body shape) and answers as the forge would.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/forge"
)

const (
	sha   = "0123456789abcdef0123456789abcdef01234567"
	token = "tok-3f9a7c1e-secret"
)

// request is what a recording server saw.
type request struct {
	Method, Path string // Path as sent, still escaped
	Header       http.Header
	Body         map[string]any
}

type recorder struct {
	mu     sync.Mutex
	got    []request
	answer func(w http.ResponseWriter, n int) // n: requests so far, 1-based; nil: 201
}

func (rec *recorder) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("body %q is not a JSON object: %v", raw, err)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		rec.mu.Lock()
		rec.got = append(rec.got, request{r.Method, r.URL.EscapedPath(), r.Header.Clone(), body})
		n := len(rec.got)
		rec.mu.Unlock()
		if rec.answer != nil {
			rec.answer(w, n)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id": 1}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.got...)
}

func TestPostFollowsEachForgesDocumentation(t *testing.T) {
	long := strings.Repeat("d", 200)
	tests := []struct {
		typ, repo, apiPath string
		state              greenlight.StatusState
		wantPath           string
		wantHeader         map[string]string
		wantBody           map[string]any
	}{
		{
			typ: forge.GitHub, repo: "acme/hello", state: greenlight.StatusCancelled,
			wantPath: "/repos/acme/hello/statuses/" + sha,
			wantHeader: map[string]string{"Authorization": "Bearer " + token,
				"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
			wantBody: map[string]any{"state": "error", "context": "greenlight/hello/build",
				"target_url": "https://ci.example.com/runs/7", "description": strings.Repeat("d", 139) + "…"},
		},
		{
			typ: forge.GitLab, repo: "acme/tools/hello", apiPath: "/api/v4", state: greenlight.StatusRunning,
			wantPath:   "/api/v4/projects/acme%2Ftools%2Fhello/statuses/" + sha,
			wantHeader: map[string]string{"PRIVATE-TOKEN": token, "Authorization": ""},
			wantBody: map[string]any{"state": "running", "name": "greenlight/hello/build",
				"target_url": "https://ci.example.com/runs/7", "description": strings.Repeat("d", 139) + "…"},
		},
		{
			typ: forge.GitLab, repo: "4711", apiPath: "/api/v4", state: greenlight.StatusFailure,
			wantPath:   "/api/v4/projects/4711/statuses/" + sha,
			wantHeader: map[string]string{"PRIVATE-TOKEN": token},
			wantBody: map[string]any{"state": "failed", "name": "greenlight/hello/build",
				"target_url": "https://ci.example.com/runs/7", "description": strings.Repeat("d", 139) + "…"},
		},
		{
			typ: forge.Gitea, repo: "acme/hello", apiPath: "/api/v1", state: greenlight.StatusRunning,
			wantPath:   "/api/v1/repos/acme/hello/statuses/" + sha,
			wantHeader: map[string]string{"Authorization": "token " + token},
			wantBody: map[string]any{"state": "pending", "context": "greenlight/hello/build",
				"target_url": "https://ci.example.com/runs/7", "description": strings.Repeat("d", 139) + "…"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.repo, func(t *testing.T) {
			rec := &recorder{}
			api := rec.start(t) + tt.apiPath
			c, err := forge.New(forge.Config{Type: tt.typ, API: api + "/", Repo: tt.repo, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Post(t.Context(), forge.Status{SHA: sha, Context: "greenlight/hello/build", State: tt.state,
				Description: long, TargetURL: "https://ci.example.com/runs/7"})
			if err != nil {
				t.Fatalf("Post: %v", err)
			}
			got := rec.requests()
			if len(got) != 1 {
				t.Fatalf("requests = %d, want 1", len(got))
			}
			r := got[0]
			if r.Method != http.MethodPost || r.Path != tt.wantPath {
				t.Errorf("request = %s %s, want POST %s", r.Method, r.Path, tt.wantPath)
			}
			for k, v := range tt.wantHeader {
				if g := r.Header.Get(k); g != v {
					t.Errorf("header %s = %q, want %q", k, g, v)
				}
			}
			if len(r.Body) != len(tt.wantBody) {
				t.Errorf("body has keys %v, want exactly %v", keys(r.Body), keys(tt.wantBody))
			}
			for k, v := range tt.wantBody {
				if r.Body[k] != v {
					t.Errorf("body %s = %v, want %v", k, r.Body[k], v)
				}
			}
		})
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestStatesPerForge(t *testing.T) {
	want := map[string]map[greenlight.StatusState]string{
		forge.GitHub: {greenlight.StatusPending: "pending", greenlight.StatusRunning: "pending",
			greenlight.StatusSuccess: "success", greenlight.StatusFailure: "failure", greenlight.StatusCancelled: "error"},
		forge.GitLab: {greenlight.StatusPending: "pending", greenlight.StatusRunning: "running",
			greenlight.StatusSuccess: "success", greenlight.StatusFailure: "failed", greenlight.StatusCancelled: "canceled"},
		forge.Gitea: {greenlight.StatusPending: "pending", greenlight.StatusRunning: "pending",
			greenlight.StatusSuccess: "success", greenlight.StatusFailure: "failure", greenlight.StatusCancelled: "error"},
	}
	for typ, states := range want {
		rec := &recorder{}
		c, err := forge.New(forge.Config{Type: typ, API: rec.start(t), Repo: "acme/hello", Token: token})
		if err != nil {
			t.Fatal(err)
		}
		for state, forgeState := range states {
			if err := c.Post(t.Context(), forge.Status{SHA: sha, Context: "c", State: state}); err != nil {
				t.Fatal(err)
			}
			got := rec.requests()
			if s := got[len(got)-1].Body["state"]; s != forgeState {
				t.Errorf("%s: %s sent as %v, want %s", typ, state, s, forgeState)
			}
		}
	}
}

func TestErrorsSayStatusAndBodyNeverToken(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		permanent bool
	}{
		{"bad credentials", 401, nil, `{"message":"Bad credentials: ` + token + `"}`, true},
		{"no right", 403, nil, `{"message":"Resource not accessible by integration"}`, true},
		{"rate limit", 403, map[string]string{"X-RateLimit-Remaining": "0"}, `{"message":"API rate limit exceeded"}`, false},
		{"retry after", 429, map[string]string{"Retry-After": "30"}, `slow down`, false},
		{"no such repo", 404, nil, `{"message":"Not Found"}`, true},
		{"refused", 422, nil, `{"message":"Validation Failed"}`, true},
		{"renamed", 301, map[string]string{"Location": "/repos/acme/other/statuses/" + sha}, ``, true},
		{"down", 502, nil, strings.Repeat("<html>bad gateway</html>\n", 100), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{answer: func(w http.ResponseWriter, _ int) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}}
			c, err := forge.New(forge.Config{Type: forge.GitHub, API: rec.start(t), Repo: "acme/hello", Token: token})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Post(t.Context(), forge.Status{SHA: sha, Context: "c", State: greenlight.StatusPending})
			var fe *forge.Error
			if !errors.As(err, &fe) || fe.Status != tt.status {
				t.Fatalf("Post = %v, want a *forge.Error with status %d", err, tt.status)
			}
			msg := err.Error()
			if !strings.Contains(msg, "HTTP "+itoa(tt.status)) {
				t.Errorf("error %q does not name HTTP %d", msg, tt.status)
			}
			if strings.Contains(msg, token) {
				t.Errorf("error %q holds the token", msg)
			}
			if len(msg) > 400 || strings.Contains(msg, "\n") {
				t.Errorf("error is %d bytes or has newlines, want a clipped line: %q", len(msg), msg)
			}
			if got := forge.Permanent(err); got != tt.permanent {
				t.Errorf("Permanent = %v, want %v", got, tt.permanent)
			}
			if n := len(rec.requests()); n != 1 {
				t.Errorf("requests = %d, want 1 (no redirect followed, no retry inside Post)", n)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestGitLabSameStateIsNotAnError(t *testing.T) {
	rec := &recorder{answer: func(w http.ResponseWriter, _ int) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"message":"Cannot transition status via :run from :running (Reason(s): Status cannot transition via \"run\")"}`)
	}}
	c, err := forge.New(forge.Config{Type: forge.GitLab, API: rec.start(t), Repo: "acme/hello", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Post(t.Context(), forge.Status{SHA: sha, Context: "c", State: greenlight.StatusRunning}); err != nil {
		t.Errorf("Post running over running = %v, want nil", err)
	}
}

func TestNewAndPostRefuseBadInput(t *testing.T) {
	for _, c := range []forge.Config{
		{Type: "bitbucket", Repo: "acme/hello", Token: token},
		{Type: forge.GitHub, Repo: "hello", Token: token},
		{Type: forge.GitHub, Repo: "acme/hello/x", Token: token},
		{Type: forge.GitHub, Repo: "acme/hello"},
		{Type: forge.Gitea, Repo: "acme/hello", Token: token},           // no default API
		{Type: forge.GitLab, API: "ftp://x", Repo: "a/b", Token: token}, // not http(s)
		{Type: forge.GitLab, Repo: "/a/b", Token: token},
	} {
		if _, err := forge.New(c); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", c)
		} else if strings.Contains(err.Error(), token) {
			t.Errorf("New error %q holds the token", err)
		}
	}
	rec := &recorder{}
	c, err := forge.New(forge.Config{Type: forge.GitHub, API: rec.start(t), Repo: "acme/hello", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "main", "../../user", sha[:39], strings.ToUpper(sha), sha + "/x"} {
		if err := c.Post(t.Context(), forge.Status{SHA: bad, Context: "c", State: greenlight.StatusPending}); !forge.Permanent(err) {
			t.Errorf("Post with sha %q = %v, want a permanent error", bad, err)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("requests = %d, want 0: a bad sha is never sent", n)
	}
}

func TestDefaultAPIs(t *testing.T) {
	// Only the URL is checked, through a transport that answers itself.
	var got []string
	client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.URL.String())
		return &http.Response{StatusCode: 201, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}}, nil
	})}
	for _, c := range []forge.Config{
		{Type: forge.GitHub, Repo: "acme/hello", Token: token, HTTP: client},
		{Type: forge.GitLab, Repo: "acme/hello", Token: token, HTTP: client},
	} {
		f, err := forge.New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Post(t.Context(), forge.Status{SHA: sha, Context: "c", State: greenlight.StatusPending}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"https://api.github.com/repos/acme/hello/statuses/" + sha,
		"https://gitlab.com/api/v4/projects/acme%2Fhello/statuses/" + sha}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("URLs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
