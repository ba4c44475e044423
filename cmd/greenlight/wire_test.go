package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// TestForgeStatusesAreWired: a pipeline with source.forge gets its run's
// statuses posted to its forge with its token and the server's public_url;
// a pipeline without one posts nothing. (No forge runs here: a recording
// server stands in for Gitea's API.)
func TestForgeStatusesAreWired(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s %s %s %s", r.URL.Path, r.Header.Get("Authorization"),
			body["context"], body["state"], body["target_url"]))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	dir := t.TempDir()
	yml := fmt.Sprintf(`server:
  public_url: https://ci.example.com
  data_dir: %s
  admin_token: 0123456789abcdef0123456789abcdef
pipelines:
  - name: hello
    source:
      repo: %s/repo.git
      forge: {type: gitea, api: %s/api/v1, repo: acme/hello, token: "${FORGE_TOKEN}"}
    stages: [{name: build, type: build}]
  - name: quiet
    source: {repo: %s/repo.git}
    stages: [{name: build, type: build}]
`, dir, dir, srv.URL, dir)
	cfg, err := config.Parse("greenlight.yml", []byte(yml), func(k string) (string, bool) {
		return "gitea-token-123", k == "FORGE_TOKEN"
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := open(t.Context(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if n := len(s.loops()); n != 5 {
		t.Errorf("background loops = %d, want 5 (event subscribers, mail, status sender, notification poster, retention)", n)
	}
	sha := strings.Repeat("ab", 20)
	for _, p := range []string{"hello", "quiet"} {
		run := &greenlight.Run{Pipeline: p, Status: greenlight.RunQueued, Trigger: greenlight.TriggerAPI,
			Commit: greenlight.Commit{SHA: sha}, CreatedAt: time.Now(),
			Stages: []greenlight.Stage{{Name: "build", Type: greenlight.StageBuild, Status: greenlight.StagePending}}}
		if err := s.store.CreateRun(t.Context(), run); err != nil {
			t.Fatal(err)
		}
		if err := s.store.AppendEvent(t.Context(), &greenlight.Event{Pipeline: p, RunID: run.ID,
			Type: greenlight.EventRunCreated, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.events.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.statusSend.SendDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := "/api/v1/repos/acme/hello/statuses/" + sha + " token gitea-token-123 greenlight/hello pending https://ci.example.com/runs/1"
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != want {
		t.Errorf("forge received %q, want [%q]", got, want)
	}
}
