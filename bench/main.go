// Command bench measures a built Greenlight server the way a user runs it:
// a real git repository, webhooks over HTTP, builds in the real runner, the
// decision page under load. It prints one line per figure, next to the
// targets of the core issue. Run it with `go run ./bench` from the
// repository's root (it builds the binary first); see the README.
package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// vmRSS reads the resident set size from /proc/PID/status, sampled often.
var vmRSS = regexp.MustCompile(`VmRSS:\s+(\d+) kB`)

const (
	token  = "bench-admin-token-0123456789abcdef0123456789"
	secret = "bench-secret"
)

// failure is what fail panics with; main recovers it after the deferred
// clean-up (server stopped, work directory removed) has run.
type failure string

func main() {
	if code := benchmark(); code != 0 {
		os.Exit(code)
	}
}

func benchmark() (code int) {
	defer func() {
		switch r := recover().(type) {
		case nil:
		case failure:
			fmt.Fprintln(os.Stderr, "bench:", string(r))
			code = 1
		default:
			panic(r)
		}
	}()
	only := flag.String("only", "", "run only the scenarios whose name contains this")
	keep := flag.Bool("keep", false, "keep the work directory")
	flag.Parse()
	dir, err := os.MkdirTemp("", "greenlight-bench-")
	check(err)
	if !*keep {
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "greenlight")
	run("", "go", "build", "-o", bin, "./cmd/greenlight")
	b := &bench{dir: dir, bin: bin}
	defer b.stop() // also after a setup that failed half-way
	b.setup()
	for _, s := range []struct {
		name string
		fn   func()
	}{
		{"idle", b.idle},
		{"webhook", b.webhookToFirstStep},
		{"steps", b.twentySteps},
		{"flood", b.flood},
		{"concurrent", b.concurrentRuns},
		{"decision", b.decisionPage},
		{"fleet", b.fleet},
	} {
		if *only == "" || strings.Contains(s.name, *only) {
			s.fn()
		}
	}
	return 0
}

type bench struct {
	dir, bin, repo, url string
	cmd                 *exec.Cmd
	pid                 int
}

// setup makes the repository and starts the server with one pipeline per scenario.
func (b *bench) setup() {
	b.repo = filepath.Join(b.dir, "repo")
	check(os.MkdirAll(b.repo, 0o755))
	git(b.repo, "init", "-q", "-b", "main")
	files := map[string]string{
		"first.yml":  "steps:\n  - name: first\n    run: date +%s%N\n",
		"twenty.yml": "steps:\n" + strings.Repeat("  - run: \"true\"\n", 20),
		"flood.yml":  "steps:\n  - run: head -c 200000000 /dev/zero | base64\n",
		"sleep.yml":  "steps:\n  - run: sleep 2\n",
		"gate.yml":   "steps:\n  - run: \"true\"\n",
	}
	for name, body := range files {
		check(os.WriteFile(filepath.Join(b.repo, name), []byte(body), 0o644))
	}
	git(b.repo, "add", "-A")
	git(b.repo, "commit", "-q", "-m", "bench")
	port := freePort()
	b.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	pipeline := func(name, file string, extra string) string {
		// The flood keeps every line: a log limit above its 270 MB.
		return fmt.Sprintf("  - name: %s\n    source: {repo: %s, branches: [main, \"bench-*\"], webhook_secret: %s}\n    stages:\n      - {name: build, type: build, file: %s, limits: {log: 1GiB}}\n%s",
			name, b.repo, secret, file, extra)
	}
	cfg := fmt.Sprintf("server:\n  listen: 127.0.0.1:%d\n  data_dir: %s\n  admin_token: %s\npipelines:\n", port, filepath.Join(b.dir, "data"), token) +
		pipeline("first", "first.yml", "") + pipeline("twenty", "twenty.yml", "") + pipeline("flood", "flood.yml", "") +
		pipeline("sleep", "sleep.yml", "") + pipeline("one", "gate.yml", "") +
		pipeline("gate", "gate.yml", "      - {name: approval, type: approval, approvers: [pm@example.com, cto@example.com]}\n")
	file := filepath.Join(b.dir, "greenlight.yml")
	check(os.WriteFile(file, []byte(cfg), 0o600))
	cmd := exec.Command(b.bin, "serve", "--config", file)
	logf, err := os.Create(filepath.Join(b.dir, "server.log"))
	check(err)
	cmd.Stdout, cmd.Stderr = logf, logf
	check(cmd.Start())
	b.cmd, b.pid = cmd, cmd.Process.Pid
	for i := 0; ; i++ {
		if resp, err := http.Get(b.url + "/healthz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if i > 400 {
			fail("server did not start; see %s", filepath.Join(b.dir, "server.log"))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (b *bench) stop() {
	if b.cmd != nil {
		b.cmd.Process.Signal(syscall.SIGTERM)
		b.cmd.Wait()
	}
}

// rss is the server's resident set size in MiB.
func (b *bench) rss() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.pid))
	check(err)
	m := vmRSS.FindSubmatch(data)
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024
}

