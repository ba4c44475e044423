package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func TestHealthURL(t *testing.T) {
	env := map[string]string{"PORT": "8081", "PATH_PREFIX": "app"}
	tests := []struct {
		tmpl, want, wantErr string
	}{
		{tmpl: "http://{host}:{env.PORT}/healthz", want: "http://127.0.0.1:8081/healthz"},
		{tmpl: "http://127.0.0.1:8081/healthz", want: "http://127.0.0.1:8081/healthz"},
		{tmpl: "https://{host}/{env.PATH_PREFIX}/up", want: "https://127.0.0.1/app/up"},
		{tmpl: "http://{host}:{env.HTTP_PORT}/", wantErr: "{env.HTTP_PORT} is not in the target's env"},
		{tmpl: "http://{hostname}/", wantErr: "unknown placeholder {hostname}"},
		{tmpl: "ftp://{host}/", wantErr: "not an http(s) URL"},
		{tmpl: "{host}:8080", wantErr: "not an http(s) URL"},
	}
	for _, tt := range tests {
		got, err := healthURL(tt.tmpl, "127.0.0.1", env)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || greenlight.ErrorCode(err) != greenlight.EINVALID {
				t.Errorf("healthURL(%q) error = %v, want invalid %q", tt.tmpl, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", tt.tmpl, got, err, tt.want)
		}
	}
}

// statusServer answers each request with the next code of codes, repeating
// the last one.
func statusServer(t *testing.T, codes ...int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		w.WriteHeader(codes[min(i, len(codes)-1)])
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestCheckHealth(t *testing.T) {
	t.Parallel()
	h := Health{Timeout: 500 * time.Millisecond, Interval: 10 * time.Millisecond, Passes: 2}
	tests := []struct {
		name      string
		codes     []int
		wantErr   string
		wantProbe int32
	}{
		{name: "passes after two 2xx", codes: []int{503, 200, 204}, wantProbe: 3},
		{name: "a failure resets the count", codes: []int{200, 500, 200, 200}, wantProbe: 4},
		{name: "never passes", codes: []int{200, 500}, wantErr: "did not pass within 500ms: last answer 500"},
		{name: "3xx is not healthy", codes: []int{304}, wantErr: "last answer 304"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, n := statusServer(t, tt.codes...)
			err := checkHealth(context.Background(), srv.URL, h, newStageLog(nil).target("t"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || n.Load() != tt.wantProbe {
				t.Fatalf("error = %v after %d probes, want nil after %d", err, n.Load(), tt.wantProbe)
			}
		})
	}
}

func TestCheckHealthConnectionRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	h := Health{Timeout: 200 * time.Millisecond, Interval: 20 * time.Millisecond, Passes: 1}
	err := checkHealth(context.Background(), url+"/healthz", h, newStageLog(nil).target("t"))
	if err == nil || !strings.Contains(err.Error(), "last answer dial tcp") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error = %v, want the refused connection as last answer", err)
	}
}

// A redirect to another host is not followed: the check is about this target.
func TestCheckHealthRedirects(t *testing.T) {
	t.Parallel()
	other, otherHits := statusServer(t, 200)
	same := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere":
			http.Redirect(w, r, other.URL+"/healthz", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(same.Close)
	h := Health{Timeout: 200 * time.Millisecond, Interval: 20 * time.Millisecond, Passes: 1}
	log := newStageLog(nil).target("t")
	if err := checkHealth(context.Background(), same.URL+"/moved", h, log); err != nil {
		t.Errorf("redirect on the same host: %v, want followed and healthy", err)
	}
	err := checkHealth(context.Background(), same.URL+"/elsewhere", h, log)
	if err == nil || !strings.Contains(err.Error(), "last answer 302") || otherHits.Load() != 0 {
		t.Errorf("redirect to another host: error %v, %d requests there; want 302 and none", err, otherHits.Load())
	}
}
