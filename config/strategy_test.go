package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The valid golden example decodes to these values.
func TestStrategiesDecoded(t *testing.T) {
	raw, err := os.ReadFile("testdata/server/strategies-valid.txt")
	if err != nil {
		t.Fatal(err)
	}
	input, _, _ := strings.Cut(string(raw), wantMarker)
	s, err := Parse("greenlight.yml", []byte(input), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	envs := s.Pipelines[0].Environments
	tests := []struct {
		env  string
		got  any
		want any
	}{
		{"rolling", envs["rolling"].Strategy, Strategy{Type: StrategyRolling, Batch: Amount{N: 25, Percent: true}, MaxFailed: 1}},
		{"rolling keep, parallel", [2]int{envs["rolling"].Keep, envs["rolling"].Parallel}, [2]int{3, 2}},
		{"canary-hosts", envs["canary-hosts"].Strategy, Strategy{Type: StrategyCanary, Batch: Amount{N: 1}, Steps: []CanaryStep{
			{Hosts: Amount{N: 1}, Bake: 5 * time.Minute}, {Hosts: Amount{N: 100, Percent: true}}}}},
		{"canary-traffic", envs["canary-traffic"].Strategy.Steps, []CanaryStep{
			{Traffic: Amount{N: 10, Percent: true}, Bake: 5 * time.Minute},
			{Traffic: Amount{N: 50, Percent: true}, Bake: 5 * time.Minute},
			{Traffic: Amount{N: 100, Percent: true}}}},
		{"canary-traffic router", envs["canary-traffic"].Router, &Router{Type: "nginx",
			UpstreamFile: "/etc/nginx/conf.d/hello-upstream.conf", Upstream: "hello", Reload: "nginx -s reload", Test: "nginx -t"}},
		{"linear", envs["linear"].Strategy, Strategy{Type: StrategyLinear, Batch: Amount{N: 1}, Step: Amount{N: 1}, Interval: 2 * time.Minute}},
		{"linear-traffic router", envs["linear-traffic"].Router, &Router{Type: "command", Switch: "/usr/local/bin/set-weights"}},
		{"blue-green strategy", envs["blue-green"].Strategy, Strategy{Type: StrategyBlueGreen, Batch: Amount{N: 1}, KeepOld: 10 * time.Minute}},
		{"blue-green groups", envs["blue-green"].Groups, []string{"blue", "green"}},
		{"blue-green target groups", []string{envs["blue-green"].Targets[0].Group, envs["blue-green"].Targets[3].Group}, []string{"blue", "green"}},
		{"blue-green router", envs["blue-green"].Router, &Router{Type: "nginx", UpstreamFile: "/etc/nginx/conf.d/hello-bg.conf",
			Upstream: "hello_bg", Test: "sudo nginx -t", Reload: "sudo systemctl reload nginx"}},
		{"blue-green health", envs["blue-green"].Health, Health{URL: "http://{host}:{env.PORT}/healthz", Body: `"status":\s*"ok"`,
			Command: "./bin/selfcheck", Timeout: time.Minute, Passes: 3, Interval: 2 * time.Second}},
		{"short", envs["short"].Strategy, Strategy{Type: StrategyRolling, Batch: Amount{N: 1}}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.env, tt.got, tt.want)
		}
	}
	if n := len(envs["blue-green"].Targets); n != 4 {
		t.Errorf("blue-green has %d targets, want 4", n)
	}
}
