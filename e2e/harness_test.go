// Package e2e drives the built greenlight binary the way a user does: a real
// git repository, signed webhooks over HTTP, a real SMTP server receiving the
// mail, links followed from that mail, deploys of a real HTTP app, and kill -9.
package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/mail/smtptest"
	"github.com/greenlight-cd/greenlight/store/storetest"
)

var (
	binary  string // the greenlight binary under test
	testApp string // the app the pipelines deploy
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "greenlight-e2e-")
	if err != nil {
		panic(err)
	}
	binary, testApp = filepath.Join(dir, "greenlight"), filepath.Join(dir, "app")
	args := []string{"build", "-o", binary}
	if os.Getenv("GREENLIGHT_E2E_RACE") != "0" {
		args = append(args, "-race") // the server's concurrency is what these tests exercise most
	}
	for _, c := range [][]string{append(args, "../cmd/greenlight"), {"build", "-o", testApp, "./testdata/app"}} {
		cmd := exec.Command("go", c...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	adminToken = "e2e-admin-token-0123456789abcdef0123456789"
	hookSecret = "e2e-webhook-secret"
)

// freePort returns a loopback port that is free now, below the kernel's
// ephemeral range (32768 and up): an app binds it seconds later, and by then
// an outgoing connection could have taken a port from that range.
func freePort(t *testing.T) int {
	t.Helper()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com",
		"-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// repo is the application's git repository.
type repo struct {
	t   *testing.T
	dir string
}

// newRepo makes a repository whose build copies the test app into dist/ and
// whose hooks start and stop it. steps replaces the build steps.
func newRepo(t *testing.T, steps string, slowStart bool) *repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	if steps == "" {
		steps = "  - name: test\n    run: echo testing $GREENLIGHT_COMMIT\n  - name: build\n    run: mkdir -p dist && cp bin/app dist/app\n"
	}
	// The app binary is committed, as a prebuilt tool would be: steps run with a
	// private /tmp, so they could not copy it from the test's temp directory.
	app, err := os.ReadFile(testApp)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		".greenlight.yml": "steps:\n" + steps + "artifacts: [dist/, deploy/]\ndeploy:\n  hooks:\n    stop: deploy/stop.sh\n    start: deploy/start.sh\n",
		"deploy/start.sh": "#!/bin/sh\nset -e\n" + map[bool]string{true: "echo starting slowly; sleep 3\n"}[slowStart] + "nohup ./dist/app > app.log 2>&1 < /dev/null &\necho $! > app.pid\n",
		"deploy/stop.sh":  "#!/bin/sh\n[ -f app.pid ] || exit 0\npid=$(cat app.pid)\nalive() { kill -0 $1 2>/dev/null && ! grep -qs '^State:.*Z' /proc/$1/status; }\nkill $pid 2>/dev/null || exit 0\nfor i in $(seq 50); do alive $pid || exit 0; sleep 0.1; done\nkill -9 $pid\n",
	}
	files["bin/app"] = string(app)
	for name, body := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "First version")
	return &repo{t: t, dir: dir}
}

