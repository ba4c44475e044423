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
	resp, err := http.Get(url)
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
	// The reload is asynchronous: the old worker may answer a few more.
	for i := 0; ; i++ {
		got := get(t, s.URL+"/")
		if got == "200 b" {
			break
		}
		if i == 1000 {
			t.Fatalf("after reload: got %q, want 200 b", got)
		}
	}
}
