package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// deployAll puts release 1 (v1) on every target of f, all at once.
func deployAll(t *testing.T, d *Deployer, f *fleet) {
	t.Helper()
	if _, err := d.Deploy(context.Background(), f.request(t, "1", "v1")); err != nil {
		t.Fatalf("first deploy: %v", err)
	}
}

// mustRun checks each target's current release and its app's answer.
func (f *fleet) mustRun(t *testing.T, release []string, version []string) {
	t.Helper()
	for i, e := range f.envs {
		mustCurrent(t, e.dir, release[i])
		waitAnswer(t, e.port, version[i])
	}
}

func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }

func TestRollingBatchesInOrder(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 5)
	d := New(nil)
	deployAll(t, d, f)
	req := f.request(t, "2", "v2")
	req.Strategy = Strategy{Type: Rolling, Batch: Amount{N: 40, Percent: true}} // 2 of 5
	rec := &recorder{}
	req.Progress = rec.progress
	res, err := d.Deploy(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	f.mustRun(t, repeat("2", 5), repeat("v2", 5))
	if len(res.Targets) != 5 || res.RolledBack {
		t.Errorf("result = %+v, want 5 live targets", res)
	}
	// Each batch is live before the next one starts installing.
	got := rec.phases(f)
	batches := [][]string{{"t0", "t1"}, {"t2", "t3"}, {"t4"}}
	pos := func(s string) int { return slices.Index(got, s) }
	for b := 1; b < len(batches); b++ {
		for _, prev := range batches[b-1] {
			for _, next := range batches[b] {
				if pos(prev+":live") < 0 || pos(next+":installing") < pos(prev+":live") {
					t.Errorf("%s installing before %s was live: %v", next, prev, got)
				}
			}
		}
	}
	if pos("t0:pending") != 0 || pos("t4:pending") != 4 {
		t.Errorf("phases = %v, want every target pending first", got)
	}
}

func TestRollingWithinMaxFailed(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 4)
	f.fail[2] = "v2"
	d := New(nil)
	deployAll(t, d, f)
	req := f.request(t, "2", "v2")
	req.Strategy = Strategy{Type: Rolling, Batch: Amount{N: 1}, MaxFailed: 1}
	res, err := d.Deploy(context.Background(), req)
	if err != nil {
		t.Fatalf("one failed host within max_failed 1: %v", err)
	}
	f.mustRun(t, []string{"2", "2", "1", "2"}, []string{"v2", "v2", "v1", "v2"})
	var statuses []string
	for _, o := range res.Targets {
		statuses = append(statuses, o.Status)
	}
	if want := []string{StatusLive, StatusLive, StatusRolledBack, StatusLive}; !slices.Equal(statuses, want) {
		t.Errorf("statuses = %v, want %v", statuses, want)
	}
	if !strings.Contains(res.Targets[2].Error, "hook start failed") {
		t.Errorf("failed host's error = %q, want the start hook's failure", res.Targets[2].Error)
	}
}

func TestRollingFailureInSecondBatchRollsBackAll(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 4)
	f.fail[3] = "v2"
	d := New(nil)
	deployAll(t, d, f)
	req := f.request(t, "2", "v2")
	req.Strategy = Strategy{Type: Rolling, Batch: Amount{N: 2}}
	req.Parallel = 1
	rec := &recorder{}
	req.Progress = rec.progress
	res, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "1 of 4 hosts failed (max_failed 0)") {
		t.Fatalf("error = %v, want the failed host past max_failed", err)
	}
	f.mustRun(t, repeat("1", 4), repeat("v1", 4))
	if !res.RolledBack {
		t.Error("result does not say it rolled back")
	}
	// The second batch is undone before the first, the last host first.
	got := rec.phases(f)
	var order []string
	for _, p := range got {
		if name, ok := strings.CutSuffix(p, ":rolling-back"); ok {
			order = append(order, name)
		}
	}
	if want := []string{"t3", "t2", "t1", "t0"}; !slices.Equal(order, want) {
		t.Errorf("rolled back in order %v, want %v (phases %v)", order, want, got)
	}
}

func TestProgressErrorRollsBack(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	d := New(nil)
	deployAll(t, d, f)
	req := f.request(t, "2", "v2")
	rec := &recorder{on: func(s TargetState) error {
		if s.Phase == PhaseLive {
			return errors.New("database is gone")
		}
		return nil
	}}
	req.Progress = rec.progress
	_, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "database is gone") {
		t.Fatalf("error = %v, want the Progress error", err)
	}
	f.mustRun(t, repeat("1", 2), repeat("v1", 2))
}

func TestParallelLimit(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3)
	req := f.request(t, "1", "v1")
	req.Parallel = 1
	var mu sync.Mutex
	installing, most := 0, 0
	req.Progress = func(s TargetState) error {
		mu.Lock()
		defer mu.Unlock()
		switch s.Phase {
		case PhaseInstalling:
			installing++
			most = max(most, installing)
		case PhaseLive:
			installing--
		}
		return nil
	}
	if _, err := New(nil).Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if most != 1 {
		t.Errorf("%d targets installing at once, want at most 1", most)
	}
}

func TestLinearHosts(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3)
	d := New(nil)
	deployAll(t, d, f)
	req := f.request(t, "2", "v2")
	req.Strategy = Strategy{Type: Linear, Step: Amount{N: 1}, Interval: 100_000_000}
	rec := &recorder{}
	req.Progress = rec.progress
	if _, err := d.Deploy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	f.mustRun(t, repeat("2", 3), repeat("v2", 3))
	got := rec.phases(f)[3:] // after the three pendings
	want := []string{"t0:installing", "t0:live", "t1:installing", "t1:live", "t2:installing", "t2:live"}
	if !slices.Equal(got, want) {
		t.Errorf("phases = %v, want %v", got, want)
	}
	if n := strings.Count(f.log.String(), "baking for 100ms"); n != 3 {
		t.Errorf("%d bake lines, want 3 (1 + 2 hosts baked before the last step):\n%s", n, f.log)
	}
}

