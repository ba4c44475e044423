package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// fleet is two SSH hosts and one local target, deployed together.
type fleet struct {
	ssh   []*sshEnv
	local *env
	log   *syncBuffer
}

func newFleet(t *testing.T) *fleet {
	f := &fleet{ssh: []*sshEnv{newSSHEnv(t), newSSHEnv(t)}, local: newEnv(t), log: &syncBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stage log:\n%s", f.log.String())
		}
	})
	return f
}

func (f *fleet) request(t *testing.T, release, version string) Request {
	archive, digest := appArchive(t, version)
	targets := []Target{f.ssh[0].target(), f.ssh[1].target(),
		{Local: f.local.dir, Env: map[string]string{"PORT": strconv.Itoa(f.local.port), "APP_BIN": appBin}}}
	return Request{
		Pipeline: "hello", Environment: "production", RunID: 7, Commit: "abc123",
		Release: release, Archive: archive, Digest: digest, Hooks: appHooks, Targets: targets,
		Health: Health{URL: "http://{host}:{env.PORT}/healthz", Timeout: 10 * time.Second,
			Interval: 50 * time.Millisecond, Passes: 2},
		HookTimeout: 20 * time.Second,
		Log:         f.log,
	}
}

func (f *fleet) ports() []int { return []int{f.ssh[0].port, f.ssh[1].port, f.local.port} }

func TestSSHFleetDeploy(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), f.request(t, "1", "v1")); err != nil {
		t.Fatal(err)
	}
	for _, p := range f.ports() {
		waitAnswer(t, p, "v1")
	}
	res, err := d.Deploy(context.Background(), f.request(t, "2", "v2"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range f.ports() {
		waitAnswer(t, p, "v2")
		if res.Targets[i].Status != StatusLive {
			t.Errorf("target %d: %+v, want live", i, res.Targets[i])
		}
	}
	for _, e := range f.ssh {
		mustCurrent(t, e.h.Dir, "2")
		link, _ := os.Readlink(filepath.Join(e.h.Dir, "current"))
		if link != "releases/2" {
			t.Errorf("current -> %q, want a relative link releases/2", link)
		}
		info, ok, err := (&localHost{dir: e.h.Dir}).Info(context.Background(), "2")
		if err != nil || !ok || info.Hooks != appHooks || info.RunID != 7 {
			t.Errorf("release info on %s = %+v, %v, %v", e.name(), info, ok, err)
		}
		if b, err := os.ReadFile(filepath.Join(e.h.Dir, "releases", "2", ".greenlight-start.log")); err != nil || !strings.Contains(string(b), "app v2 listening") {
			t.Errorf("start log on %s = %q, %v; want the app's first line", e.name(), b, err)
		}
		if old := readPID(filepath.Join(e.h.Dir, "releases", "1", "app.pid")); old != 0 {
			t.Errorf("release 1's app.pid is still there on %s: stop did not run", e.name())
		}
		entries, _ := os.ReadDir(filepath.Join(e.h.Dir, "releases"))
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), ".") {
				t.Errorf("leftover %s in releases on %s", en.Name(), e.name())
			}
		}
	}
	log := f.log.String()
	for _, want := range []string{
		"[" + f.ssh[0].name() + "] start (release 2): deploy/start.sh",
		"[" + f.ssh[1].name() + "] health check http://127.0.0.1:" + strconv.Itoa(f.ssh[1].port) + "/healthz: 200 (2/2)",
		"[" + f.ssh[0].name() + "] release 2 is live",
		"[" + f.local.dir + "] release 2 is live",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("stage log lacks %q", want)
		}
	}
}

