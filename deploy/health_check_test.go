package deploy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestHealthBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status": "`+r.URL.Query().Get("s")+`"}`)
	}))
	t.Cleanup(srv.Close)
	h := Health{Timeout: 300 * time.Millisecond, Interval: 10 * time.Millisecond, Body: `"status": "ok"`}
	log := newStageLog(nil).target("t")
	if err := checkHealth(context.Background(), srv.URL+"/?s=ok", h, log); err != nil {
		t.Errorf("matching body: %v", err)
	}
	err := checkHealth(context.Background(), srv.URL+"/?s=degraded", h, log)
	if err == nil || !strings.Contains(err.Error(), `last answer 200, body does not match "status": "ok"`) {
		t.Errorf("body not matching: error %v, want it to say so", err)
	}
	_, err = Health{Body: "(unclosed"}.check()
	if greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Errorf("bad body pattern: error %v, want EINVALID", err)
	}
}

func TestHealthCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command string
		passes  int
		wantErr string
		wantRan int
	}{
		{name: "passes three times", command: `grep -q v2 VERSION`, passes: 3, wantRan: 3},
		{name: "fails", command: `echo "not ready"; exit 1`, passes: 1, wantErr: "command: hook health failed: exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFleet(t, 1)
			d := New(nil)
			deployAll(t, d, f)
			req := f.request(t, "2", "v2")
			// Each run leaves a line in the release directory (the only
			// place it may write: it runs like the hooks).
			req.Health = Health{Command: `echo ran >> health-runs.log; ` + tt.command,
				Passes: tt.passes, Interval: 20 * time.Millisecond, Timeout: 2 * time.Second}
			_, err := d.Deploy(context.Background(), req)
			b, _ := os.ReadFile(filepath.Join(f.envs[0].dir, "releases", "2", "health-runs.log"))
			ran := strings.Count(string(b), "ran")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				f.mustRun(t, []string{"1"}, []string{"v1"})
				return
			}
			if err != nil || ran != tt.wantRan {
				t.Fatalf("error %v after %d runs, want nil after %d", err, ran, tt.wantRan)
			}
			f.mustRun(t, []string{"2"}, []string{"v2"})
		})
	}
}
