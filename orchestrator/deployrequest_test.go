package orchestrator

import (
	"reflect"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/deploy"
)

func TestDeployPlan(t *testing.T) {
	ssh := func(host string) *config.SSHTarget {
		return &config.SSHTarget{User: "deploy", Host: host, Port: 2222, Dir: "/srv/hello",
			Key: "/etc/greenlight/key", KnownHosts: "/etc/greenlight/known_hosts"}
	}
	dssh := func(host string) *deploy.SSHTarget {
		return &deploy.SSHTarget{User: "deploy", Host: host, Port: 2222, Dir: "/srv/hello",
			Key: "/etc/greenlight/key", KnownHosts: "/etc/greenlight/known_hosts"}
	}
	port := map[string]string{"PORT": "8080"}
	tests := []struct {
		name string
		env  config.Environment
		want deploy.Request
	}{{
		name: "one local target, all at once",
		env: config.Environment{Name: "staging", Targets: []config.Target{{Local: "/srv/staging", Env: port}},
			Strategy: config.Strategy{Type: config.StrategyAllAtOnce}, Parallel: 10,
			Health: config.Health{URL: "http://{host}:{env.PORT}/healthz", Body: "^ok", Command: "test -f ready",
				Timeout: 30 * time.Second, Passes: 2, Interval: time.Second}},
		want: deploy.Request{Environment: "staging", Targets: []deploy.Target{{Local: "/srv/staging", Env: port}},
			Strategy: deploy.Strategy{Type: deploy.AllAtOnce}, Parallel: 10,
			Health: deploy.Health{URL: "http://{host}:{env.PORT}/healthz", Body: "^ok", Command: "test -f ready",
				Timeout: 30 * time.Second, Passes: 2, Interval: time.Second}},
	}, {
		name: "ssh and local targets, rolling",
		env: config.Environment{Name: "production", Parallel: 4, Keep: 3,
			Targets:  []config.Target{{SSH: ssh("web1"), Env: port}, {SSH: ssh("web2")}, {Local: "/srv/local"}},
			Strategy: config.Strategy{Type: config.StrategyRolling, Batch: config.Amount{N: 25, Percent: true}, MaxFailed: 1}},
		want: deploy.Request{Environment: "production", Parallel: 4, Keep: 3,
			Targets:  []deploy.Target{{SSH: dssh("web1"), Env: port}, {SSH: dssh("web2")}, {Local: "/srv/local"}},
			Strategy: deploy.Strategy{Type: deploy.Rolling, Batch: deploy.Amount{N: 25, Percent: true}, MaxFailed: 1}},
	}, {
		name: "canary by traffic through a command router",
		env: config.Environment{Name: "production", Targets: []config.Target{{Local: "/a"}, {Local: "/b"}},
			Strategy: config.Strategy{Type: config.StrategyCanary, Steps: []config.CanaryStep{
				{Traffic: config.Amount{N: 10, Percent: true}, Bake: 5 * time.Minute}, {Traffic: config.Amount{N: 100, Percent: true}}}},
			Router: &config.Router{Type: "command", Switch: "./switch.sh"}},
		want: deploy.Request{Environment: "production", Targets: []deploy.Target{{Local: "/a"}, {Local: "/b"}},
			Strategy: deploy.Strategy{Type: deploy.Canary, Steps: []deploy.CanaryStep{
				{Traffic: deploy.Amount{N: 10, Percent: true}, Bake: 5 * time.Minute}, {Traffic: deploy.Amount{N: 100, Percent: true}}}},
			Router: &deploy.Router{Type: "command", Switch: "./switch.sh"}},
	}, {
		name: "linear by hosts",
		env: config.Environment{Name: "production", Targets: []config.Target{{Local: "/a"}},
			Strategy: config.Strategy{Type: config.StrategyLinear, Step: config.Amount{N: 1}, Interval: 2 * time.Minute}},
		want: deploy.Request{Environment: "production", Targets: []deploy.Target{{Local: "/a"}},
			Strategy: deploy.Strategy{Type: deploy.Linear, Step: deploy.Amount{N: 1}, Interval: 2 * time.Minute}},
	}, {
		name: "blue-green groups behind nginx",
		env: config.Environment{Name: "production", Groups: []string{"blue", "green"},
			Targets:  []config.Target{{SSH: ssh("b1"), Group: "blue"}, {SSH: ssh("g1"), Group: "green"}},
			Strategy: config.Strategy{Type: config.StrategyBlueGreen, KeepOld: 10 * time.Minute},
			Router: &config.Router{Type: "nginx", UpstreamFile: "/etc/nginx/up.conf", Upstream: "hello",
				Reload: "nginx -s reload", Test: "nginx -t"}},
		want: deploy.Request{Environment: "production",
			Targets:  []deploy.Target{{SSH: dssh("b1"), Group: "blue"}, {SSH: dssh("g1"), Group: "green"}},
			Strategy: deploy.Strategy{Type: deploy.BlueGreen, KeepOld: 10 * time.Minute},
			Router: &deploy.Router{Type: "nginx", UpstreamFile: "/etc/nginx/up.conf", Upstream: "hello",
				Reload: "nginx -s reload", Test: "nginx -t"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deployPlan(&tt.env)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			// Target names agree, since stored states are found by name.
			for i, ct := range tt.env.Targets {
				if n := got.Targets[i].Name(); n != ct.Name() {
					t.Errorf("target %d: deploy name %q, config name %q", i, n, ct.Name())
				}
			}
		})
	}
}

// TestDeployPlanForgetsNothing: every setting of a fully configured
// environment reaches the deploy, so a key added to both config and deploy
// but not to deployPlan fails here.
func TestDeployPlanForgetsNothing(t *testing.T) {
	amount := config.Amount{N: 25, Percent: true}
	env := config.Environment{Name: "production", Groups: []string{"blue"}, Parallel: 3, Keep: 4,
		Targets: []config.Target{{SSH: &config.SSHTarget{User: "u", Host: "h", Port: 22, Dir: "/d", Key: "/k",
			KnownHosts: "/kh"}, Group: "blue", Env: map[string]string{"A": "b"}}},
		Strategy: config.Strategy{Type: "canary", Batch: amount, MaxFailed: 1, Step: amount, Interval: time.Minute,
			KeepOld: time.Hour, Steps: []config.CanaryStep{{Hosts: amount, Traffic: amount, Bake: time.Second}}},
		Router: &config.Router{Type: "nginx", UpstreamFile: "/f", Upstream: "u", Reload: "r", Test: "t", Switch: "s"},
		Health: config.Health{URL: "http://x", Body: "ok", Command: "true", Timeout: time.Second, Passes: 2, Interval: time.Second},
	}
	req := deployPlan(&env)
	nonZero(t, "Request", reflect.ValueOf(req), map[string]bool{
		// Not from the environment: the release, its run and the deploy's wiring.
		"Pipeline": true, "RunID": true, "Commit": true, "Release": true, "Archive": true, "Digest": true,
		"Hooks": true, "HookTimeout": true, "Log": true, "Active": true, "Progress": true, "Resume": true,
		"Target.Local": true, "Target.User": true, "Health.RequestTimeout": true,
	})
}

// nonZero fails for every exported field under v that is zero, unless skip
// names it (as Type.Field).
func nonZero(t *testing.T, path string, v reflect.Value, skip map[string]bool) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			t.Errorf("%s is nil", path)
			return
		}
		nonZero(t, path, v.Elem(), skip)
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("%s is empty", path)
			return
		}
		nonZero(t, path, v.Index(0), skip)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || skip[v.Type().Name()+"."+f.Name] || (path == "Request" && skip[f.Name]) {
				continue
			}
			nonZero(t, path+"."+f.Name, v.Field(i), skip)
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is not set from the environment", path)
		}
	}
}