func (b *bench) idle() {
	time.Sleep(2 * time.Second)
	report("idle server RSS", fmt.Sprintf("%.1f MiB", b.rss()), "≤ 40 MiB")
}

// webhookToFirstStep pushes the repository's head (already mirrored after
// the first run) and reads the first step's own clock from its log.
func (b *bench) webhookToFirstStep() {
	sha := strings.TrimSpace(git(b.repo, "rev-parse", "HEAD"))
	b.waitRun(b.trigger("first", sha), 60*time.Second) // warm: mirror the repository
	var lat []time.Duration
	for i := 0; i < 30; i++ {
		t0 := time.Now()
		// A branch of its own each time: a commit is built once per branch,
		// and this measures the path from webhook to step, not the dedupe.
		id := b.push("first", fmt.Sprintf("refs/heads/bench-%d", i), sha, fmt.Sprintf("bench-%d-%d", i, t0.UnixNano()))
		b.waitRun(id, 30*time.Second)
		logs := b.get(fmt.Sprintf("/api/v1/runs/%d/logs?stage=build", id))
		m := regexp.MustCompile(`(?m)^(\d{19})$`).FindStringSubmatch(logs)
		if m == nil {
			fail("no timestamp in the log of run %d:\n%s", id, logs)
		}
		ns, _ := strconv.ParseInt(m[1], 10, 64)
		lat = append(lat, time.Unix(0, ns).Sub(t0))
	}
	slices.Sort(lat)
	report("webhook → first step started (p50)", lat[len(lat)/2].Round(100*time.Microsecond).String(), "≤ 50 ms")
	report("webhook → first step started (p90)", lat[len(lat)*9/10].Round(100*time.Microsecond).String(), "")
}

// twentySteps compares a stage of 20 `true` steps with a stage of one.
func (b *bench) twentySteps() {
	sha := strings.TrimSpace(git(b.repo, "rev-parse", "HEAD"))
	stage := func(p string) time.Duration {
		var best time.Duration
		for i := 0; i < 5; i++ {
			r := b.waitRun(b.trigger(p, sha), 60*time.Second)
			st := r.Stages[0]
			d := st.FinishedAt.Sub(*st.StartedAt)
			if best == 0 || d < best {
				best = d
			}
		}
		return best
	}
	one, twenty := stage("one"), stage("twenty")
	report("build stage of 20 × true, beyond a stage of 1 × true (same checkout)", (twenty - one).Round(100*time.Microsecond).String(), "≤ 50 ms")
	t0 := time.Now()
	for i := 0; i < 20; i++ {
		run("", "sh", "-e", "-c", "true")
	}
	bare := time.Since(t0) / 20
	perStep := (twenty - one) / 19
	report("per step in the server, over sh -e -c true run directly", fmt.Sprintf("%s (%s vs %s)", (perStep-bare).Round(10*time.Microsecond), perStep.Round(10*time.Microsecond), bare.Round(10*time.Microsecond)), "≤ 1 ms")
}