func TestSSHRollbackOnFailingHook(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), f.request(t, "1", "v1")); err != nil {
		t.Fatal(err)
	}
	req := f.request(t, "2", "v2")
	req.Hooks.Validate = "echo validating on purpose; exit 3"
	res, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "hook validate failed: exit status 3") || !res.RolledBack {
		t.Fatalf("deploy = %+v, %v; want validate's failure and a rollback", res, err)
	}
	for i, p := range f.ports() {
		waitAnswer(t, p, "v1")
		if res.Targets[i].Status != StatusRolledBack {
			t.Errorf("target %d: %+v, want rolled-back", i, res.Targets[i])
		}
	}
	for _, e := range f.ssh {
		mustCurrent(t, e.h.Dir, "1")
	}
	if !strings.Contains(f.log.String(), "["+f.ssh[0].name()+"] validating on purpose") {
		t.Errorf("stage log lacks the remote hook's output")
	}
}

func TestSSHHookTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	archive, digest := appArchive(t, "v1")
	log := &syncBuffer{}
	_, err := New(nil).Deploy(context.Background(), Request{
		Release: "1", Archive: archive, Digest: digest, Targets: []Target{e.target()},
		Hooks: greenlight.Hooks{Start: "sleep 1000 & echo $! > bg.pid; echo $$ > sh.pid; echo started; sleep 1000"},
		// Long enough for a slow machine to get the hook going.
		HookTimeout: 3 * time.Second, Log: log,
	})
	if err == nil || !strings.Contains(err.Error(), "hook start timed out after 3s") {
		t.Fatalf("deploy error = %v, want the start hook's timeout", err)
	}
	dir := filepath.Join(e.h.Dir, "releases", "1")
	for _, f := range []string{"bg.pid", "sh.pid"} {
		pid := readPID(filepath.Join(dir, f))
		if pid == 0 {
			t.Fatalf("%s not written: %s", f, log.String())
		}
		gone := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if gone = !alive(pid); gone {
				break
			}
		}
		if !gone {
			t.Errorf("process %d of %s outlived the hook's timeout", pid, f)
		}
	}
	if !strings.Contains(log.String(), "] started") {
		t.Errorf("stage log lacks the hook's output before the timeout:\n%s", log.String())
	}
}

func TestSSHBackgroundProcessDoesNotHang(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	archive, digest := appArchive(t, "v1")
	// The sleep keeps the hook's stdout and stderr: it must hold only the
	// log file on the host, not the SSH session.
	res, err := New(nil).Deploy(context.Background(), Request{
		Release: "1", Archive: archive, Digest: digest, Targets: []Target{e.target()},
		Hooks:       greenlight.Hooks{Start: "sleep 1000 & echo $! > sleep.pid; echo left it running"},
		HookTimeout: time.Minute,
	})
	if err != nil || res.Targets[0].Status != StatusLive {
		t.Fatalf("deploy = %+v, %v; want live", res, err)
	}
	pid := readPID(filepath.Join(e.h.Dir, "releases", "1", "sleep.pid"))
	if pid == 0 || !alive(pid) {
		t.Errorf("background sleep (pid %d) did not survive the hook and its session", pid)
	}
}

func TestSSHHostKeyRefused(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, knownHosts string
		want             []string
	}{
		{"unknown", empty, []string{"is not in known_hosts " + empty, "[127.0.0.1]:" + strconv.Itoa(e.h.Port), "refusing to connect"}},
		{"changed", e.h.WrongKnownHosts(t), []string{"[127.0.0.1]:" + strconv.Itoa(e.h.Port), "has CHANGED", "refusing to connect"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			archive, digest := appArchive(t, "v1")
			target := e.target()
			target.SSH.KnownHosts = tc.knownHosts
			res, err := New(nil).Deploy(context.Background(), Request{
				Release: "1", Archive: archive, Digest: digest, Targets: []Target{target}, Hooks: appHooks,
			})
			if err == nil || res.Targets[0].Status != StatusFailed {
				t.Fatalf("deploy = %+v, %v; want a refusal", res, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(e.h.Dir, "releases")); err == nil {
				t.Errorf("the refused host got a releases directory")
			}
		})
	}
}