// commit writes files (a nil body removes the file) and commits them.
func (r *repo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, body := range files {
		path := filepath.Join(r.dir, name)
		if body == "" {
			os.Remove(path)
			continue
		}
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	git(r.t, r.dir, "add", "-A")
	git(r.t, r.dir, "commit", "-q", "--allow-empty", "-m", msg)
	return git(r.t, r.dir, "rev-parse", "HEAD")
}

func (r *repo) head() string { return git(r.t, r.dir, "rev-parse", "HEAD") }

// server is one greenlight process and what it talks to.
type server struct {
	t        *testing.T
	dir      string
	config   string
	url      string
	smtp     *smtptest.Server
	repo     *repo
	staging  int
	prod     int
	cmd      *exec.Cmd
	out      *syncBuffer
	approver []string
	inherit  []*os.File // descriptors the server process inherits (from fd 3 on), as from a careless supervisor
	env      []string   // more environment of the next boot
}

type options struct {
	steps     string
	approvers []string
	required  int
	timeout   string // approval timeout
	health    string // health timeout
	mode      string // pipeline mode
	slowStart bool   // the start hook sleeps 3s first
	poll      string // source.poll
	build     string // more keys of the build stage, as "key: value" lines
	postgres  bool   // a PostgreSQL database of the test's own instead of SQLite
	top       string // more top-level keys of the configuration, as YAML lines
	tmpfs     string // the data directory is a tmpfs of this size ("48m"): a disk that fills
	gate      string // the approval stage's keys instead of approvers, required and timeout, as "key: value" lines
	source    string // more keys of the pipeline's source, as lines indented by 6 spaces
}

// start writes a configuration for repo and starts the server on it.
func start(t *testing.T, o options) *server {
	t.Helper()
	if len(o.approvers) == 0 {
		o.approvers = []string{"pm@example.com", "cto@example.com"}
	}
	if o.required == 0 {
		o.required = 1
	}
	if o.timeout == "" {
		o.timeout = "72h"
	}
	if o.health == "" {
		o.health = "10s"
	}
	if o.mode == "" {
		o.mode = "superseded"
	}
	if o.poll == "" {
		o.poll = "0"
	}
	s := &server{t: t, dir: passable(t, t.TempDir()), smtp: smtptest.Start(t), repo: newRepo(t, o.steps, o.slowStart),
		staging: freePort(t), prod: freePort(t), approver: o.approvers}
	port := freePort(t)
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.config = filepath.Join(s.dir, "greenlight.yml")
	database := ""
	if o.postgres {
		database = storetest.PostgresDatabase(t)
	}
	cfg := fmt.Sprintf(`server:
  listen: 127.0.0.1:%d
  public_url: %s
  data_dir: ./data
  admin_token: ${GREENLIGHT_ADMIN_TOKEN}
database: "%s"
mail:
  smtp: smtp://%s
  from: "Greenlight <greenlight@example.com>"
pipelines:
  - name: hello
    mode: %s
    source:
      repo: %s
      branch: main
      poll: %s
      webhook_secret: ${HOOK_SECRET}
    notify: [dev-team@example.com]
    stages:
      - name: build
        type: build
        timeout: 2m
%s      - name: staging
        type: deploy
        environment: staging
      - name: approval
        type: approval
%s        review_url: http://127.0.0.1:%d/
      - name: production
        type: deploy
        environment: production
    environments:
      staging:
        targets:
          - local: %s/staging
            env: {PORT: "%d"}
        health: {url: "http://127.0.0.1:{env.PORT}/healthz", timeout: %s}
      production:
        targets:
          - local: %s/production
            env: {PORT: "%d"}
        health: {url: "http://127.0.0.1:%d/healthz", timeout: %s}
`, port, s.url, database, s.smtp.Addr(), o.mode, s.repo.dir, o.poll, buildKeys(o.build), gateKeys(o), s.staging,
		s.dir, s.staging, o.health, s.dir, s.prod, s.prod, o.health)
	if o.tmpfs != "" {
		mountTmpfs(t, filepath.Join(s.dir, "data"), o.tmpfs)
	}
	cfg = strings.Replace(cfg, "      webhook_secret: ${HOOK_SECRET}\n", "      webhook_secret: ${HOOK_SECRET}\n"+o.source, 1)
	s.launch(cfg + o.top)
	return s
}

// launch writes cfg as the server's configuration and boots it. When the
// test fails, its cleanup prints the configuration, the server's output and
// the end of every stage log; it always stops the server and the apps its
// deploys started.
func (s *server) launch(cfg string) {
	s.t.Helper()
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.out = &syncBuffer{}
	s.t.Cleanup(func() {
		s.stop()
		s.killApps()
		if s.t.Failed() {
			s.t.Logf("config:\n%s\nserver output (last 16 KiB):\n%s", cfg, tail(s.out.String(), 16<<10))
			logs, _ := filepath.Glob(filepath.Join(s.dir, "data", "logs", "*", "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				s.t.Logf("%s:\n%s", l, tail(string(b), 8<<10))
			}
		}
	})
	s.boot()
}

// onBothStores runs f as two parallel subtests: the server on SQLite, and on
// a PostgreSQL database of the test's own.
func onBothStores(t *testing.T, f func(t *testing.T, pg bool)) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			f(t, db == "postgres")
		})
	}
}

// buildKeys indents options.build under the build stage; empty stays empty.
func buildKeys(keys string) string {
	if keys = strings.TrimSpace(keys); keys == "" {
		return ""
	}
	return indent(keys, "        ")
}

// gateKeys are the approval stage's keys: options.gate, or approvers,
// required and timeout.
func gateKeys(o options) string {
	if keys := strings.TrimSpace(o.gate); keys != "" {
		return indent(keys, "        ")
	}
	return fmt.Sprintf("        approvers: [%s]\n        required: %d\n        timeout: %s\n", strings.Join(o.approvers, ", "), o.required, o.timeout)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// boot starts the server process and waits until /healthz answers.
func (s *server) boot() {
	s.t.Helper()
	cmd := exec.Command(binary, "serve", "--config", s.config, "--drain", "2s")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.dir, "GREENLIGHT_ADMIN_TOKEN=" + adminToken,
		"HOOK_SECRET=" + hookSecret, "SERVER_SECRET_CANARY=do-not-leak"}
	cmd.Env = append(cmd.Env, s.env...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.ExtraFiles = s.inherit
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("server did not become healthy; output:\n%s", s.out.String())
}

// stop ends the server with SIGTERM, as an init system would.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
		s.t.Errorf("server did not stop within 20s of SIGTERM")
	}
	s.cmd = nil
}

