package nginxtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func get(t *testing.T, url string) string {
	t.Helper()
	// A connection per request: each is served by the configuration of now.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

func TestProxyAndReload(t *testing.T) {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "a") }))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "b") }))
	defer b.Close()
	s := Start(t, "app", a.Listener.Addr().String())
	if got := get(t, s.URL+"/"); got != "200 a" {
		t.Fatalf("through nginx: got %q, want 200 a", got)
	}
	conf := fmt.Sprintf("upstream app {\n    server %s down;\n    server %s;\n}\n", a.Listener.Addr(), b.Listener.Addr())
	if err := os.WriteFile(s.UpstreamFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Reload(t)
	// The reload took effect when Reload returned.
	for range 20 {
		if got := get(t, s.URL+"/"); got != "200 b" {
			t.Fatalf("after reload: got %q, want 200 b", got)
		}
	}
}