func TestSSHAgentAuth(t *testing.T) {
	// Not parallel: it sets SSH_AUTH_SOCK.
	e := newSSHEnv(t)
	startAgent(t, e.h.ClientKey)
	target := e.target()
	target.SSH.Key = ""
	archive, digest := appArchive(t, "v1")
	req := Request{Release: "1", Archive: archive, Digest: digest, Targets: []Target{target}, Hooks: appHooks,
		Health: Health{URL: "http://{host}:{env.PORT}/healthz", Timeout: 10 * time.Second, Interval: 50 * time.Millisecond}}
	if _, err := New(nil).Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, e.port, "v1")

	t.Setenv("SSH_AUTH_SOCK", "")
	req.Release = "2"
	_, err := New(nil).Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK is not set") {
		t.Errorf("deploy without an agent: %v, want an error naming SSH_AUTH_SOCK", err)
	}
}

func TestSSHHostDownMidDeploy(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), f.request(t, "1", "v1")); err != nil {
		t.Fatal(err)
	}
	down := f.ssh[1]
	req := f.request(t, "2", "v2")
	var once bool
	f.log.onWrite = func(s string) {
		// Called while the deploy writes, between its steps on that host.
		if !once && strings.Contains(s, "["+down.name()+"] after_install") {
			once = true
			down.h.Stop()
		}
	}
	req.Hooks.AfterInstall = "true"
	res, err := d.Deploy(context.Background(), req)
	f.log.onWrite = nil
	if err == nil || !res.RolledBack {
		t.Fatalf("deploy = %+v, %v; want a failure and a rollback", res, err)
	}
	msg := err.Error()
	for _, want := range []string{"target " + down.name(), "connection lost", "rollback failed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if res.Targets[1].Status != StatusFailed || !strings.Contains(res.Targets[1].Error, "rollback failed") {
		t.Errorf("the down host's outcome = %+v, want failed with its rollback failed", res.Targets[1])
	}
	for _, i := range []int{0, 2} {
		if res.Targets[i].Status != StatusRolledBack {
			t.Errorf("target %d: %+v, want rolled-back", i, res.Targets[i])
		}
		waitAnswer(t, f.ports()[i], "v1")
	}
	mustCurrent(t, f.ssh[0].h.Dir, "1")
}

func TestSSHDigestMismatchOnHost(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	archive, _ := appArchive(t, "v1")
	pool := newConnPool()
	defer pool.Close()
	target, err := e.target().checked()
	if err != nil {
		t.Fatal(err)
	}
	h := &sshHost{t: target.SSH, name: target.Name(), pool: pool}
	wrong := strings.Repeat("ab", 32)
	err = h.Install(context.Background(), archive, releaseInfo{Release: "1", Artifact: wrong})
	if err == nil || !strings.Contains(err.Error(), "want "+wrong+": refusing to unpack it") {
		t.Fatalf("install = %v, want a digest mismatch", err)
	}
	entries, err := os.ReadDir(filepath.Join(e.h.Dir, "releases"))
	if err != nil || len(entries) != 0 {
		t.Errorf("releases after a refused install: %v, %v; want empty", entries, err)
	}
}

func TestSSHEnvValuesArriveLiterally(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	archive, digest := appArchive(t, "v1")
	pwned := filepath.Join(t.TempDir(), "pwned")
	weird := "it's \"quoted\" $(touch " + pwned + ") `touch " + pwned + "` $HOME \\n\nsecond line; rm -rf /nothing '"
	target := e.target()
	target.Env["WEIRD"] = weird
	_, err := New(nil).Deploy(context.Background(), Request{
		Release: "1", Archive: archive, Digest: digest, Targets: []Target{target},
		Hooks: greenlight.Hooks{Start: `printf '%s' "$WEIRD" > weird.txt; printf '%s' "$GREENLIGHT_RELEASE_DIR" > dir.txt`},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.h.Dir, "releases", "1")
	if b, _ := os.ReadFile(filepath.Join(dir, "weird.txt")); string(b) != weird {
		t.Errorf("WEIRD arrived as %q, want %q", b, weird)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dir.txt")); string(b) != dir {
		t.Errorf("GREENLIGHT_RELEASE_DIR = %q, want %q", b, dir)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("a command inside an env value ran")
	}
}