// flood runs a step writing 200 MB and compares it with the same command
// writing to /dev/null, sampling the server's RSS meanwhile.
func (b *bench) flood() {
	var direct, step, stage time.Duration
	best := func(d *time.Duration, v time.Duration) {
		if *d == 0 || v < *d {
			*d = v
		}
	}
	for range 3 { // best of three of each: the machine is shared
		t0 := time.Now()
		run("", "sh", "-c", "head -c 200000000 /dev/zero | base64 > /dev/null")
		best(&direct, time.Since(t0))
	}
	sha := strings.TrimSpace(git(b.repo, "rev-parse", "HEAD"))
	base := b.rss()
	peak := base
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				peak = max(peak, b.rss())
			}
		}
	}()
	var lines int
	for range 3 {
		r := b.waitRun(b.trigger("flood", sha), 120*time.Second)
		st := r.Stages[0]
		best(&stage, st.FinishedAt.Sub(*st.StartedAt))
		logPath := filepath.Join(b.dir, "data", "logs", strconv.FormatInt(r.ID, 10), "build.log")
		lines = countLines(logPath)
		// The runner's footer gives the step's own time, from start to every line stored.
		log, err := os.ReadFile(logPath)
		check(err)
		m := regexp.MustCompile(`(?m)^==> step-1: exit 0 in ([0-9.]+)s$`).FindSubmatch(log[max(0, len(log)-4096):])
		if m == nil {
			fail("no step footer in %s", logPath)
		}
		secs, _ := strconv.ParseFloat(string(m[1]), 64)
		best(&step, time.Duration(secs*float64(time.Second)))
		check(os.Remove(logPath))
	}
	close(done)
	<-sampled              // peak is the sampler's until it has stopped
	want := 200000000 / 57 // base64 writes 76 characters (57 bytes) per line
	report("200 MB step in the server / same command to /dev/null", fmt.Sprintf("%.2f× (%s vs %s)", float64(step)/float64(direct), step.Round(time.Millisecond), direct.Round(time.Millisecond)), "≤ 1.5×")
	report("  the whole build stage (checkout, sandbox, step, logs)", stage.Round(time.Millisecond).String(), "")
	report("lines stored", fmt.Sprintf("%d (≥ %d output lines + headers)", lines, want+1), "every line")
	report("server RSS growth during the flood", fmt.Sprintf("%.1f MiB", peak-base), "< 64 MiB")
}