func TestCanaryHostsBakeFailureRollsBack(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	d := New(nil)
	deployAll(t, d, f)
	req := f.request(t, "2", "v2")
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{
		{Hosts: Amount{N: 50, Percent: true}, Bake: 30_000_000_000}, {Hosts: Amount{N: 100, Percent: true}}}}
	// The canary's app dies during the bake.
	f.log.onWrite = func(s string) {
		if strings.Contains(s, "baking for") {
			pid := readPID(f.envs[0].dir + "/releases/2/app.pid")
			killProcess(pid)
		}
	}
	_, err := d.Deploy(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "failed while baking") {
		t.Fatalf("error = %v, want a health check failed while baking", err)
	}
	f.mustRun(t, repeat("1", 2), repeat("v1", 2))
	if strings.Contains(f.log.String(), "["+f.envs[1].dir+"] installing release 2") {
		t.Error("the second host was installed although the canary failed")
	}
}

func TestStrategyCheck(t *testing.T) {
	router := &Router{Type: RouterCommand, Switch: "true"}
	grouped := []Target{{Local: "/a", Group: "blue"}, {Local: "/b", Group: "green"}}
	tests := []struct {
		name    string
		req     Request
		wantErr string
	}{
		{name: "default", req: Request{}},
		{name: "unknown", req: Request{Strategy: Strategy{Type: "big-bang"}}, wantErr: `"big-bang" is unknown`},
		{name: "canary without steps", req: Request{Strategy: Strategy{Type: Canary}}, wantErr: "no steps"},
		{name: "canary traffic without router", req: Request{Strategy: Strategy{Type: Canary,
			Steps: []CanaryStep{{Traffic: Amount{N: 100, Percent: true}}}}}, wantErr: "needs a router"},
		{name: "canary step with both", req: Request{Router: router, Strategy: Strategy{Type: Canary,
			Steps: []CanaryStep{{Hosts: Amount{N: 1}, Traffic: Amount{N: 100, Percent: true}}}}}, wantErr: "one of them"},
		{name: "linear without step", req: Request{Strategy: Strategy{Type: Linear}}, wantErr: "step must be"},
		{name: "blue-green without router", req: Request{Targets: grouped, Strategy: Strategy{Type: BlueGreen}}, wantErr: "needs a router"},
		{name: "blue-green one group", req: Request{Router: router, Targets: grouped[:1], Strategy: Strategy{Type: BlueGreen}}, wantErr: "at least two groups"},
		{name: "blue-green unknown active", req: Request{Router: router, Targets: grouped, Active: "red", Strategy: Strategy{Type: BlueGreen}}, wantErr: `active group "red"`},
		{name: "blue-green", req: Request{Router: router, Targets: grouped, Active: "green", Strategy: Strategy{Type: BlueGreen}}},
	}
	for _, tt := range tests {
		s, err := tt.req.Strategy.check(&tt.req)
		if tt.wantErr == "" {
			if err != nil || s.Type == "" || s.Batch.N != 1 {
				t.Errorf("%s: %+v, %v; want defaults filled", tt.name, s, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestAmountCount(t *testing.T) {
	tests := []struct {
		a    Amount
		n    int
		want int
	}{
		{Amount{N: 25, Percent: true}, 4, 1},
		{Amount{N: 25, Percent: true}, 5, 2}, // rounded up
		{Amount{N: 1, Percent: true}, 3, 1},  // at least one
		{Amount{N: 100, Percent: true}, 3, 3},
		{Amount{N: 2}, 5, 2},
		{Amount{N: 9}, 5, 5}, // at most all
	}
	for _, tt := range tests {
		if got := tt.a.count(tt.n); got != tt.want {
			t.Errorf("%+v of %d hosts = %d, want %d", tt.a, tt.n, got, tt.want)
		}
	}
}

func TestKeepReleases(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1)
	d := New(nil)
	for i := range 4 {
		req := f.request(t, strconv.Itoa(i+1), "v"+strconv.Itoa(i+1))
		req.Keep = 2
		if _, err := d.Deploy(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(f.envs[0].dir, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"3", "4"}) {
		t.Errorf("releases kept: %v, want [3 4]", names)
	}
}

// Cancelling a canary during its bake rolls the canary back and puts the
// router's weights back.
func TestCanaryCancelledWhileBaking(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	d := New(nil)
	deployAll(t, d, f)
	out := filepath.Join(t.TempDir(), "weights")
	req := f.request(t, "2", "v2")
	req.Router = &Router{Type: RouterCommand, Switch: `echo "$GREENLIGHT_WEIGHTS" >> ` + out}
	req.Strategy = Strategy{Type: Canary, Steps: []CanaryStep{
		{Traffic: Amount{N: 10, Percent: true}, Bake: time.Hour}, {Traffic: Amount{N: 100, Percent: true}}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.log.onWrite = func(s string) {
		if strings.Contains(s, "baking for 1h") {
			cancel()
		}
	}
	res, err := d.Deploy(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "cancelled while baking") || !res.RolledBack {
		t.Fatalf("deploy = %+v, %v; want cancelled and rolled back", res, err)
	}
	f.mustRun(t, repeat("1", 2), repeat("v1", 2))
	b, _ := os.ReadFile(out)
	want := f.server(0) + "=1," + f.server(1) + "=9\n" + f.server(0) + "=1," + f.server(1) + "=1\n"
	if string(b) != want {
		t.Errorf("switch command saw %q, want the 10%% weights then the previous ones: %q", b, want)
	}
}
