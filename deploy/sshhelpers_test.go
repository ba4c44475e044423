package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight/deploy/sshtest"
)

// sshEnv is a test's SSH target: a real sshd on loopback, its target
// directory (on this machine, so the test can look at it) and a port for
// its app.
type sshEnv struct {
	h    *sshtest.Host
	port int
}

func newSSHEnv(t *testing.T) *sshEnv {
	t.Helper()
	e := &sshEnv{h: sshtest.Start(t), port: freePort(t)}
	t.Cleanup(func() { killPIDFiles(e.h.Dir) })
	return e
}

// target is e's deploy target, with the app's port and binary in its env.
func (e *sshEnv) target() Target {
	return Target{
		SSH: &SSHTarget{User: e.h.User, Host: "127.0.0.1", Port: e.h.Port, Dir: e.h.Dir,
			Key: e.h.ClientKey, KnownHosts: e.h.KnownHosts},
		Env: map[string]string{"PORT": strconv.Itoa(e.port), "APP_BIN": appBin},
	}
}

func (e *sshEnv) name() string { return e.target().Name() }

// killPIDFiles kills every process whose pid a hook left in a *.pid file
// of a release of dir.
func killPIDFiles(dir string) {
	pids, _ := filepath.Glob(filepath.Join(dir, "releases", "*", "*.pid"))
	for _, p := range pids {
		if pid := readPID(p); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// startAgent runs an ssh-agent holding key for the test and points
// SSH_AUTH_SOCK at it.
func startAgent(t *testing.T, key string) {
	t.Helper()
	for _, tool := range []string{"ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not create its socket")
		}
	}
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
}
