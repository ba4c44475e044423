package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight/deploy/nginxtest"
)

// blueGreenFleet is two hosts in blue and two in green behind a real nginx
// whose upstream has every server, all down: nothing is live yet.
func blueGreenFleet(t testing.TB) (*fleet, *nginxtest.Server) {
	f := newFleet(t, 4)
	f.groups = []string{"blue", "blue", "green", "green"}
	ngx := nginxtest.Start(t, "app")
	return f, ngx
}

func (f *fleet) blueGreen(t testing.TB, ngx *nginxtest.Server, release, version, active string) Request {
	req := f.request(t, release, version)
	req.Strategy = Strategy{Type: BlueGreen}
	req.Router = nginxRouterFor(ngx)
	req.Active = active
	return req
}

func TestBlueGreenSwitchUnderLoad(t *testing.T) {
	t.Parallel()
	f, ngx := blueGreenFleet(t)
	d := New(nil)
	res, err := d.Deploy(context.Background(), f.blueGreen(t, ngx, "1", "v1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.Active != "blue" || len(res.Targets) != 2 || res.Targets[0].Target != f.envs[0].dir {
		t.Fatalf("first deploy: result %+v, want blue active and its two targets", res)
	}
	if _, err := os.Stat(filepath.Join(f.envs[2].dir, "current")); !os.IsNotExist(err) {
		t.Errorf("green was touched by the deploy to blue: %v", err)
	}
	waitFor(t, ngx.URL, "v1")

	l := startLoad(ngx.URL)
	res, err = d.Deploy(context.Background(), f.blueGreen(t, ngx, "2", "v2", "blue"))
	if err != nil {
		l.end()
		t.Fatal(err)
	}
	waitFor(t, ngx.URL, "v2")
	l.waitSeen(t, "v2")
	l.end()
	if res.Active != "green" {
		t.Errorf("active after the second deploy = %q, want green", res.Active)
	}
	if l.failed != 0 || l.answers["v1"] == 0 || l.answers["v2"] == 0 {
		t.Errorf("under load through the switch: %d ok %v, %d failed (first: %s); want none failed and both versions seen",
			l.ok, l.answers, l.failed, l.firstErr)
	}
	f.mustRun(t, []string{"1", "1", "2", "2"}, []string{"v1", "v1", "v2", "v2"})
	conf, _ := os.ReadFile(ngx.UpstreamFile)
	for i, want := range []string{" down;", " down;", " weight=1;", " weight=1;"} {
		if !strings.Contains(string(conf), "server "+f.server(i)+want) {
			t.Errorf("upstream file lacks %q:\n%s", "server "+f.server(i)+want, conf)
		}
	}

	// Going back to release 1: blue still runs it, so it is only switched.
	f.log.onWrite = nil
	res, err = d.Deploy(context.Background(), f.blueGreen(t, ngx, "1", "v1", "green"))
	if err != nil || res.Active != "blue" {
		t.Fatalf("back to blue: %+v, %v", res, err)
	}
	if n := strings.Count(f.log.String(), "release 1 is already live and healthy here"); n != 2 {
		t.Errorf("%d blue hosts skipped the install, want 2:\n%s", n, f.log)
	}
	waitFor(t, ngx.URL, "v1")

	// Retiring green stops its apps.
	pid := readPID(filepath.Join(f.envs[2].dir, "releases", "2", "app.pid"))
	err = d.Retire(context.Background(), retireOf(f.request(t, "2", "v2"), "green"))
	if err != nil {
		t.Fatal(err)
	}
	if pid == 0 || alive(pid) {
		t.Errorf("green's app (pid %d) still runs after Retire", pid)
	}
	if got := count(t, ngx.URL, 20); got["v1"] != 20 {
		t.Errorf("after retiring green: answers %v, want all v1", got)
	}
}

func TestBlueGreenUnhealthyIdleGroupSwitchesNothing(t *testing.T) {
	t.Parallel()
	f, ngx := blueGreenFleet(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), f.blueGreen(t, ngx, "1", "v1", "")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(ngx.UpstreamFile)
	f.fail[3] = "v2"
	res, err := d.Deploy(context.Background(), f.blueGreen(t, ngx, "2", "v2", "blue"))
	if err == nil || !strings.Contains(err.Error(), "hook start failed") {
		t.Fatalf("error = %v, want green's failed start", err)
	}
	if res.Active != "blue" || !res.RolledBack {
		t.Errorf("result = %+v, want blue still active and green rolled back", res)
	}
	after, _ := os.ReadFile(ngx.UpstreamFile)
	if string(after) != string(before) {
		t.Errorf("upstream file changed:\n%s\nwas:\n%s", after, before)
	}
	for _, i := range []int{2, 3} {
		if _, err := os.Stat(filepath.Join(f.envs[i].dir, "current")); !os.IsNotExist(err) {
			t.Errorf("green host %d keeps a current after the rollback: %v", i, err)
		}
	}
	if got := count(t, ngx.URL, 20); got["v1"] != 20 {
		t.Errorf("answers %v, want all v1", got)
	}
}

// nginx refuses the new upstream file (its test fails): the old file is put
// back, nginx is not reloaded, and the idle group is rolled back.
func TestBlueGreenBadNginxConfigRefused(t *testing.T) {
	t.Parallel()
	f, ngx := blueGreenFleet(t)
	d := New(nil)
	if _, err := d.Deploy(context.Background(), f.blueGreen(t, ngx, "1", "v1", "")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ngx.URL, "v1")
	before, _ := os.ReadFile(ngx.UpstreamFile)
	req := f.blueGreen(t, ngx, "2", "v2", "blue")
	// An upstream of another name leaves nginx.conf's proxy_pass to "app"
	// pointing at no upstream: `nginx -t` fails.
	req.Router.Upstream = "other"
	req.Parallel = 1 // one slot: the group's installs must not wait on each other
	res, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "test failed, nothing switched") || !strings.Contains(err.Error(), "host not found in upstream") {
		t.Fatalf("error = %v, want nginx's refusal", err)
	}
	if res.Active != "blue" {
		t.Errorf("active = %q, want blue", res.Active)
	}
	after, _ := os.ReadFile(ngx.UpstreamFile)
	if string(after) != string(before) {
		t.Errorf("upstream file not restored:\n%s\nwas:\n%s", after, before)
	}
	if n := strings.Count(f.log.String(), "$ "+ngx.ReloadCmd); n != 1 { // the first deploy's
		t.Errorf("nginx reloaded after the failed test:\n%s", f.log)
	}
	if got := count(t, ngx.URL, 20); got["v1"] != 20 {
		t.Errorf("answers %v, want all v1", got)
	}
	for i, e := range f.envs {
		want := map[bool]string{true: "1", false: ""}[i < 2]
		mustCurrent(t, e.dir, want)
	}
}
