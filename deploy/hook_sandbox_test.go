package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/sandbox"
)

// What a hook of a local target may reach (hookuser.go): these tests run
// the repository's side of an attack and check the server's side held.

func requireBwrap(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil && os.Getenv("CI") == "" {
		t.Skip("bubblewrap is not installed: hooks are not confined on this machine")
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if !sandbox.Root() {
		t.Skip("needs root: hooks change uid only when the server is root")
	}
}

// probe deploys release 1, an archive without an app, to e's one target
// with hooks, and returns the stage log.
func probe(t *testing.T, d *Deployer, e *env, user string, hooks greenlight.Hooks) (string, error) {
	t.Helper()
	archive, digest := makeArchive(t, map[string]string{"VERSION": "v1", "data/file": "x"})
	_, err := d.Deploy(context.Background(), Request{
		Pipeline: "hello", Environment: "staging", RunID: 7, Commit: "abc123", Release: "1",
		Archive: archive, Digest: digest, Hooks: hooks,
		Targets:     []Target{{Local: e.dir, User: user, Env: map[string]string{"PORT": strconv.Itoa(e.port)}}},
		HookTimeout: 10 * time.Second, Log: e.log,
	})
	return e.log.String(), err
}

// attempt is a shell line that prints "refused: what" when cmd fails and
// "LEAK: what" when it succeeds.
func attempt(what, cmd string) string {
	return fmt.Sprintf("if %s >/dev/null 2>&1; then echo 'LEAK: %s'; else echo 'refused: %s'; fi\n", cmd, what, what)
}

func checkRefused(t *testing.T, log string, whats ...string) {
	t.Helper()
	for _, w := range whats {
		if !strings.Contains(log, "] refused: "+w+"\n") {
			t.Errorf("no %q in the log:\n%s", "refused: "+w, log)
		}
	}
	if strings.Contains(log, "] LEAK") { // the command itself is logged too
		t.Errorf("a hook reached what it must not:\n%s", log)
	}
}

// A hook cannot read the server's hidden paths, another target's
// directory's files by writing, the target's own `current`, nor the
// server's environment through /proc (the server is non-dumpable).
func TestHookConfined(t *testing.T) {
	requireBwrap(t)
	if err := sandbox.NoDump(); err != nil { // as `greenlight serve` does
		t.Fatal(err)
	}
	t.Setenv("SERVER_SECRET", "do-not-leak")
	// Not under /tmp, which is private to the hook: there the target's
	// parents would be the hook's own tmpfs, as writable as /tmp.
	root, err := os.MkdirTemp("/var/tmp", "hook-confined-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	secrets := filepath.Join(root, "data")
	keyFile := filepath.Join(root, "deploy_key")
	other := filepath.Join(root, "production")
	for _, d := range []string{secrets, other} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777) // writable by all: only the sandbox stands in the way
	}
	os.WriteFile(filepath.Join(secrets, "greenlight.db"), []byte("approval tokens"), 0o644)
	os.WriteFile(keyFile, []byte("PRIVATE KEY"), 0o644)
	d, err := NewWith(Config{Hide: []string{secrets, keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.dir = filepath.Join(root, "staging")
	script := "set +e\n" +
		attempt("hidden database", "cat "+secrets+"/greenlight.db") +
		attempt("hidden key", "cat "+keyFile) +
		attempt("server environ", fmt.Sprintf("grep -q do-not-leak /proc/%d/environ", os.Getpid())) +
		attempt("server memory", fmt.Sprintf("head -c1 /proc/%d/mem", os.Getpid())) +
		attempt("write other target", "touch "+other+"/pwned") +
		attempt("write target dir", "touch ../../pwned") +
		attempt("swap current", "ln -sfn /etc ../../current") +
		attempt("write /etc", "touch /etc/pwned-by-hook") +
		"touch own-file && echo 'wrote own release'\n" +
		attempt("server env", "env | grep -q do-not-leak") + "true"
	log, err := probe(t, d, e, "", greenlight.Hooks{Start: script})
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, log)
	}
	checkRefused(t, log, "server env", "hidden database", "hidden key", "server environ", "server memory",
		"write other target", "write target dir", "swap current", "write /etc")
	if !strings.Contains(log, "wrote own release") {
		t.Errorf("the hook could not write in its own release:\n%s", log)
	}
	for _, p := range []string{filepath.Join(other, "pwned"), filepath.Join(e.dir, "pwned"), "/etc/pwned-by-hook"} {
		if _, err := os.Stat(p); err == nil {
			os.Remove(p)
			t.Errorf("the hook made %s", p)
		}
	}
	mustCurrent(t, e.dir, "1")
}

// As root, hooks run as the environment's own unprivileged uid, which owns
// the release (and only it), and the app a hook starts keeps running after
// the hook, as that uid, outside the hook's sandbox's lifetime.
func TestHookRunsAsDerivedUID(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	req := e.request(t, "1", "v1")
	req.Hooks.AfterInstall = "id -u; id -G; echo HOME=$HOME"
	if _, err := New(nil).Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	id := New(nil).derived("hello", "staging")
	uid := strconv.FormatUint(uint64(id.UID), 10)
	log := e.log.String()
	if !strings.Contains(log, "] "+uid+"\n") {
		t.Errorf("hook did not run as uid %s:\n%s", uid, log)
	}
	if !strings.Contains(log, "HOME="+e.dir+"/releases/1\n") {
		t.Errorf("hook's HOME is not its release:\n%s", log)
	}
	owner := func(p string) uint32 {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Uid
	}
	rel := filepath.Join(e.dir, "releases", "1")
	if got := owner(rel); got != id.UID {
		t.Errorf("release owned by %d, want %d", got, id.UID)
	}
	if got := owner(filepath.Join(rel, "VERSION")); got != id.UID {
		t.Errorf("release file owned by %d, want %d", got, id.UID)
	}
	for _, p := range []string{e.dir, filepath.Join(e.dir, "releases"), filepath.Join(e.dir, "current")} {
		if got := owner(p); got != 0 {
			t.Errorf("%s owned by %d, want the server (0)", p, got)
		}
	}
	// The app the start hook launched outlives the hook, as the same uid.
	waitAnswer(t, e.port, "v1")
	pid := readPID(filepath.Join(rel, "app.pid"))
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if !strings.Contains(string(status), "\nUid:\t"+uid+"\t") {
		t.Errorf("app (pid %d) does not run as %s:\n%s", pid, uid, status)
	}
	// Another environment gets another uid.
	if other := New(nil).derived("hello", "production"); other.UID == id.UID {
		t.Errorf("staging and production share uid %d", id.UID)
	}
}

// Without bwrap, a root server still drops hooks to the derived uid.
func TestHookWithoutSandboxDropsUID(t *testing.T) {
	requireRoot(t)
	d, err := NewWith(Config{Sandbox: SandboxNone})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	log, err := probe(t, d, e, "", greenlight.Hooks{Start: "echo uid=$(id -u)"})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("uid=%d\n", New(nil).derived("hello", "staging").UID); !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, log)
	}
}

