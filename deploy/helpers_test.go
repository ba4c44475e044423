package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// appBin is the test app (testdata/app), built once by TestMain.
var appBin string

func TestMain(m *testing.M) {
	// Not under /tmp: confined hooks get a private /tmp, where the app
	// would not be.
	dir, err := os.MkdirTemp("/var/tmp", "deploy-test-app-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Hooks of a root test process run as an unprivileged uid: they must
	// be able to run the app.
	os.Chmod(dir, 0o755)
	appBin = filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", appBin, "./testdata/app")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test app:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The release's own scripts, as an application repository would ship them.
// start.sh leaves the app's stdout alone (nohup keeps a non-terminal
// stdout), the case that must neither hang a deploy nor kill the app later.
const (
	startScript = `#!/bin/sh
VERSION=$(cat VERSION) nohup "$APP_BIN" &
echo $! > app.pid
`
	stopScript = `#!/bin/sh
[ -f app.pid ] || exit 0
pid=$(cat app.pid)
if kill "$pid" 2>/dev/null; then
	# Wait for it to exit (a zombie counts as gone: nothing may reap it here).
	i=0
	while [ $i -lt 100 ] && [ -e /proc/$pid ] && ! grep -q ') Z' /proc/$pid/stat 2>/dev/null; do
		sleep 0.05; i=$((i+1))
	done
fi
rm -f app.pid
`
)

var appHooks = greenlight.Hooks{Start: "deploy/start.sh", Stop: "deploy/stop.sh"}

// makeArchive writes a tar.gz of files (name → content; deploy/*.sh are
// executable) and returns its path and SHA-256.
func makeArchive(t testing.TB, files map[string]string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		mode := int64(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "artifact.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return path, hex.EncodeToString(sum[:])
}

// appArchive is a release of the test app that answers version.
func appArchive(t *testing.T, version string) (string, string) {
	return makeArchive(t, map[string]string{
		"VERSION":         version,
		"deploy/start.sh": startScript,
		"deploy/stop.sh":  stopScript,
	})
}

// env is a test's target: a directory and a free port for its app.
type env struct {
	dir  string
	port int
	log  *syncBuffer
}

// newEnv makes a target directory and, in t.Cleanup, kills every process
// whose pid a hook left in a *.pid file of a release.
func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{dir: filepath.Join(tempDir(t), "target"), port: freePort(t), log: &syncBuffer{}}
	t.Cleanup(func() {
		pids, _ := filepath.Glob(filepath.Join(e.dir, "releases", "*", "*.pid"))
		for _, p := range pids {
			if pid := readPID(p); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("stage log:\n%s", e.log.String())
			// What the apps said after their hooks returned.
			logs, _ := filepath.Glob(filepath.Join(e.dir, "releases", "*", ".greenlight-start.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
		}
	})
	return e
}

// tempDir is t.TempDir() with its parent made searchable by all (t.TempDir
// makes it 0700): when the tests run as root, hooks run as an unprivileged
// uid, which must reach the target directory.
func tempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// request deploys release (an app answering version) to e's one target.
func (e *env) request(t *testing.T, release, version string) Request {
	archive, digest := appArchive(t, version)
	return Request{
		Pipeline: "hello", Environment: "staging", RunID: 7, Commit: "abc123",
		Release: release, Archive: archive, Digest: digest,
		Hooks:   appHooks,
		Targets: []Target{{Local: e.dir, Env: map[string]string{"PORT": strconv.Itoa(e.port), "APP_BIN": appBin}}},
		Health: Health{URL: "http://{host}:{env.PORT}/healthz", Timeout: 10 * time.Second,
			Interval: 50 * time.Millisecond, Passes: 2},
		HookTimeout: 10 * time.Second,
		Log:         e.log,
	}
}

// answer returns what the app on port says at /, or the error.
func answer(port int) (string, error) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// waitAnswer polls the app on port until it answers want, for up to 5s.
func waitAnswer(t *testing.T, port int, want string) {
	t.Helper()
	var got string
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = answer(port); err == nil && got == want {
			return
		}
	}
	t.Fatalf("app on port %d answers %q (err %v), want %q", port, got, err, want)
}

// nextPort hands out ports for test apps. They come from below the kernel's
// ephemeral range (32768-60999 here): a port asked of the kernel with :0 is
// free only until some client connection takes it as its source port, and
// an app restarted during a rollback would then fail to bind.
var nextPort atomic.Int32

func freePort(t testing.TB) int {
	t.Helper()
	nextPort.CompareAndSwap(0, int32(20000+rand.IntN(10000)))
	for range 100 {
		port := int(nextPort.Add(1))
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port for the test app")
	return 0
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive reports whether pid runs; a zombie does not (nothing may reap it).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z") && !strings.HasPrefix(after, "X")
}

func mustCurrent(t *testing.T, dir, want string) {
	t.Helper()
	got, err := Current(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("current release = %q, want %q", got, want)
	}
}

// syncBuffer is a stage log that tests read while deploys write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// onWrite, if set, sees every write (to act on a step of the deploy).
	onWrite func(string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	f := b.onWrite
	b.mu.Unlock()
	if f != nil {
		f(string(p))
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
