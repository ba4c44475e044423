package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/deploy/nginxtest"
)

func TestUpstreamConf(t *testing.T) {
	got := upstreamConf("app", []weight{{"127.0.0.1:8081", 9}, {"127.0.0.1:8082", 1}, {"10.0.0.3:80", 0}})
	want := "# Written by Greenlight; changed on every deploy.\nupstream app {\n" +
		"    server 127.0.0.1:8081 weight=9;\n    server 127.0.0.1:8082 weight=1;\n    server 10.0.0.3:80 down;\n}\n"
	if got != want {
		t.Errorf("upstream file:\n%s\nwant:\n%s", got, want)
	}
}

func TestRouterCheck(t *testing.T) {
	tests := []struct {
		rt      Router
		wantErr string
	}{
		{rt: Router{Type: "nginx", UpstreamFile: "/etc/nginx/up.conf", Upstream: "app"}},
		{rt: Router{Type: "nginx", UpstreamFile: "up.conf", Upstream: "app"}, wantErr: "not an absolute path"},
		{rt: Router{Type: "nginx", UpstreamFile: "/up.conf", Upstream: "a b"}, wantErr: `upstream "a b"`},
		{rt: Router{Type: "command"}, wantErr: "no switch command"},
		{rt: Router{Type: "haproxy"}, wantErr: `unknown type "haproxy"`},
	}
	for _, tt := range tests {
		got, err := tt.rt.check()
		if tt.wantErr == "" {
			if err != nil || got.Test != "nginx -t" || got.Reload != "nginx -s reload" {
				t.Errorf("check(%+v) = %+v, %v; want defaults filled", tt.rt, got, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || greenlight.ErrorCode(err) != greenlight.EINVALID {
			t.Errorf("check(%+v) error = %v, want invalid %q", tt.rt, err, tt.wantErr)
		}
	}
}

func TestTrafficWeights(t *testing.T) {
	tests := []struct {
		n, live, pct int
		wantNew      int
		wantOld      int
	}{
		{n: 4, live: 1, pct: 10, wantNew: 1, wantOld: 3}, // 1/(1+3*3) = 10%
		{n: 2, live: 1, pct: 10, wantNew: 1, wantOld: 9},
		{n: 2, live: 1, pct: 50, wantNew: 1, wantOld: 1},
		{n: 3, live: 2, pct: 50, wantNew: 1, wantOld: 2}, // 2/(2+2) = 50%
		{n: 2, live: 2, pct: 100, wantNew: 1, wantOld: 0},
	}
	for _, tt := range tests {
		var got []weight
		dep := &deployment{router: routerFunc(func(ws []weight) { got = ws })}
		for i := range tt.n {
			r := &rollout{server: string(rune('a' + i))}
			if i < tt.live {
				r.outcome.Status = StatusLive
			}
			dep.rs = append(dep.rs, r)
		}
		if err := dep.setTraffic(context.Background(), tt.pct); err != nil {
			t.Fatal(err)
		}
		if got[0].Weight != tt.wantNew || (tt.live < tt.n && got[tt.n-1].Weight != tt.wantOld) {
			t.Errorf("%d%% on %d of %d hosts: weights %v, want new %d, old %d", tt.pct, tt.live, tt.n, got, tt.wantNew, tt.wantOld)
		}
	}
}

type routerFunc func([]weight)

func (f routerFunc) Set(_ context.Context, ws []weight) error { f(ws); return nil }

// nginxRouterFor is a Router steering s.
func nginxRouterFor(s *nginxtest.Server) *Router {
	return &Router{Type: RouterNginx, UpstreamFile: s.UpstreamFile, Upstream: s.Upstream, Test: s.TestCmd, Reload: s.ReloadCmd}
}

func TestCanaryTrafficThroughNginx(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 4)
	d := New(nil)
	deployAll(t, d, f)
	ngx := nginxtest.Start(t, "app", f.server(0), f.server(1), f.server(2), f.server(3))
	waitFor(t, ngx.URL, "v1")

	req := f.request(t, "2", "v2")
	req.Router = nginxRouterFor(ngx)
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{
		{Traffic: Amount{N: 10, Percent: true}, Bake: 200_000_000},
		{Traffic: Amount{N: 100, Percent: true}},
	}}
	var atTen map[string]int
	rec := &recorder{on: func(s TargetState) error {
		// The second step's first install: traffic is still at 10%.
		if s.Phase == PhaseInstalling && s.Target == f.envs[1].dir {
			waitFor(t, ngx.URL, "v2")
			atTen = count(t, ngx.URL, 100)
		}
		return nil
	}}
	req.Progress = rec.progress
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if atTen["v2"] < 1 || atTen["v2"] > 40 || atTen["v1"]+atTen["v2"] != 100 {
		t.Errorf("at the 10%% step, answers %v; want 1 to 40 of 100 from v2, none failed", atTen)
	}
	waitFor(t, ngx.URL, "v2")
	if got := count(t, ngx.URL, 100); got["v2"] != 100 {
		t.Errorf("after the 100%% step, answers %v; want all 100 from v2", got)
	}
	conf, _ := os.ReadFile(ngx.UpstreamFile)
	if strings.Count(string(conf), "weight=1;") != 4 {
		t.Errorf("upstream file at the end:\n%s\nwant 4 servers of weight 1", conf)
	}
}

func TestCanaryFailureRestoresWeights(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	f.fail[1] = "v2"
	d := New(nil)
	deployAll(t, d, f)
	out := filepath.Join(t.TempDir(), "weights")
	req := f.request(t, "2", "v2")
	req.Router = &Router{Type: RouterCommand, Switch: `echo "$GREENLIGHT_ENVIRONMENT $GREENLIGHT_WEIGHTS" >> ` + out}
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{
		{Traffic: Amount{N: 10, Percent: true}}, {Traffic: Amount{N: 100, Percent: true}}}}
	_, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "hook start failed") {
		t.Fatalf("error = %v, want the second host's start failure", err)
	}
	f.mustRun(t, repeat("1", 2), repeat("v1", 2))
	b, _ := os.ReadFile(out)
	a, c := f.server(0), f.server(1)
	want := "staging " + a + "=1," + c + "=9\n" + // 10%
		"staging " + a + "=1," + c + "=1\n" // restored
	if string(b) != want {
		t.Errorf("switch command saw:\n%s\nwant:\n%s", b, want)
	}
}