// testUser is a system account for `user:` tests, made once if missing.
func testUser(t *testing.T) sandbox.Identity {
	t.Helper()
	const name = "greenlight-hooktest"
	if _, err := sandbox.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "--system", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			"--user-group", name).CombinedOutput(); err != nil {
			t.Skipf("useradd: %v: %s", err, out)
		}
	}
	id, err := sandbox.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// With user:, hooks run as that account (uid, its group, its home), own
// their release, and are not sandboxed.
func TestHookRunsAsTargetUser(t *testing.T) {
	requireRoot(t)
	id := testUser(t)
	e := newEnv(t)
	log, err := probe(t, New(nil), e, id.Name, greenlight.Hooks{
		Start: "echo uid=$(id -u) gid=$(id -g) home=$HOME; touch own-file"})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if want := fmt.Sprintf("uid=%d gid=%d home=/nonexistent\n", id.UID, id.GID); !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, log)
	}
	fi, err := os.Stat(filepath.Join(e.dir, "releases", "1", "own-file"))
	if err != nil || fi.Sys().(*syscall.Stat_t).Uid != id.UID {
		t.Errorf("own-file: %v, want made by %s", err, id.Name)
	}
}

// user: names an ssh target's login user, not a local account.
func TestTargetUserOnSSHRefused(t *testing.T) {
	_, err := Target{SSH: &SSHTarget{User: "deploy", Host: "web1", Dir: "/srv", KnownHosts: "/kh"}, User: "nobody"}.checked()
	if err == nil || !strings.Contains(err.Error(), "user is for local targets") {
		t.Errorf("checked: %v, want user refused on ssh", err)
	}
}

