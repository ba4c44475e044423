package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/deploy/nginxtest"
)

// sweepPoints are the failpoints of the crash sweep (package failpoint):
// each durable transition of a run from push to production. "before:" kills
// the server just before the transaction that records the step commits (the
// work is done, its record lost), "after:" just after.
var sweepPoints = []string{
	"before:stage.finished:build", // built, not recorded: the build runs again
	"after:stage.finished:build",
	"after:target.installing", // staging's target being changed
	"before:target.live",      // staging's app started, not recorded
	"before:release.live",     // staging deployed, release not recorded live
	"after:approval.opened",   // gate open, no mail yet
	"before:mail.sent",        // mail handed to SMTP, not recorded: sent again with the same Message-ID
	"after:mail.sent",
	"before:approval.decided", // decision not committed: the approver is not told it counted, and can decide again
	"after:approval.decided",  // decision committed, the run not moved on yet
	"before:stage.started:production",
	"after:release.live:N=2", // production live, run not finished
	"before:status.done:N=3", // a commit status posted to the forge, not recorded: posted again
	"after:status.done:N=3",
}

// TestCrashSweep kills the server (SIGKILL, from inside, at the failpoint)
// at each durable transition of a run, restarts it, drives the run to its
// end and checks what must hold after any crash: the run is neither lost nor
// duplicated and succeeds, each environment has exactly one live release
// (this run's) and each target one live state, every mail sent more than
// once kept its Message-ID, and exactly one decision is recorded.
func TestCrashSweep(t *testing.T) {
	for _, point := range sweepPoints {
		t.Run(strings.ReplaceAll(point, ":", "_"), func(t *testing.T) {
			onBothStores(t, func(t *testing.T, pg bool) { crashAt(t, pg, point) })
		})
	}
	t.Logf("failpoints covered: %s", strings.Join(sweepPoints, ", "))
}

func crashAt(t *testing.T, pg bool, point string) {
	forge := recordStatuses(t)
	s := start(t, options{postgres: pg, source: "      forge: {type: github, repo: acme/hello, token: t0ken, api: " + forge.URL + "}\n"})
	// Arm the failpoint for the next boot only.
	s.stop()
	s.env = []string{"GREENLIGHT_FAILPOINT=" + point}
	s.boot()
	s.env = nil
	dead := exited(s)
	// The process is waited for by exited: stop it here, before the
	// harness's cleanup (which would wait for it a second time).
	t.Cleanup(func() {
		if s.cmd == nil {
			return
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-dead:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-dead
		}
		s.cmd = nil
	})
	// Through the API, which answers with the run before anything of it is
	// posted to the forge (a webhook's run is found by polling, which an
	// early failpoint could cut off).
	code, body := s.api("POST", "/api/v1/pipelines/hello/runs", map[string]any{})
	var created greenlight.Run
	if code != 201 || json.Unmarshal(body, &created) != nil {
		t.Fatalf("start a run: %d %s", code, body)
	}
	id := created.ID

	crashed, decided := false, false
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("run %d did not succeed within 3 minutes (crashed: %v, decided: %v)", id, crashed, decided)
		}
		select {
		case <-dead:
			if crashed {
				t.Fatalf("the server died again after the restart")
			}
			if !strings.Contains(s.out.String(), "failpoint "+strings.Split(point, ":N=")[0]+" reached") {
				t.Fatalf("the server died, but not at the failpoint:\n%s", tail(s.out.String(), 4<<10))
			}
			crashed = true
			s.cmd = nil
			s.boot()
			dead = exited(s)
		default:
		}
		r, ok := tryRun(s, id)
		if ok && r.Status.Terminal() {
			if r.Status != greenlight.RunSucceeded {
				t.Fatalf("run %d ended %s: %s", id, r.Status, r.Error)
			}
			break
		}
		if ok && r.Status == greenlight.RunWaiting && !decided {
			if link := approveLink(s); link != "" {
				code := tryDecide(link)
				// 410: a decision the crash cut off before it answered was recorded.
				decided = code == 200 || code == 410
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	if !crashed {
		t.Fatalf("failpoint %s was never reached", point)
	}
	// Wait for the last mails and status records before counting.
	time.Sleep(500 * time.Millisecond)

	_, body = s.api("GET", "/api/v1/runs?pipeline=hello", nil)
	var runs []greenlight.Run
	json.Unmarshal(body, &runs)
	if len(runs) != 1 {
		t.Errorf("%d runs after the crash, want 1: %s", len(runs), body)
	}
	for _, env := range []string{"staging", "production"} {
		_, body := s.api("GET", "/api/v1/pipelines/hello/environments/"+env, nil)
		var e struct {
			Current *greenlight.Release  `json:"current"`
			History []greenlight.Release `json:"history"`
		}
		json.Unmarshal(body, &e)
		live := 0
		for _, r := range e.History {
			if r.Status == greenlight.ReleaseLive {
				live++
			}
		}
		if live != 1 || e.Current == nil || e.Current.RunID != id {
			t.Errorf("%s: %d live releases, current %+v, want one, of run %d: %s", env, live, e.Current, id, body)
		}
		if e.Current != nil {
			for _, tg := range e.Current.Targets {
				if tg.Status != greenlight.PhaseLive {
					t.Errorf("%s: target %s is %s", env, tg.Target, tg.Status)
				}
			}
		}
	}
	ids := map[string]map[string]bool{} // recipient+subject → Message-IDs
	for _, m := range s.smtp.Messages() {
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprint(m.To, p.Subject)
		if ids[key] == nil {
			ids[key] = map[string]bool{}
		}
		ids[key][p.Header.Get("Message-Id")] = true
	}
	for key, set := range ids {
		if len(set) != 1 {
			t.Errorf("mail %s sent with %d Message-IDs, want one: %v", key, len(set), set)
		}
	}
	eventually(t, 30*time.Second, "the forge shows the run succeeded", func() bool {
		return forge.last("greenlight/hello") == "success"
	})
	_, body = s.api("GET", "/api/v1/approvals", nil)
	var approvals []greenlight.Approval
	json.Unmarshal(body, &approvals)
	if len(approvals) != 1 || len(approvals[0].Decisions) != 1 {
		t.Errorf("approvals after the crash: %s, want one with one decision", body)
	}
}

// exited is closed when the server process ends by itself.
func exited(s *server) chan struct{} {
	done := make(chan struct{})
	cmd := s.cmd
	go func() { cmd.Wait(); close(done) }()
	return done
}

// tryRun reads a run, reporting false while the server does not answer.
func tryRun(s *server, id int64) (*greenlight.Run, bool) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/runs/%d", s.url, id), nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var r greenlight.Run
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return nil, false
	}
	return &r, true
}

