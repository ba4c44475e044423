package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/notify"
)

// receiver is a real HTTP server recording what it is sent; answer picks
// each reply's status from the request's delivery id and its count so far.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []recorded
	answer func(delivery, body string, seen int) int
}

type recorded struct {
	event, delivery, signature, body string
}

func newReceiver(t *testing.T, answer func(delivery, body string, seen int) int) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := req.Header.Get("X-Greenlight-Delivery")
		r.mu.Lock()
		seen := 0
		for _, g := range r.got {
			if g.delivery == d {
				seen++
			}
		}
		r.got = append(r.got, recorded{req.Header.Get("X-Greenlight-Event"), d, req.Header.Get("X-Greenlight-Signature"), string(body)})
		status := http.StatusOK
		if r.answer != nil {
			status = r.answer(d, string(body), seen)
		}
		r.mu.Unlock()
		if status == http.StatusFound {
			http.Redirect(w, req, "/elsewhere", status)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, "reply text")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.got...)
}

func (e *env) poster(ts []notify.Target) *notify.Poster {
	return notify.NewPoster(e.db, ts, e.clock.Now, slog.New(slog.NewTextHandler(testWriter{e.t}, nil)))
}

func (e *env) post(p *notify.Poster) {
	e.t.Helper()
	if err := p.SendDue(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

func validSignature(secret, body, header string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hmac.Equal([]byte(header), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
}

// TestPosterSignsAndKeepsOrder: a webhook gets the event, a stable delivery
// id and a valid signature; a notice whose head of queue failed waits for
// it, while another pipeline's goes on.
func TestPosterSignsAndKeepsOrder(t *testing.T) {
	e := newEnv(t)
	var failFirst string
	rec := newReceiver(t, func(d, body string, seen int) int {
		if failFirst == "" && strings.Contains(body, `"pipeline":"hello"`) {
			failFirst = d
		}
		if d == failFirst && seen == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ts := []notify.Target{{Name: "hook", Type: greenlight.NotifyWebhook, URL: rec.URL + "/hook", Secret: "s3cret"}}
	an, p := e.announcer(ts), e.poster(ts)
	r := e.run(commit())
	for _, ev := range []greenlight.Event{
		e.event(greenlight.EventRunCreated, r.ID, nil),
		e.event(greenlight.EventStageStarted, r.ID, greenlight.StageStarted{Stage: "build", Attempt: 1}),
		e.event(greenlight.EventStageFinished, r.ID, greenlight.StageFinished{Stage: "build", Status: greenlight.StageSucceeded}),
	} {
		if _, err := an.Handle(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	other := e.event(greenlight.EventRunCreated, r.ID, nil)
	other.Pipeline = "other"
	if _, err := an.Handle(t.Context(), other); err != nil {
		t.Fatal(err)
	}

	e.post(p)
	got := rec.requests()
	if len(got) != 2 || got[0].event != "run.started" || got[1].event != "run.started" {
		t.Fatalf("first pass posted %+v; want hello's first (refused with 500) and other's, nothing behind hello's", got)
	}
	e.clock.Add(10 * time.Minute)
	e.post(p)
	var hello []recorded
	others := 0
	for _, g := range rec.requests() {
		if !validSignature("s3cret", g.body, g.signature) {
			t.Errorf("signature %q does not match the body %s", g.signature, g.body)
		}
		if !strings.Contains(g.body, `"delivery":"`+g.delivery+`"`) {
			t.Errorf("body does not carry its delivery id %s: %s", g.delivery, g.body)
		}
		if strings.Contains(g.body, `"pipeline":"hello"`) {
			hello = append(hello, g)
		} else {
			others++
		}
	}
	var events []string
	for _, g := range hello {
		events = append(events, g.event)
	}
	want := "run.started run.started stage.started stage.finished"
	if strings.Join(events, " ") != want || others != 1 {
		t.Fatalf("posted %s to hello and %d to other, want %s and 1", strings.Join(events, " "), others, want)
	}
	if hello[0].delivery != hello[1].delivery || hello[0].body != hello[1].body {
		t.Errorf("retry changed the delivery: %+v then %+v", hello[0], hello[1])
	}
	for _, n := range e.notices("hook") {
		if n.Status != greenlight.NoticeDelivered {
			t.Errorf("notice %d is %s, want delivered", n.ID, n.Status)
		}
	}
}

// TestPosterDropsPermanentRefusals: a 4xx (and a redirect, never followed)
// is dropped after three attempts; 408 and 429 are not refusals.
func TestPosterDropsPermanentRefusals(t *testing.T) {
	for _, tt := range []struct {
		status  int
		dropped bool
	}{
		{http.StatusGone, true},
		{http.StatusUnauthorized, true},
		{http.StatusFound, true},
		{http.StatusTooManyRequests, false},
		{http.StatusRequestTimeout, false},
		{http.StatusBadGateway, false},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			e := newEnv(t)
			rec := newReceiver(t, func(string, string, int) int { return tt.status })
			ts := []notify.Target{{Name: "chat", Type: greenlight.NotifySlack, URL: rec.URL}}
			an, p := e.announcer(ts), e.poster(ts)
			r := e.run(commit())
			for range 2 {
				if _, err := an.Handle(t.Context(), e.event(greenlight.EventRunCreated, r.ID, nil)); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				e.post(p)
				e.clock.Add(time.Hour)
			}
			list := e.notices("chat")
			head := list[0]
			if tt.dropped {
				if head.Status != greenlight.NoticeDropped || head.Attempts != 3 || !strings.Contains(head.LastError, "dropped after 3 attempts") {
					t.Fatalf("head after 3 refusals: %s, %d attempts, %q; want dropped after 3", head.Status, head.Attempts, head.LastError)
				}
				if list[1].Attempts == 0 {
					t.Errorf("the next notice was not tried once the head was dropped")
				}
			} else if head.Status != greenlight.NoticePending || list[1].Attempts != 0 {
				t.Fatalf("head after 3 x %d: %s; next tried %d times; want pending, next untried", tt.status, head.Status, list[1].Attempts)
			}
			for _, g := range rec.requests() {
				if g.signature != "" || g.delivery != "" {
					t.Errorf("a chat post carried webhook headers: %+v", g)
				}
			}
		})
	}
}

func TestPosterNeverLogsTheURL(t *testing.T) {
	e := newEnv(t)
	var logs strings.Builder
	var mu sync.Mutex
	p := notify.NewPoster(e.db, []notify.Target{{Name: "chat", Type: greenlight.NotifySlack,
		URL: "http://127.0.0.1:1/services/SECRET-PATH"}}, e.clock.Now,
		slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)))
	an := e.announcer([]notify.Target{{Name: "chat", Type: greenlight.NotifySlack, URL: "x"}})
	r := e.run(commit())
	if _, err := an.Handle(t.Context(), e.event(greenlight.EventRunCreated, r.ID, nil)); err != nil {
		t.Fatal(err)
	}
	e.post(p)
	n := e.notices("chat")[0]
	if n.Attempts != 1 || n.LastError == "" {
		t.Fatalf("notice after a refused connection: %+v", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String()+n.LastError, "SECRET-PATH") {
		t.Errorf("the URL leaked: %s / %s", n.LastError, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
