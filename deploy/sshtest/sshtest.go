// Package sshtest starts real OpenSSH servers on loopback ports for tests and
// benchmarks of SSH deploy targets: each one is a "host" that accepts the
// current user with a throwaway ed25519 key.
//
//	h := sshtest.Start(t)
//	target := deploy.SSHTarget{User: h.User, Host: "127.0.0.1", Port: h.Port,
//		Dir: h.Dir, Key: h.ClientKey, KnownHosts: h.KnownHosts}
//
// It needs /usr/sbin/sshd and ssh-keygen. Without them Start skips the test,
// or fails it when CI is set to anything (CI must run these tests).
package sshtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Sshd is the server binary Start runs.
const Sshd = "/usr/sbin/sshd"

// Host is one running sshd on 127.0.0.1.
type Host struct {
	Port       int
	User       string // the current user, who may log in with ClientKey
	ClientKey  string // private key file (ed25519, no passphrase)
	KnownHosts string // a known_hosts file holding this host's key as [127.0.0.1]:Port
	Dir        string // a fresh empty directory for the target (releases/, current)
	Log        string // sshd's log file

	t        testing.TB
	confDir  string
	config   string
	mu       sync.Mutex
	cmd      *exec.Cmd
	stopped  chan struct{}
	hostKeyP string // the host's public key line
}

// Start starts an sshd for t and stops it when t ends.
func Start(t testing.TB) *Host {
	t.Helper()
	for _, tool := range []string{Sshd, "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("sshtest: %s is missing: %v", tool, err)
			}
			t.Skipf("sshtest: %s is missing: %v", tool, err)
		}
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil && os.Geteuid() == 0 {
		t.Fatalf("sshtest: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	conf := t.TempDir()
	h := &Host{
		User:       u.Username,
		ClientKey:  filepath.Join(conf, "client_key"),
		KnownHosts: filepath.Join(conf, "known_hosts"),
		Dir:        filepath.Join(t.TempDir(), "target"),
		Log:        filepath.Join(conf, "sshd.log"),
		t:          t,
		confDir:    conf,
		config:     filepath.Join(conf, "sshd_config"),
	}
	keygen(t, filepath.Join(conf, "host_key"))
	keygen(t, h.ClientKey)
	pub, err := os.ReadFile(h.ClientKey + ".pub")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(conf, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	hostPub, err := os.ReadFile(filepath.Join(conf, "host_key.pub"))
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	h.hostKeyP = strings.TrimSpace(string(hostPub))
	h.Port = freePort(t)
	if err := os.WriteFile(h.KnownHosts, []byte(h.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	h.writeConfig()
	if err := h.start(); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	t.Cleanup(h.Stop)
	return h
}

// Addr is "127.0.0.1:Port".
func (h *Host) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(h.Port)) }

// KnownHostsLine is the known_hosts line of this host's key.
func (h *Host) KnownHostsLine() string {
	return fmt.Sprintf("[127.0.0.1]:%d %s", h.Port, h.hostKeyP)
}

// WrongKnownHosts writes a known_hosts file that names this host with
// another key (a freshly made one), as after a host was replaced or an
// attacker answers in its place, and returns its path.
func (h *Host) WrongKnownHosts(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "other_key"))
	pub, err := os.ReadFile(filepath.Join(dir, "other_key.pub"))
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	path := filepath.Join(dir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s\n", h.Port, strings.TrimSpace(string(pub)))
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return path
}

// Stop stops sshd and drops every open connection to it, as when the host
// goes down: the listener and the per-connection server processes are
// killed. Processes started through it (by hooks, in their own sessions)
// keep running. Stopping a stopped host does nothing.
func (h *Host) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd == nil {
		return
	}
	pid := h.cmd.Process.Pid
	// Connection handlers are children of the listener, in sessions of
	// their own; kill them first or they would outlive it.
	for _, child := range children(pid) {
		for _, grandchild := range children(child) {
			if comm(grandchild) == "sshd" {
				syscall.Kill(grandchild, syscall.SIGKILL)
			}
		}
		syscall.Kill(child, syscall.SIGKILL)
	}
	h.cmd.Process.Kill()
	<-h.stopped
	h.cmd = nil
}

// Restart starts a stopped host again on the same port with the same keys.
func (h *Host) Restart() {
	h.t.Helper()
	h.Stop()
	if err := h.start(); err != nil {
		h.t.Fatalf("sshtest: restart: %v", err)
	}
}

func (h *Host) writeConfig() {
	cfg := Config(h.Port, filepath.Join(h.confDir, "host_key"), filepath.Join(h.confDir, "sshd.pid"),
		filepath.Join(h.confDir, "authorized_keys"))
	if err := os.WriteFile(h.config, []byte(cfg), 0o600); err != nil {
		h.t.Fatalf("sshtest: %v", err)
	}
}

// Config is the sshd_config of a test host on 127.0.0.1:port: key login
// only, internal sftp, room for many sessions, and SHLVL=1 (see below). The
// fleet benchmark starts its hosts with it too.
func Config(port int, hostKey, pidFile, authorizedKeys string) string {
	return fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
MaxSessions 100
MaxStartups 100
LogLevel VERBOSE
SetEnv SHLVL=1
`, port, hostKey, pidFile, authorizedKeys)
}

// SetEnv SHLVL=1 in the config: bash, the login shell every remote command
// goes through, sources ~/.bashrc when started by sshd at shell level 1;
// this machine's root .bashrc runs `pyenv init`, 160 ms of CPU per command,
// which would make the hosts (all sharing this machine's cores) measure
// that file rather than the deploy. A real host pays its own shell's cost.

// start runs sshd in the foreground (-D) as a child, so that Stop knows its
// pid, and waits until it accepts connections.
func (h *Host) start() error {
	if out, err := exec.Command(Sshd, "-t", "-f", h.config).CombinedOutput(); err != nil {
		return fmt.Errorf("sshd -t: %v: %s", err, out)
	}
	cmd := exec.Command(Sshd, "-D", "-f", h.config, "-E", h.Log)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	stopped := make(chan struct{})
	go func() { cmd.Wait(); close(stopped) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-stopped:
			log, _ := os.ReadFile(h.Log)
			return fmt.Errorf("sshd exited: %s", log)
		default:
		}
		// The greeting proves sshd itself listens, not something else.
		if c, err := net.DialTimeout("tcp", h.Addr(), time.Second); err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4)
			_, err := c.Read(buf)
			c.Close()
			if err == nil && bytes.Equal(buf, []byte("SSH-")) {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-stopped
			return fmt.Errorf("sshd on port %d did not answer", h.Port)
		}
	}
	h.mu.Lock()
	h.cmd, h.stopped = cmd, stopped
	h.mu.Unlock()
	return nil
}

func keygen(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sshtest", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("sshtest: ssh-keygen: %v: %s", err, out)
	}
}

// freePort asks the kernel for a free port. Another process may take it
// before sshd binds it; start then fails loudly rather than flakily hanging.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// children lists the pids whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which may hold spaces: state ppid …
		_, after, ok := strings.Cut(string(b), ") ")
		if !ok {
			continue
		}
		f := strings.Fields(after)
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}