// approveLink is pm's Approve link, once its mail arrived.
func approveLink(s *server) string {
	for _, m := range s.smtp.Messages() {
		if len(m.To) == 1 && m.To[0] == "pm@example.com" {
			if p, err := m.Parse(); err == nil && strings.Contains(p.Subject, "Approve") {
				return p.Link("decision=approve")
			}
		}
	}
	return ""
}

// tryDecide approves through link; 0 when the server did not answer.
func tryDecide(link string) int {
	u, err := url.Parse(link)
	if err != nil {
		return 0
	}
	u.RawQuery = ""
	resp, err := http.PostForm(u.String(), url.Values{"decision": {"approve"}})
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// statusRecorder is a forge's commit-status API (GitHub's), as far as
// Greenlight uses it: it keeps the states posted, by context, in order.
type statusRecorder struct {
	URL    string
	mu     sync.Mutex
	states map[string][]string
}

func recordStatuses(t *testing.T) *statusRecorder {
	r := &statusRecorder{states: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var st struct{ State, Context string }
		if req.Method != "POST" || !strings.HasPrefix(req.URL.Path, "/repos/acme/hello/statuses/") ||
			json.NewDecoder(req.Body).Decode(&st) != nil {
			http.Error(w, "not a status", 400)
			return
		}
		r.mu.Lock()
		r.states[st.Context] = append(r.states[st.Context], st.State)
		r.mu.Unlock()
		w.WriteHeader(201)
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// last is the newest state posted for context.
func (r *statusRecorder) last(context string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.states[context]; len(s) > 0 {
		return s[len(s)-1]
	}
	return ""
}

// TestCrashRetirement: the last durable transition of a blue-green deploy,
// the old group's retirement keep_old after the switch, cut off by kill -9
// just before and just after it is recorded. After the restart the old
// group is retired (its stop hook ran; running it again is harmless), the
// new group serves, and the environment has one live release.
func TestCrashRetirement(t *testing.T) {
	for _, point := range []string{"before:retirement.done", "after:retirement.done"} {
		t.Run(strings.ReplaceAll(point, ":", "_"), func(t *testing.T) {
			t.Parallel()
			ng := nginxtest.Start(t, "crash_bg_"+strings.Split(point, ":")[0])
			dir := passable(t, t.TempDir())
			t.Cleanup(func() { killUnder(dir) })
			p := ports(t, 2)
			s := startFleet(t, newRepo(t, "", false), fmt.Sprintf(`        groups:
          blue:
            - local: %s
              env: {PORT: "%d"}
          green:
            - local: %s
              env: {PORT: "%d"}
        strategy: {type: blue-green, keep_old: 2s}
        health: {url: "http://{host}:{env.PORT}/healthz", timeout: 10s}
`, filepath.Join(dir, "blue"), p[0], filepath.Join(dir, "green"), p[1])+nginxRouter(ng))
			first := s.deployed(s.repo.head(), greenlight.RunSucceeded)

			s.stop()
			s.env = []string{"GREENLIGHT_FAILPOINT=" + point}
			s.boot()
			s.env = nil
			dead := exited(s)
			t.Cleanup(func() {
				if s.cmd != nil {
					s.cmd.Process.Kill()
					<-dead
					s.cmd = nil
				}
			})
			v2 := s.repo.commit("Second version", nil)
			s.pushRun(v2)
			select {
			case <-dead:
			case <-time.After(2 * time.Minute):
				t.Fatalf("failpoint %s was never reached:\n%s", point, tail(s.out.String(), 4<<10))
			}
			if !strings.Contains(s.out.String(), "failpoint "+point+" reached") {
				t.Fatalf("the server died, but not at the failpoint:\n%s", tail(s.out.String(), 4<<10))
			}
			s.cmd = nil
			s.boot()
			dead = exited(s)

			eventually(t, 30*time.Second, "the old group is retired", func() bool {
				code, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p[0]))
				return code == 0
			})
			eventually(t, 30*time.Second, "v1's log tells of the retirement", func() bool {
				return strings.Contains(s.stageLog(first.ID, "production"), "group blue retired")
			})
			if _, body := get(t, ng.URL); !strings.Contains(body, v2) {
				t.Errorf("nginx serves %q, want v2", body)
			}
			cur := s.production()
			live := 0
			for _, r := range cur.History {
				if r.Status == greenlight.ReleaseLive {
					live++
				}
			}
			if cur.Current == nil || cur.Current.Commit != v2 || live != 1 {
				t.Errorf("production after the crash: current %+v, %d live releases, want v2 alone", cur.Current, live)
			}
		})
	}
}
