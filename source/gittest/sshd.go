package gittest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SSHD is OpenSSH's sshd on a free loopback port, accepting one throwaway
// client key. Git over ssh runs git-upload-pack on it as the test's user.
type SSHD struct {
	Addr string // 127.0.0.1:port
	Port int
	// ClientKey is the private key sshd accepts (a deploy key); HostKey
	// the public host key; KnownHosts a known_hosts file naming it for
	// [127.0.0.1]:port.
	ClientKey  string
	HostKey    string
	KnownHosts string
	User       string
}

// StartSSHD starts sshd, stopped when the test ends. Without sshd it fails
// the test when CI is set to anything and skips it otherwise.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("gittest: sshd missing: %v", err)
		}
		t.Skipf("gittest: sshd missing: %v", err)
	}
	dir := t.TempDir()
	keygen := func(name string) {
		t.Helper()
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gittest", "-f", filepath.Join(dir, name)).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	keygen("hostkey")
	keygen("clientkey")
	pub, err := os.ReadFile(filepath.Join(dir, "clientkey.pub"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "authorized_keys"), string(pub), 0o600)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Logf("gittest: /run/sshd: %v", err)
	}
	port := freePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/hostkey
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
`, port, dir, dir, dir)
	write(t, filepath.Join(dir, "sshd_config"), cfg, 0o600)
	// -D keeps sshd in the foreground so the test owns the process.
	cmd := exec.Command(sshd, "-D", "-f", filepath.Join(dir, "sshd_config"), "-E", filepath.Join(dir, "sshd.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out, err := exec.Command(sshd, "-t", "-f", filepath.Join(dir, "sshd_config")).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t: %v\n%s", err, out)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Logf("sshd log:\n%s", log)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitListening(t, addr)
	hostPub, err := os.ReadFile(filepath.Join(dir, "hostkey.pub"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(hostPub))
	known := filepath.Join(dir, "known_hosts")
	write(t, known, fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, f[0], f[1]), 0o644)
	user := os.Getenv("USER")
	if user == "" {
		user = "root"
	}
	return &SSHD{Addr: addr, Port: port, ClientKey: filepath.Join(dir, "clientkey"),
		HostKey: string(hostPub), KnownHosts: known, User: user}
}

// URL is the ssh:// URL of the repository at the absolute path dir.
func (s *SSHD) URL(dir string) string {
	return fmt.Sprintf("ssh://%s@%s%s", s.User, s.Addr, dir)
}

// OtherKnownHosts writes a known_hosts file that names a different key for
// this server, as after a man-in-the-middle, and returns its path.
func (s *SSHD) OtherKnownHosts(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "other")).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "other.pub"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(pub))
	path := filepath.Join(dir, "known_hosts")
	write(t, path, fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.Port, f[0], f[1]), 0o644)
	return path
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening polls until addr accepts connections: sshd binds after it
// starts, and there is no readiness signal to wait on instead.
func waitListening(t testing.TB, addr string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gittest: sshd did not listen on %s", addr)
}

func write(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