// A target below a directory the hooks' uid cannot pass through still
// deploys in the sandbox (the directory is replaced by an empty one on the
// way to the release). Without the sandbox the hook runs on the host's
// paths: the deploy then fails before anything changes, saying what to do.
func TestHookUnreachableTarget(t *testing.T) {
	requireRoot(t)
	requireBwrap(t)
	e := newEnv(t)
	closed := filepath.Join(filepath.Dir(e.dir), "closed")
	os.Mkdir(closed, 0o700)
	e.dir = filepath.Join(closed, "target")
	log, err := probe(t, New(nil), e, "", greenlight.Hooks{Start: `test "$(id -u)" != 0 && touch made-by-hook`})
	if err != nil {
		t.Fatalf("deploy in the sandbox: %v\n%s", err, log)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "current", "made-by-hook")); err != nil {
		t.Errorf("the hook did not run in its release: %v\n%s", err, log)
	}

	e2 := newEnv(t)
	closed2 := filepath.Join(filepath.Dir(e2.dir), "closed")
	os.Mkdir(closed2, 0o700)
	e2.dir = filepath.Join(closed2, "target")
	d, err := NewWith(Config{Sandbox: SandboxNone})
	if err != nil {
		t.Fatal(err)
	}
	_, err = probe(t, d, e2, "", greenlight.Hooks{Start: "true"})
	if err == nil || !strings.Contains(err.Error(), "is not searchable by uid") || !strings.Contains(err.Error(), "chmod o+x "+closed2) {
		t.Errorf("deploy without the sandbox: %v, want the unreachable directory named", err)
	}
	if _, err := os.Stat(filepath.Join(e2.dir, "current")); err == nil {
		t.Errorf("current was switched")
	}
}