// kill ends the server with SIGKILL: nothing gets a chance to clean up.
func (s *server) kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// killApps stops the deployed apps the hooks started: every process whose
// working directory is under the test's directory (pid files alone miss an
// app whose release was replaced, e.g. after a deploy cut off by kill -9).
func (s *server) killApps() { killUnder(s.dir) }

func killUnder(dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cwd")
	for _, p := range procs {
		cwd, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(cwd, dir+"/") {
			continue
		}
		var pid int
		fmt.Sscan(filepath.Base(filepath.Dir(p)), &pid)
		if pid > 0 && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// api calls the JSON API with the admin token.
func (s *server) api(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// run reads a run through the API.
func (s *server) run(id int64) *greenlight.Run {
	s.t.Helper()
	code, body := s.api("GET", fmt.Sprintf("/api/v1/runs/%d", id), nil)
	if code != 200 {
		s.t.Fatalf("GET run %d: %d %s", id, code, body)
	}
	var r greenlight.Run
	if err := json.Unmarshal(body, &r); err != nil {
		s.t.Fatalf("run %d: %v: %s", id, err, body)
	}
	return &r
}

// waitRun waits until the run has one of the statuses.
func (s *server) waitRun(id int64, timeout time.Duration, want ...greenlight.RunStatus) *greenlight.Run {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var r *greenlight.Run
	for time.Now().Before(deadline) {
		r = s.run(id)
		for _, w := range want {
			if r.Status == w {
				return r
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("run %d is %s (%s), want %v after %s; stages %+v", id, r.Status, r.Error, want, timeout, r.Stages)
	return nil
}

// push sends a signed GitHub push webhook for sha and returns the status and body.
func (s *server) push(sha, delivery string) (int, map[string]any) {
	s.t.Helper()
	body := fmt.Sprintf(`{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"full_name":"acme/hello"},"head_commit":{"id":"%s"}}`,
		strings.Repeat("0", 40), sha, sha)
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", s.url+"/hooks/hello", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// pushRun pushes sha and returns the id of the run it started.
func (s *server) pushRun(sha string) int64 {
	s.t.Helper()
	delivery := fmt.Sprintf("delivery-%s-%d", sha[:8], time.Now().UnixNano())
	code, out := s.push(sha, delivery)
	if code != 202 {
		s.t.Fatalf("push: %d %v", code, out)
	}
	return s.deliveryRun(delivery)
}

// deliveryRun waits for the webhook inbox to process a delivery and returns
// the id of the run it started.
func (s *server) deliveryRun(delivery string) int64 {
	s.t.Helper()
	var got greenlight.Delivery
	eventually(s.t, 30*time.Second, "delivery "+delivery+" processed", func() bool {
		code, body := s.api("GET", "/api/v1/deliveries?pipeline=hello&limit=500", nil)
		var list []greenlight.Delivery
		if code != 200 || json.Unmarshal(body, &list) != nil {
			s.t.Fatalf("GET deliveries: %d %s", code, body)
		}
		for _, d := range list {
			if d.DeliveryID == delivery {
				got = d
				return d.Status != greenlight.DeliveryQueued
			}
		}
		return false
	})
	if got.Status != greenlight.DeliveryStarted || got.RunID == 0 {
		s.t.Fatalf("delivery %s: %s %q, want a run started", delivery, got.Status, got.Result)
	}
	return got.RunID
}

// eventually polls cond every 50 ms until it holds, or fails the test with
// what after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stageLog reads a stage's log file as the server writes it.
func (s *server) stageLog(id int64, stage string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "data", "logs", fmt.Sprint(id), stage+".log"))
	return string(b)
}

// get fetches a URL and returns status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mailTo waits for a mail addressed to rcpt whose subject contains subject,
// and returns it parsed.
func (s *server) mailTo(rcpt, subject string, timeout time.Duration) *smtptest.Parsed {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, m := range s.smtp.Messages() {
			for _, to := range m.To {
				if to == rcpt {
					p, err := m.Parse()
					if err != nil {
						s.t.Fatalf("parse mail: %v", err)
					}
					if strings.Contains(p.Subject, subject) {
						return p
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var subjects []string
	for _, m := range s.smtp.Messages() {
		p, _ := m.Parse()
		subjects = append(subjects, fmt.Sprintf("%v: %s", m.To, p.Subject))
	}
	s.t.Fatalf("no mail to %s about %q within %s; received: %v", rcpt, subject, timeout, subjects)
	return nil
}

// syncBuffer collects a process's output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// mountTmpfs mounts a tmpfs of size at dir until the test ends (as root).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test mounts a tmpfs and needs root")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}
