// Package nginxtest runs a real nginx (/usr/sbin/nginx) in front of test
// app instances, for tests of traffic routing: the nginx deploy router
// writes the upstream file this nginx includes, tests the configuration
// and reloads it with the commands Server gives.
//
// Each Server has its own prefix directory (pid file, error log, temp
// paths, configuration), listens on a free 127.0.0.1 port, runs one worker
// (so weighted round robin is exact), and is stopped at the test's cleanup.
// Without nginx the test is skipped, unless CI is set to anything, where it fails.
package nginxtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binary is the nginx the package runs.
const Binary = "/usr/sbin/nginx"

// Server is one running nginx.
type Server struct {
	Dir          string // its prefix: nginx.conf, nginx.pid, error.log, temp dirs
	Addr         string // 127.0.0.1:PORT it listens on
	URL          string // http://Addr
	UpstreamFile string // the file the configuration includes
	Upstream     string // the upstream's name, proxied to at /
	TestCmd      string // a shell command testing the configuration, for Router.Test
	// ReloadCmd is a shell command reloading it, for Router.Reload; it
	// returns once the old worker exited and the new configuration serves
	// every new connection.
	ReloadCmd string

	cmd *exec.Cmd
}

// Start runs nginx proxying every request to upstream, whose first content
// lists servers (each "host:port", weight 1); with none, one placeholder
// server marked down. It fails or skips t when nginx cannot run.
func Start(t testing.TB, upstream string, servers ...string) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx is required in CI: %v", err)
		}
		t.Skipf("nginx not installed: %v", err)
	}
	dir := t.TempDir()
	s := &Server{Dir: dir, UpstreamFile: filepath.Join(dir, "upstream.conf"), Upstream: upstream}
	for _, sub := range []string{"tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	var up strings.Builder
	fmt.Fprintf(&up, "upstream %s {\n", upstream)
	for _, srv := range servers {
		fmt.Fprintf(&up, "    server %s;\n", srv)
	}
	if len(servers) == 0 {
		up.WriteString("    server 127.0.0.1:9 down;\n")
	}
	up.WriteString("}\n")
	if err := os.WriteFile(s.UpstreamFile, []byte(up.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.URL = "http://" + s.Addr
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(config(dir, s.Addr, s.UpstreamFile, upstream)), 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("%s -p %s -c %s", Binary, quote(dir+"/"), quote(conf))
	s.TestCmd = base + " -t -q"
	reload := filepath.Join(dir, "reload.sh")
	if err := os.WriteFile(reload, []byte(fmt.Sprintf(reloadScript, quote(filepath.Join(dir, "error.log")), base)), 0o755); err != nil {
		t.Fatal(err)
	}
	s.ReloadCmd = "/bin/sh " + quote(reload)

	s.cmd = exec.Command(Binary, "-p", dir+"/", "-c", conf)
	out, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		// QUIT is nginx's graceful stop; the kill is for a master that hangs.
		syscall.Kill(s.cmd.Process.Pid, syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	// Ready when it accepts connections (the master binds before it forks
	// workers, and the kernel queues connections meanwhile).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
			t.Fatalf("nginx exited: %v\n%s", err, b)
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s: %v", s.Addr, err)
		}
	}
}

// reloadScript reloads nginx and returns once the reload took effect: the
// old worker has exited, so every new connection gets the new
// configuration. `nginx -s reload` alone only sends a signal, and for a
// moment after it an old worker still accepts connections.
const reloadScript = `log=%[1]s
before=$(grep -c 'exited with code' "$log")
%[2]s -s reload || exit 1
i=0
while [ "$(grep -c 'exited with code' "$log")" -le "$before" ]; do
	i=$((i+1))
	if [ $i -gt 1000 ]; then echo "nginx did not finish reloading within 10s" >&2; exit 1; fi
	sleep 0.01
done
`

// config is the whole nginx configuration: everything inside dir.
func config(dir, addr, upstreamFile, upstream string) string {
	return fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log notice;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    include %[3]s;
    server {
        listen %[2]s;
        location / {
            proxy_pass http://%[4]s;
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 2s;
        }
    }
}
`, dir, addr, upstreamFile, upstream)
}

// Reload makes nginx read its configuration again.
func (s *Server) Reload(t testing.TB) {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", s.ReloadCmd).CombinedOutput()
	if err != nil {
		t.Fatalf("reload nginx: %v\n%s", err, out)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("not a TCP address")
	}
	return addr.Port, nil
}

// quote makes s one word for /bin/sh.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