// concurrentRuns starts 50 runs of one `sleep 2` step at once.
func (b *bench) concurrentRuns() {
	sha := strings.TrimSpace(git(b.repo, "rev-parse", "HEAD"))
	base := b.rss()
	peak := base
	t0 := time.Now()
	ids := make([]int64, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i] = b.trigger("sleep", sha) }()
	}
	wg.Wait()
	report("  50 runs created (concurrent API calls) after", time.Since(t0).Round(time.Millisecond).String(), "")
	var waits, overs []time.Duration
	var first, last time.Time
	for _, id := range ids {
		for {
			peak = max(peak, b.rss())
			if r := b.run(id); isDone(r.Status) {
				if r.Status != "succeeded" {
					fail("run %d %s: %s", id, r.Status, r.Error)
				}
				st := r.Stages[0]
				waits = append(waits, st.StartedAt.Sub(r.CreatedAt))
				overs = append(overs, st.FinishedAt.Sub(*st.StartedAt)-2*time.Second)
				if first.IsZero() || r.CreatedAt.Before(first) {
					first = r.CreatedAt
				}
				if st.FinishedAt.After(last) {
					last = *st.FinishedAt
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	report("50 concurrent runs of `sleep 2`: first created → last finished", last.Sub(first).Round(time.Millisecond).String(), "≤ 2.5 s")
	report("  the same seen by the client, from the first request", time.Since(t0).Round(time.Millisecond).String(), "")
	report("  slowest run: created → build started", slices.Max(waits).Round(time.Millisecond).String(), "")
	report("  slowest build stage beyond its 2 s sleep", slices.Max(overs).Round(time.Millisecond).String(), "")
	report("RSS per concurrent run", fmt.Sprintf("%.2f MiB", (peak-base)/50), "≤ 0.5 MiB")
}

// decisionPage loads GET /approvals/{token} and then races 1,000 POSTs.
func (b *bench) decisionPage() {
	sha := strings.TrimSpace(git(b.repo, "rev-parse", "HEAD"))
	link := func() string {
		id := b.trigger("gate", sha)
		b.waitStatus(id, "waiting", 60*time.Second)
		for i := 0; i < 100; i++ {
			for _, m := range b.outbox() {
				if strings.Contains(m.Subject, fmt.Sprintf("#%d", id)) {
					if l := regexp.MustCompile(`https?://\S+/approvals/[A-Za-z0-9_-]{43}`).FindString(m.Text); l != "" {
						return l
					}
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		fail("no approval mail for run %d", id)
		return ""
	}
	page := link()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				resp, err := client.Get(page)
				if err != nil || resp.StatusCode != 200 {
					bad++
				}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat, errs = append(lat, mine...), errs+bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	report("decision page GET throughput (16 clients, 5 s)", fmt.Sprintf("%.0f req/s (%d not 200)", float64(len(lat))/5, errs), "≥ 5,000 req/s")
	report("decision page GET p99", lat[len(lat)*99/100].Round(10*time.Microsecond).String(), "≤ 10 ms")

	target := link()
	codes := map[int]int{}
	var start sync.WaitGroup
	start.Add(1)
	wg = sync.WaitGroup{}
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			resp, err := client.PostForm(target, map[string][]string{"decision": {"approve"}})
			code := 0
			if err == nil {
				code = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	start.Done()
	wg.Wait()
	fives := 0
	for c, n := range codes {
		if c >= 500 || c == 0 {
			fives += n
		}
	}
	report("1,000 concurrent POSTs on one approval", fmt.Sprintf("%d × 200, %d × 410, %d 5xx or failed (%v)", codes[200], codes[410], fives, codes), "exactly one decision, no 5xx")
}

type runView struct {
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Status    string    `json:"status"`
	Error     string    `json:"error"`
	Stages    []struct {
		StartedAt  *time.Time `json:"started_at"`
		FinishedAt *time.Time `json:"finished_at"`
	} `json:"stages"`
}

func isDone(s string) bool {
	return s != "queued" && s != "running" && s != "waiting"
}

func (b *bench) trigger(pipeline, sha string) int64 {
	var r runView
	b.do("POST", "/api/v1/pipelines/"+pipeline+"/runs", fmt.Sprintf(`{"commit":%q}`, sha), &r, 201)
	return r.ID
}

func (b *bench) run(id int64) runView {
	var r runView
	b.do("GET", fmt.Sprintf("/api/v1/runs/%d", id), "", &r, 200)
	return r
}

func (b *bench) waitRun(id int64, timeout time.Duration) runView {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r := b.run(id); isDone(r.Status) {
			if r.Status != "succeeded" {
				fail("run %d %s: %s", id, r.Status, r.Error)
			}
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
	fail("run %d did not finish within %s", id, timeout)
	return runView{}
}

func (b *bench) waitStatus(id int64, status string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r := b.run(id); r.Status == status {
			return
		} else if isDone(r.Status) {
			fail("run %d %s: %s", id, r.Status, r.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fail("run %d not %s within %s", id, status, timeout)
}

func (b *bench) outbox() []struct{ Subject, Text string } {
	var out []struct{ Subject, Text string }
	b.do("GET", "/api/v1/outbox", "", &out, 200)
	return out
}

func (b *bench) push(pipeline, ref, sha, delivery string) int64 {
	body := fmt.Sprintf(`{"ref":%q,"after":%q}`, ref, sha)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", b.url+"/hooks/"+pipeline, strings.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	var out struct{ Delivery string }
	b.send(req, &out, 202)
	// The webhook is acknowledged at once; the inbox then starts the run.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var list []struct {
			Delivery, Status, Result string
			Run                      int64
		}
		b.do("GET", "/api/v1/deliveries?pipeline="+pipeline+"&limit=20", "", &list, 200)
		for _, d := range list {
			if d.Delivery == delivery && d.Status != "queued" {
				if d.Run == 0 {
					fail("delivery %s: %s %s", delivery, d.Status, d.Result)
				}
				return d.Run
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	fail("delivery %s not processed within a minute", delivery)
	return 0
}

func (b *bench) get(path string) string {
	req, _ := http.NewRequest("GET", b.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	check(err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

func (b *bench) do(method, path, body string, out any, want int) {
	req, _ := http.NewRequest(method, b.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	b.send(req, out, want)
}

func (b *bench) send(req *http.Request, out any, want int) {
	resp, err := http.DefaultClient.Do(req)
	check(err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		fail("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, data)
	}
	if out != nil {
		check(json.Unmarshal(data, out))
	}
}

func report(what, got, target string) {
	if target != "" {
		target = "  (target " + target + ")"
	}
	fmt.Printf("%-70s %s%s\n", what, got, target)
}

func countLines(path string) int {
	f, err := os.Open(path)
	check(err)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
	}
	return n
}

func git(dir string, args ...string) string {
	return run(dir, "git", append([]string{"-c", "user.name=Bench", "-c", "user.email=bench@example.com"}, args...)...)
}

func run(dir, name string, args ...string) string {
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		fail("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	panic(failure(fmt.Sprintf(format, args...)))
}
