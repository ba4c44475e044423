package deploy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fleetStart is start.sh for fleet tests: it refuses to start the version a
// target's FAIL_VERSION names, so one host of many can fail one release.
const fleetStart = `#!/bin/sh
if [ "$(cat VERSION)" = "${FAIL_VERSION:-}" ]; then echo "refusing to start $FAIL_VERSION"; exit 1; fi
VERSION=$(cat VERSION) nohup "$APP_BIN" &
echo $! > app.pid
`

// fleet is n targets sharing one stage log.
type fleet struct {
	envs []*env
	log  *syncBuffer
	// fail maps a target index to the version it refuses to start.
	fail map[int]string
	// groups, when set, gives each target its blue-green group.
	groups []string
}

func newFleet(t testing.TB, n int) *fleet {
	f := &fleet{log: &syncBuffer{}, fail: map[int]string{}}
	for range n {
		e := newEnv(t)
		e.log = f.log
		f.envs = append(f.envs, e)
	}
	return f
}

// request deploys release (an app answering version) to every target.
func (f *fleet) request(t testing.TB, release, version string) Request {
	archive, digest := makeArchive(t, map[string]string{
		"VERSION":         version,
		"deploy/start.sh": fleetStart,
		"deploy/stop.sh":  stopScript,
	})
	req := Request{
		Pipeline: "hello", Environment: "staging", RunID: 7, Commit: "abc123",
		Release: release, Archive: archive, Digest: digest, Hooks: appHooks,
		Health: Health{URL: "http://{host}:{env.PORT}/healthz", Timeout: 10 * time.Second,
			Interval: 50 * time.Millisecond, Passes: 1},
		HookTimeout: 10 * time.Second,
		Log:         f.log,
	}
	for i, e := range f.envs {
		env := map[string]string{"PORT": strconv.Itoa(e.port), "APP_BIN": appBin}
		if v, ok := f.fail[i]; ok {
			env["FAIL_VERSION"] = v
		}
		tg := Target{Local: e.dir, Env: env}
		if f.groups != nil {
			tg.Group = f.groups[i]
		}
		req.Targets = append(req.Targets, tg)
	}
	return req
}

// server is target i's host:port, as a router names it.
func (f *fleet) server(i int) string { return "127.0.0.1:" + strconv.Itoa(f.envs[i].port) }

// recorder keeps the Progress calls of a deploy.
type recorder struct {
	mu     sync.Mutex
	states []TargetState
	// on, if set, sees each state before it is recorded; its error is
	// Progress's.
	on func(TargetState) error
}

func (r *recorder) progress(s TargetState) error {
	if r.on != nil {
		if err := r.on(s); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
	return nil
}

// phases lists "target:phase" in call order, with targets named by index.
func (r *recorder) phases(f *fleet) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.states {
		out = append(out, f.name(s.Target)+":"+s.Phase)
	}
	return out
}

// name is "t0", "t1"… for a target directory of f.
func (f *fleet) name(dir string) string {
	for i, e := range f.envs {
		if e.dir == dir {
			return "t" + strconv.Itoa(i)
		}
	}
	return dir
}

// count sends n requests to url and counts the answers. Each request has a
// connection of its own: a kept-alive one could be served by an nginx
// worker that still runs the configuration of before a reload.
func count(t testing.TB, url string, n int) map[string]int {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	got := map[string]int{}
	for range n {
		resp, err := c.Get(url)
		if err != nil {
			got["error: "+err.Error()]++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			got[fmt.Sprintf("status %d", resp.StatusCode)]++
			continue
		}
		got[strings.TrimSpace(string(b))]++
	}
	return got
}

// waitFor polls url until it answers want; nginx reloads asynchronously, so
// an old worker may answer a few requests after the router's reload.
func waitFor(t testing.TB, url, want string) {
	t.Helper()
	var last map[string]int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if last = count(t, url, 1); last[want] == 1 {
			return
		}
	}
	t.Fatalf("%s answers %v, want %q", url, last, want)
}

// load sends requests to url until stop is closed, and counts failures. Its
// client keeps connections alive, as browsers and proxies do.
type load struct {
	mu       sync.Mutex
	ok       int
	failed   int
	answers  map[string]int
	firstErr string
	done     chan struct{}
	stop     chan struct{}
}

func startLoad(url string) *load {
	l := &load{answers: map[string]int{}, done: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		defer close(l.done)
		tr := &http.Transport{Proxy: nil}
		defer tr.CloseIdleConnections()
		c := &http.Client{Timeout: 10 * time.Second, Transport: tr}
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			answer, problem := "", ""
			resp, err := c.Get(url)
			if err != nil {
				problem = err.Error()
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				answer = string(b)
				if resp.StatusCode != http.StatusOK {
					problem = fmt.Sprintf("status %d: %s", resp.StatusCode, b)
				}
			}
			l.mu.Lock()
			if problem != "" {
				l.failed++
				if l.firstErr == "" {
					l.firstErr = problem
				}
			} else {
				l.ok++
				l.answers[answer]++
			}
			l.mu.Unlock()
		}
	}()
	return l
}

// waitSeen waits until the load got answer at least once.
func (l *load) waitSeen(t testing.TB, answer string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		n := l.answers[answer]
		l.mu.Unlock()
		if n > 0 {
			return
		}
	}
	t.Errorf("the load never got %q", answer)
}

// end stops the load and waits for its last request.
func (l *load) end() {
	close(l.stop)
	<-l.done
}

func killProcess(pid int) {
	if pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// retireOf is the retirement of req's release on group, for the same
// pipeline and environment (which choose the uid its hooks run as).
func retireOf(req Request, group string) RetireRequest {
	return RetireRequest{Pipeline: req.Pipeline, Environment: req.Environment, Release: req.Release,
		Group: group, Targets: req.Targets, Log: req.Log}
}