func TestCommandRouterLinearTraffic(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	d := New(nil)
	deployAll(t, d, f)
	out := filepath.Join(t.TempDir(), "weights")
	req := f.request(t, "2", "v2")
	req.Router = &Router{Type: RouterCommand, Switch: `echo "$GREENLIGHT_WEIGHTS" >> ` + out}
	req.Strategy = Strategy{Type: Linear, Step: Amount{N: 25, Percent: true}, Interval: 50_000_000}
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	f.mustRun(t, repeat("2", 2), repeat("v2", 2))
	b, _ := os.ReadFile(out)
	a, c := f.server(0), f.server(1)
	// 25%, 50% and 75% on one host of two (a step below 100% keeps an old
	// host), then 100% on both.
	want := a + "=1," + c + "=3\n" + a + "=1," + c + "=1\n" + a + "=3," + c + "=1\n" + a + "=1," + c + "=1\n"
	if string(b) != want {
		t.Errorf("switch command saw:\n%s\nwant:\n%s", b, want)
	}
}

func TestCommandRouterFailureFailsDeploy(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	d := New(nil)
	deployAll(t, d, f)
	req := f.request(t, "2", "v2")
	req.Router = &Router{Type: RouterCommand, Switch: `echo "balancer says no" >&2; exit 3`}
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{{Traffic: Amount{N: 50, Percent: true}}, {Hosts: Amount{N: 100, Percent: true}}}}
	_, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "balancer says no") {
		t.Fatalf("error = %v, want the switch command's message", err)
	}
	f.mustRun(t, repeat("1", 2), repeat("v1", 2))
}

// A PORT that is not a port never reaches the router's configuration.
func TestRouterServerMustBeHostPort(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	req := f.request(t, "1", "v1")
	req.Targets[1].Env["PORT"] = "8080 weight=1; include /etc/passwd"
	req.Router = &Router{Type: RouterCommand, Switch: "true"}
	req.Health = Health{}
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{{Traffic: Amount{N: 100, Percent: true}}}}
	_, err := New(nil).Deploy(context.Background(), req)
	if greenlight.ErrorCode(err) != greenlight.EINVALID || !strings.Contains(err.Error(), "is not a host and port") {
		t.Fatalf("error = %v, want the bad port refused", err)
	}
	if _, err := os.Stat(filepath.Join(f.envs[0].dir, "current")); !os.IsNotExist(err) {
		t.Errorf("a target was touched: %v", err)
	}
}

// A failed canary puts back nginx's upstream file exactly as the operator
// had it, not the weights the deploy would compute.
func TestCanaryFailureRestoresNginxFile(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	f.fail[1] = "v2"
	d := New(nil)
	deployAll(t, d, f)
	ngx := nginxtest.Start(t, "app", f.server(0), f.server(1))
	original := "# hand-tuned\nupstream app {\n    server " + f.server(0) + " weight=3;\n    server " + f.server(1) + ";\n}\n"
	if err := os.WriteFile(ngx.UpstreamFile, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	ngx.Reload(t)
	req := f.request(t, "2", "v2")
	req.Router = nginxRouterFor(ngx)
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{
		{Traffic: Amount{N: 10, Percent: true}}, {Traffic: Amount{N: 100, Percent: true}}}}
	if _, err := d.Deploy(context.Background(), req); err == nil {
		t.Fatal("deploy succeeded, want the second host's failure")
	}
	if !strings.Contains(f.log.String(), "upstream app: "+f.server(0)+"=1, "+f.server(1)+"=9") {
		t.Errorf("the 10%% weights were never set:\n%s", f.log)
	}
	got, _ := os.ReadFile(ngx.UpstreamFile)
	if string(got) != original {
		t.Errorf("upstream file after the rollback:\n%s\nwant:\n%s", got, original)
	}
	f.mustRun(t, repeat("1", 2), repeat("v1", 2))
	if got := count(t, ngx.URL, 40); got["v1"] != 40 {
		t.Errorf("answers %v, want all v1", got)
	}
}
