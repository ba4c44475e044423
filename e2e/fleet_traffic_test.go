package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/deploy/nginxtest"
)

// load sends requests through nginx, one fresh connection each, until
// stopped, and counts answers per version and failures.
type load struct {
	url  string
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	versions map[string]int
	failures []string
	last     string
}

func startLoad(url string) *load {
	l := &load{url: url, stop: make(chan struct{}), done: make(chan struct{}), versions: map[string]int{}}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			resp, err := client.Get(l.url)
			l.mu.Lock()
			if err != nil {
				l.failures = append(l.failures, err.Error())
			} else {
				var b strings.Builder
				buf := make([]byte, 512)
				n, _ := resp.Body.Read(buf)
				b.Write(buf[:n])
				resp.Body.Close()
				if f := strings.Fields(b.String()); resp.StatusCode != 200 || len(f) < 2 {
					l.failures = append(l.failures, fmt.Sprintf("%d %q", resp.StatusCode, b.String()))
				} else {
					l.versions[f[1]]++
					l.last = f[1]
				}
			}
			l.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return l
}

func (l *load) end() {
	close(l.stop)
	<-l.done
}

func (l *load) count(version string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.versions[version]
}

func (l *load) lastVersion() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// yamlString quotes s for YAML (a JSON string is a YAML double-quoted one).
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func nginxRouter(ng *nginxtest.Server) string {
	return fmt.Sprintf(`        router:
          type: nginx
          upstream_file: %s
          upstream: %s
          test: %s
          reload: %s
`, ng.UpstreamFile, ng.Upstream, yamlString(ng.TestCmd), yamlString(ng.ReloadCmd))
}

// TestFleetBlueGreenNginx: blue-green through a real nginx. While traffic
// flows, the switch to the new group loses no request; keep_old later the
// old group is retired (its stop hook runs); a rollback switches back.
func TestFleetBlueGreenNginx(t *testing.T) {
	t.Parallel()
	ng := nginxtest.Start(t, "hello_bg")
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
        strategy: {type: blue-green, keep_old: 3s}
        health: {url: "http://{host}:{env.PORT}/healthz", timeout: 10s}
`, filepath.Join(dir, "blue"), p[0], filepath.Join(dir, "green"), p[1])+nginxRouter(ng))

	v1 := s.repo.head()
	first := s.deployed(v1, greenlight.RunSucceeded)
	eventually(t, 20*time.Second, "nginx serves v1", func() bool { _, body := get(t, ng.URL); return strings.Contains(body, v1) })
	if cur := s.production().Current; cur == nil || len(cur.Targets) != 1 || cur.Targets[0].Group != "blue" {
		t.Fatalf("current release after the first deploy = %+v, want live on group blue", cur)
	}

	l := startLoad(ng.URL)
	v2 := s.repo.commit("Second version", nil)
	s.deployed(v2, greenlight.RunSucceeded)
	eventually(t, 20*time.Second, "traffic on v2", func() bool { return l.lastVersion() == v2 })
	before := l.count(v2)
	eventually(t, 20*time.Second, "more answers from v2", func() bool { return l.count(v2) > before+20 })
	l.end()
	if len(l.failures) > 0 || l.count(v1) == 0 {
		t.Errorf("during the switch: %d failures (%v), answers per version %v", len(l.failures), l.failures, l.versions)
	}
	t.Logf("answers during the switch: %v", l.versions)
	if cur := s.production().Current; cur == nil || cur.Commit != v2 || len(cur.Targets) != 1 || cur.Targets[0].Group != "green" {
		t.Errorf("current release = %+v, want v2 live on group green", cur)
	}

	// keep_old (3s) later, blue's stop hook runs: its app stops.
	eventually(t, 30*time.Second, "the old group is retired", func() bool {
		code, _ := get(t, fmt.Sprintf("http://127.0.0.1:%d/", p[0]))
		return code == 0
	})
	if log := s.stageLog(first.ID, "production"); !strings.Contains(log, "group blue retired") {
		t.Errorf("v1's stage log does not tell of the retirement:\n%s", log)
	}

	// A rollback deploys v1 to the idle group (blue) and switches back.
	code, body := s.api("POST", "/api/v1/pipelines/hello/environments/production/rollback", map[string]any{})
	var run greenlight.Run
	json.Unmarshal(body, &run)
	if code != 202 {
		t.Fatalf("rollback: %d %s", code, body)
	}
	if r := s.waitRun(run.ID, 60*time.Second, greenlight.RunSucceeded, greenlight.RunFailed); r.Status != greenlight.RunSucceeded {
		t.Fatalf("rollback run %s: %s", r.Status, r.Error)
	}
	if _, body := get(t, ng.URL); !strings.Contains(body, v1) {
		t.Errorf("after the rollback nginx serves %q, want v1", body)
	}
}

// TestFleetCanaryTraffic: a canary by traffic steps through nginx: during
// the bake of its 50% step both versions answer, afterwards only the new.
func TestFleetCanaryTraffic(t *testing.T) {
	t.Parallel()
	ng := nginxtest.Start(t, "hello_canary")
	dir := passable(t, t.TempDir())
	t.Cleanup(func() { killUnder(dir) })
	p := ports(t, 2)
	s := startFleet(t, newRepo(t, "", false), fmt.Sprintf(`        targets:
          - local: %s
            env: {PORT: "%d"}
          - local: %s
            env: {PORT: "%d"}
        strategy:
          type: canary
          steps: [{traffic: 50%%, bake: 4s}, {traffic: 100%%}]
        health: {url: "http://{host}:{env.PORT}/healthz", timeout: 10s}
`, filepath.Join(dir, "a"), p[0], filepath.Join(dir, "b"), p[1])+nginxRouter(ng))
	v1 := s.repo.head()
	s.deployed(v1, greenlight.RunSucceeded)
	eventually(t, 20*time.Second, "nginx serves v1", func() bool { _, body := get(t, ng.URL); return strings.Contains(body, v1) })

	l := startLoad(ng.URL)
	v2 := s.repo.commit("Second version", nil)
	id := s.pushRun(v2)
	// During the bake both versions answer.
	eventually(t, 90*time.Second, "the 50% step bakes", func() bool {
		return strings.Contains(s.stageLog(id, "production"), "bak")
	})
	mid1, mid2 := l.count(v1), l.count(v2)
	eventually(t, 20*time.Second, "both versions answer during the bake", func() bool {
		return l.count(v1) > mid1 && l.count(v2) > mid2
	})
	r := s.waitRun(id, 90*time.Second, greenlight.RunSucceeded, greenlight.RunFailed)
	if r.Status != greenlight.RunSucceeded {
		t.Fatalf("canary run %s: %s", r.Status, r.Error)
	}
	after := l.count(v1)
	time.Sleep(500 * time.Millisecond)
	l.end()
	if l.count(v1) != after || len(l.failures) > 0 {
		t.Errorf("after the canary: v1 answered %d more times, %d failures (%v)", l.count(v1)-after, len(l.failures), l.failures)
	}
	t.Logf("answers: %v", l.versions)
}
