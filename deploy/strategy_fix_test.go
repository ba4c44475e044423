package deploy

import (
	"context"
	"strings"
	"testing"
)

// Without a health check nothing proves a kept blue-green group still runs
// its release (Retire may have stopped it): it is installed again, not
// switched to as it is.
func TestBlueGreenWithoutHealthReinstallsKeptGroup(t *testing.T) {
	t.Parallel()
	f, ngx := blueGreenFleet(t)
	d := New(nil)
	bg := func(release, version, active string) Request {
		req := f.blueGreen(t, ngx, release, version, active)
		req.Health = Health{}
		return req
	}
	if _, err := d.Deploy(context.Background(), bg("1", "v1", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deploy(context.Background(), bg("2", "v2", "blue")); err != nil {
		t.Fatal(err)
	}
	if err := d.Retire(context.Background(), RetireRequest{Release: "1", Group: "blue", Targets: bg("1", "v1", "").Targets}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1} {
		if _, err := answer(f.envs[i].port); err == nil {
			t.Fatalf("blue host %d still answers after Retire", i)
		}
	}
	res, err := d.Deploy(context.Background(), bg("1", "v1", "green"))
	if err != nil || res.Active != "blue" {
		t.Fatalf("back to blue: %+v, %v", res, err)
	}
	if strings.Contains(f.log.String(), "release 1 is already live and healthy here") {
		t.Errorf("a blue host was skipped without a health check:\n%s", f.log)
	}
	f.mustRun(t, []string{"1", "1", "2", "2"}, []string{"v1", "v1", "v2", "v2"})
	waitFor(t, ngx.URL, "v1")
}

// Retire leaves alone a group that runs another release by now: a later
// deploy went to it before the retirement came due.
func TestRetireSkipsGroupRunningAnotherRelease(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2)
	f.groups = []string{"blue", "green"}
	d := New(nil)
	deployAll(t, d, f)
	if _, err := d.Deploy(context.Background(), f.request(t, "3", "v3")); err != nil {
		t.Fatal(err)
	}
	err := d.Retire(context.Background(), RetireRequest{Release: "1", Group: "blue", Targets: f.request(t, "1", "v1").Targets, Log: f.log})
	if err != nil {
		t.Fatal(err)
	}
	log := f.log.String()
	if strings.Contains(log, "group blue retired") || !strings.Contains(log, "runs release 3, not 1: nothing to retire") {
		t.Errorf("retire of release 1 on a group running 3:\n%s", log)
	}
	f.mustRun(t, repeat("3", 2), repeat("v3", 2))
}
