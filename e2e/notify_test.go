package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// hookRequest is one POST a notification receiver got.
type hookRequest struct {
	path, event, delivery, signature, body string
}

// TestNotificationWebhooks: signed webhook deliveries arrive in event order;
// the first is answered 500, the server is killed and restarted, and it
// arrives again with the same X-Greenlight-Delivery before the others; a
// receiver that answers 410 has its delivery dropped after three tries and
// its next one goes on.
func TestNotificationWebhooks(t *testing.T) {
	onBothStores(t, func(t *testing.T, pg bool) {
		var (
			mu          sync.Mutex
			got         []hookRequest
			failedOnce  bool
			firstFailed = make(chan struct{})
		)
		rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			got = append(got, hookRequest{r.URL.Path, r.Header.Get("X-Greenlight-Event"),
				r.Header.Get("X-Greenlight-Delivery"), r.Header.Get("X-Greenlight-Signature"), string(body)})
			switch {
			case r.URL.Path == "/gone":
				w.WriteHeader(http.StatusGone)
			case !failedOnce:
				failedOnce = true
				close(firstFailed)
				w.WriteHeader(http.StatusInternalServerError)
			default:
				w.WriteHeader(http.StatusNoContent)
			}
		}))
		defer rec.Close()
		requests := func(path string) []hookRequest {
			mu.Lock()
			defer mu.Unlock()
			var out []hookRequest
			for _, g := range got {
				if g.path == path {
					out = append(out, g)
				}
			}
			return out
		}

		s := start(t, options{postgres: pg})
		s.stop()
		cfg, err := os.ReadFile(s.config)
		if err != nil {
			t.Fatal(err)
		}
		cfg = fmt.Appendf(cfg, `notifications:
  - name: itsm
    type: webhook
    url: %s/itsm
    secret: ${HOOK_SECRET}
    events: [run.started, stage.finished, approval.requested]
    pipelines: [hello]
  - name: gone
    type: webhook
    url: %s/gone
    secret: other-secret
    events: [run.started, approval.requested]
`, rec.URL, rec.URL)
		if err := os.WriteFile(s.config, cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		s.boot()

		id := s.pushRun(s.repo.head())
		select {
		case <-firstFailed:
		case <-time.After(60 * time.Second):
			t.Fatal("no notification arrived")
		}
		s.kill()
		s.boot()
		s.waitRun(id, 90*time.Second, greenlight.RunWaiting)

		want := []string{"run.started", "run.started", "stage.finished", "stage.finished", "approval.requested"}
		eventually(t, 30*time.Second, "every itsm delivery", func() bool { return len(requests("/itsm")) >= len(want) })
		itsm := requests("/itsm")
		var events []string
		for _, g := range itsm {
			events = append(events, g.event)
			if !signedBy(hookSecret, g.body, g.signature) {
				t.Errorf("%s delivery %s: signature %q does not match its body", g.event, g.delivery, g.signature)
			}
			var body struct {
				Event, Delivery, Pipeline string
				Run                       struct {
					ID  int64
					URL string
				}
			}
			if err := json.Unmarshal([]byte(g.body), &body); err != nil || body.Event != g.event ||
				body.Delivery != g.delivery || body.Pipeline != "hello" || body.Run.ID != id ||
				body.Run.URL != fmt.Sprintf("%s/runs/%d", s.url, id) {
				t.Errorf("body of %s does not match its headers and run %d: %v %s", g.event, id, err, g.body)
			}
		}
		if strings.Join(events, " ") != strings.Join(want, " ") {
			t.Fatalf("itsm got %v, want %v (in order, the first retried once)", events, want)
		}
		if itsm[0].delivery != itsm[1].delivery || itsm[0].body != itsm[1].body {
			t.Errorf("the retry after the restart is another delivery: %q then %q", itsm[0].delivery, itsm[1].delivery)
		}
		seen := map[string]bool{}
		for _, g := range itsm[1:] {
			if seen[g.delivery] {
				t.Errorf("delivery id %s used twice", g.delivery)
			}
			seen[g.delivery] = true
		}
		if !strings.Contains(itsm[2].body, `"stage":{"name":"build"`) || !strings.Contains(itsm[3].body, `"stage":{"name":"staging"`) {
			t.Errorf("stage.finished bodies name the wrong stages: %s / %s", itsm[2].body, itsm[3].body)
		}

		// The refusing receiver: three recorded tries of the first (a kill
		// between a try and its record may add one), then the next one.
		eventually(t, 40*time.Second, "the refused delivery dropped and the next tried", func() bool {
			for _, g := range requests("/gone") {
				if g.event == "approval.requested" {
					return true
				}
			}
			return false
		})
		tries := 0
		for _, g := range requests("/gone") {
			if g.event != "run.started" {
				continue
			}
			tries++
			if g.delivery != requests("/gone")[0].delivery || !signedBy("other-secret", g.body, g.signature) {
				t.Errorf("refused delivery tried as %+v, want run.started %s signed", g, requests("/gone")[0].delivery)
			}
		}
		if tries < 3 || tries > 4 {
			t.Errorf("the refused delivery was tried %d times, want 3 (4 if the kill came between a try and its record)", tries)
		}
		code, body := s.api("GET", "/api/v1/notices?notification=gone", nil)
		var notices []greenlight.Notice
		if code != 200 || json.Unmarshal(body, &notices) != nil || len(notices) < 2 {
			t.Fatalf("GET notices: %d %s", code, body)
		}
		first := notices[len(notices)-1]
		if first.Status != greenlight.NoticeDropped || first.Attempts != 3 || !strings.Contains(first.LastError, "410") {
			t.Errorf("refused notice: %+v, want dropped after 3 attempts with the 410", first)
		}
		if !strings.Contains(s.out.String(), "notice dropped") {
			t.Errorf("the drop was not logged")
		}
	})
}

func signedBy(secret, body, header string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hmac.Equal([]byte(header), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
}