// A hook that plants a link where the server writes the next hook's log
// (or the release info) cannot make the server write through it.
func TestHookLogLinkRefused(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	victim := filepath.Join(filepath.Dir(e.dir), "victim")
	os.WriteFile(victim, []byte("untouched\n"), 0o644)
	_, err := probe(t, New(nil), e, "", greenlight.Hooks{
		BeforeInstall: "ln -s " + victim + " .greenlight-start.log; ln -sf " + victim + " .greenlight-release.json",
		Start:         "echo written-through-the-link",
	})
	if err == nil || !strings.Contains(err.Error(), "open output") {
		t.Errorf("deploy: %v, want the start hook's log refused", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "untouched\n" {
		t.Errorf("victim = %q: the server wrote through a hook's link", b)
	}
}

// A hook past its timeout is killed with everything it started, inside
// the sandbox too.
func TestHookTimeoutKillsGroup(t *testing.T) {
	requireBwrap(t)
	e := newEnv(t)
	rel := filepath.Join(e.dir, "releases", "1")
	start := time.Now()
	archive, digest := makeArchive(t, map[string]string{"VERSION": "v1"})
	_, err := New(nil).Deploy(context.Background(), Request{
		Pipeline: "hello", Environment: "staging", RunID: 7, Release: "1", Archive: archive, Digest: digest,
		Hooks:   greenlight.Hooks{Start: "sleep 60 & echo $! > bg.pid; sleep 60"},
		Targets: []Target{{Local: e.dir}}, HookTimeout: time.Second, Log: e.log,
	})
	if err == nil || !strings.Contains(err.Error(), "hook start timed out after 1s") {
		t.Fatalf("deploy: %v, want the start hook timed out", err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("took %s", took)
	}
	pid := readPID(filepath.Join(rel, "bg.pid"))
	if pid == 0 {
		t.Fatalf("no bg.pid: %s", e.log)
	}
	for deadline := time.Now().Add(2 * time.Second); alive(pid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the hook's background process %d survived its timeout", pid)
	}
}

// A release inside a hidden directory (the config's, say) is still
// writable; the rest of the hidden directory is empty and read-only.
func TestHookReleaseInsideHiddenDir(t *testing.T) {
	requireBwrap(t)
	e := newEnv(t)
	hidden := filepath.Dir(e.dir)
	os.WriteFile(filepath.Join(hidden, "greenlight.yml"), []byte("admin_token: x"), 0o644)
	data := filepath.Join(hidden, "data") // hidden too, and inside: listed first
	os.Mkdir(data, 0o755)
	d, err := NewWith(Config{Hide: []string{data, hidden}})
	if err != nil {
		t.Fatal(err)
	}
	log, err := probe(t, d, e, "", greenlight.Hooks{Start: "set +e\n" +
		attempt("config", "cat "+hidden+"/greenlight.yml") +
		attempt("write hidden", "touch "+hidden+"/planted") +
		"touch own-file && echo 'wrote own release'\ntrue"})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	checkRefused(t, log, "config", "write hidden")
	if !strings.Contains(log, "] wrote own release") {
		t.Errorf("the hook could not write in its own release:\n%s", log)
	}
}

// BenchmarkLocalHook is the cost of one trivial hook (`true`): as hooks ran
// before (the server's uid, no sandbox), as a root server's derived uid
// without bwrap, and confined in bwrap.
func BenchmarkLocalHook(b *testing.B) {
	dir, err := os.MkdirTemp("/var/tmp", "hook-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	archive, digest := makeArchive(b, map[string]string{"VERSION": "v1"})
	none, _ := NewWith(Config{Sandbox: SandboxNone})
	for _, c := range []struct {
		name string
		h    func(target string) host
	}{
		{"unconfined", func(target string) host { return &localHost{dir: target, unpack: New(nil).unpack} }},
		{"derived-uid-no-bwrap", func(target string) host {
			h, _ := none.hostFor(Target{Local: target}, "hello", "staging", nil)
			return h
		}},
		{"bwrap", func(target string) host {
			h, _ := New(nil).hostFor(Target{Local: target}, "hello", "staging", nil)
			return h
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := c.h(filepath.Join(dir, c.name))
			if err := h.Install(context.Background(), archive, releaseInfo{Release: "1", Artifact: digest}); err != nil {
				b.Fatal(err)
			}
			var log syncBuffer
			for b.Loop() {
				if err := h.Run(context.Background(), "1", "start", "true", nil, 10*time.Second, &log); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A health check's command runs like the hooks: it is named in the
// server's configuration, but what it runs is usually the release's.
func TestHealthCommandConfined(t *testing.T) {
	requireBwrap(t)
	e := newEnv(t)
	secret := filepath.Join(filepath.Dir(e.dir), "secret")
	os.WriteFile(secret, []byte("s3cret"), 0o644)
	d, err := NewWith(Config{Hide: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	archive, digest := makeArchive(t, map[string]string{"VERSION": "v1",
		"bin/selfcheck.sh": "#!/bin/sh\nif cat " + secret + " 2>/dev/null; then echo LEAK; exit 1; fi\necho refused: secret\n"})
	_, err = d.Deploy(context.Background(), Request{
		Pipeline: "hello", Environment: "staging", RunID: 7, Release: "1", Archive: archive, Digest: digest,
		Targets: []Target{{Local: e.dir}}, HookTimeout: 10 * time.Second, Log: e.log,
		Health: Health{Command: "./bin/selfcheck.sh", Timeout: 5 * time.Second, Passes: 1, Interval: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, e.log)
	}
	if log := e.log.String(); !strings.Contains(log, "refused: secret") || strings.Contains(log, "s3cret") {
		t.Errorf("health command read a hidden file:\n%s", log)
	}
}

// A hidden path the hooks' uid cannot reach anyway (a data directory in
// root's 0700 home) is left out of the sandbox's mounts: bwrap, running as
// that uid, could not mount over it, and the hooks must still run.
func TestHookHiddenPathUnreachable(t *testing.T) {
	requireRoot(t)
	requireBwrap(t)
	e := newEnv(t)
	closed := filepath.Join(filepath.Dir(e.dir), "closed")
	os.Mkdir(closed, 0o700)
	data := filepath.Join(closed, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "greenlight.db"), []byte("s3cret"), 0o644)
	d, err := NewWith(Config{Hide: []string{data}})
	if err != nil {
		t.Fatal(err)
	}
	log, err := probe(t, d, e, "", greenlight.Hooks{Start: "set +e\n" + attempt("data", "cat "+data+"/greenlight.db") + "true"})
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, log)
	}
	checkRefused(t, log, "data")
}

// A hook's output file is its own environment's: another environment's
// hooks, which see the host read-only, cannot read what it printed.
func TestHookLogPrivate(t *testing.T) {
	requireRoot(t)
	requireBwrap(t)
	e := newEnv(t)
	if _, err := probe(t, New(nil), e, "", greenlight.Hooks{Start: "echo s3cret-from-env"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(e.dir, "releases", "1", ".greenlight-start.log"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("hook log mode %v: readable by other uids", fi.Mode().Perm())
	}
}

// A confined hook (and the app it starts) may append to its own output file
// by name: it is handed to the hook's uid, though the hook starts as root.
func TestHookAppendsToItsLog(t *testing.T) {
	requireRoot(t)
	requireBwrap(t)
	e := newEnv(t)
	log, err := probe(t, New(nil), e, "", greenlight.Hooks{Start: "echo by-name >> .greenlight-start.log"})
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, log)
	}
}

// A note of a running hook that the server did not write itself (a file of
// the hook's uid, which could name any process) is not acted on.
func TestReapTrustsOnlyItsOwnNote(t *testing.T) {
	requireRoot(t)
	note := filepath.Join(t.TempDir(), ".greenlight-hook.pid")
	victim := exec.Command("sleep", "60")
	victim.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer victim.Process.Kill()
	start, err := procStart(victim.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(note, fmt.Appendf(nil, "%d %s\n", victim.Process.Pid, start), 0o600)
	os.Lchown(note, 12345, 12345)
	if pid, err := reapHook(note); err != nil || pid != 0 {
		t.Errorf("reapHook = %d, %v: acted on a note of another uid", pid, err)
	}
	if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the process the forged note named was killed: %v", err)
	}
}
