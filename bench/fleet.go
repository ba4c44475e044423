package main

import (
	"github.com/greenlight-cd/greenlight/deploy/sshtest"

	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// fleetHosts is how many SSH hosts the fleet figures deploy to.
const fleetHosts = 20

// fleet compares deploys of one release over SSH: to one host, to 20 hosts
// rolling 25% at a time, and to 20 hosts all at once. Each host is a real
// sshd on a loopback port; a second server (its own data directory) runs
// the three pipelines. The figure is the deploy stage's own duration, best
// of three.
func (b *bench) fleet() {
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		fail("fleet: /usr/sbin/sshd is required: %v", err)
	}
	dir := filepath.Join(b.dir, "fleet")
	check(os.MkdirAll(dir, 0o755))
	hosts := startSSHDs(dir, fleetHosts)
	defer func() {
		for _, h := range hosts {
			h.Process.Kill()
			h.Wait()
		}
	}()
	u, err := user.Current()
	check(err)

	repo := filepath.Join(dir, "repo")
	check(os.MkdirAll(repo, 0o755))
	check(os.WriteFile(filepath.Join(repo, ".greenlight.yml"), []byte("steps:\n  - run: mkdir -p dist && echo hello > dist/index.html\n"+
		"artifacts: [dist/]\ndeploy:\n  hooks:\n    start: \"true\"\n"), 0o644))
	git(repo, "init", "-q", "-b", "main")
	git(repo, "add", "-A")
	git(repo, "commit", "-q", "-m", "fleet")
	sha := strings.TrimSpace(git(repo, "rev-parse", "HEAD"))

	targets := func(name string, n int) string {
		var s strings.Builder
		for i := range n {
			fmt.Fprintf(&s, "          - {ssh: %s@127.0.0.1:%d, dir: %s}\n", u.Username, hosts[i].port,
				filepath.Join(dir, "hosts", fmt.Sprint(i), name))
		}
		return s.String()
	}
	pipeline := func(name string, n int, strategy string) string {
		return fmt.Sprintf("  - name: %s\n    source: {repo: %s, branch: main}\n    stages:\n      - {name: build, type: build}\n"+
			"      - {name: deploy, type: deploy, environment: %s}\n    environments:\n      %s:\n"+
			"        ssh: {key: %s, known_hosts: %s}\n        parallel: %d\n        strategy: %s\n        targets:\n%s",
			name, repo, name, name, filepath.Join(dir, "client_key"), filepath.Join(dir, "known_hosts"), fleetHosts, strategy, targets(name, n))
	}
	port := freePort()
	fb := &bench{dir: dir, bin: b.bin, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	cfg := fmt.Sprintf("server:\n  listen: 127.0.0.1:%d\n  data_dir: %s\n  admin_token: %s\npipelines:\n", port, filepath.Join(dir, "data"), token) +
		pipeline("one", 1, "all-at-once") + pipeline("rolling", fleetHosts, "{type: rolling, batch: 25%}") +
		pipeline("all", fleetHosts, "all-at-once")
	file := filepath.Join(dir, "greenlight.yml")
	check(os.WriteFile(file, []byte(cfg), 0o600))
	cmd := exec.Command(b.bin, "serve", "--config", file)
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	check(err)
	cmd.Stdout, cmd.Stderr = logf, logf
	check(cmd.Start())
	fb.cmd = cmd
	defer fb.stop()
	for i := 0; ; i++ {
		if out := fb.getStatus("/healthz"); out == 200 {
			break
		}
		if i > 400 {
			fail("fleet server did not start; see %s", logf.Name())
		}
		time.Sleep(25 * time.Millisecond)
	}

	deploy := func(pipeline string) time.Duration {
		var best time.Duration
		for range 3 {
			r := fb.waitRun(fb.trigger(pipeline, sha), 5*time.Minute)
			st := r.Stages[1]
			if d := st.FinishedAt.Sub(*st.StartedAt); best == 0 || d < best {
				best = d
			}
		}
		return best
	}
	one, rolling, all := deploy("one"), deploy("rolling"), deploy("all")
	ratio := func(d time.Duration) string {
		return fmt.Sprintf("%.2f× (%s vs %s)", float64(d)/float64(one), d.Round(time.Millisecond), one.Round(time.Millisecond))
	}
	report(fmt.Sprintf("deploy to %d ssh hosts rolling 25%%, over one host", fleetHosts), ratio(rolling), "≤ 4.5×")
	report(fmt.Sprintf("deploy to %d ssh hosts all at once, over one host", fleetHosts), ratio(all), "≤ 1.5×")
}

// getStatus returns the status of GET path, 0 if the server does not answer.
func (b *bench) getStatus(path string) int {
	resp, err := http.Get(b.url + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sshd is one running sshd of the fleet figures.
type sshd struct {
	*exec.Cmd
	port int
}

// startSSHDs starts n sshd on loopback ports sharing one host key, one
// client key and one known_hosts file (one line per port), as TESTING.md
// describes.
func startSSHDs(dir string, n int) []sshd {
	check(os.MkdirAll("/run/sshd", 0o755))
	run("", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host_key"))
	run("", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "client_key"))
	pub, err := os.ReadFile(filepath.Join(dir, "client_key.pub"))
	check(err)
	check(os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600))
	hostPub, err := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	check(err)
	var known strings.Builder
	var out []sshd
	for i := range n {
		port := freePort()
		conf := filepath.Join(dir, fmt.Sprintf("sshd_config.%d", i))
		check(os.WriteFile(conf, []byte(sshtest.Config(port, filepath.Join(dir, "host_key"),
			filepath.Join(dir, fmt.Sprintf("sshd.%d.pid", i)), filepath.Join(dir, "authorized_keys"))), 0o600))
		cmd := exec.Command("/usr/sbin/sshd", "-D", "-f", conf, "-E", filepath.Join(dir, fmt.Sprintf("sshd.%d.log", i)))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		check(cmd.Start())
		out = append(out, sshd{cmd, port})
		fmt.Fprintf(&known, "[127.0.0.1]:%d %s", port, hostPub)
	}
	check(os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(known.String()), 0o600))
	for _, h := range out {
		for i := 0; ; i++ {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.port))
			if err == nil {
				c.Close()
				break
			}
			if i > 400 {
				fail("sshd on port %d did not start", h.port)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	return out
}
