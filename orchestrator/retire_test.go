package orchestrator

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// crashAfterCommit is a store whose writes outside a transaction fail
// (here: CreateRetirement), as if the server died right after the live
// release's transaction committed.
type crashAfterCommit struct {
	greenlight.Store
}

func (crashAfterCommit) CreateRetirement(context.Context, *greenlight.Retirement) error {
	return errors.New("the server is gone")
}

// TestRetirementWrittenWithLiveRelease: the old group's retirement is
// stored in the transaction that makes the new release live, so no write
// after that commit can lose it.
func TestRetirementWrittenWithLiveRelease(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, config.Strategy{Type: config.StrategyBlueGreen, KeepOld: time.Hour})
	f.env.Targets[0].Group, f.env.Targets[1].Group = "blue", "green"
	for i := range f.env.Targets {
		f.env.Targets[i].Env = map[string]string{"PORT": strconv.Itoa(8000 + i)} // never dialled
	}
	f.env.Router = &config.Router{Type: "command", Switch: "true"} // traffic is not what this test is about
	f.wrap = func(s greenlight.Store) greenlight.Store { return crashAfterCommit{s} }
	f.start()
	for _, v := range []string{"v1", "v2"} {
		if r := f.waitRun(f.deploy(v, greenlight.Hooks{}).ID); r.Status != greenlight.RunSucceeded {
			t.Fatalf("%s: %s %s; log:\n%s", v, r.Status, r.Error, f.stageLog(r.ID, "production"))
		}
	}
	hist := f.history()
	old := hist[1]
	rets, err := f.db.Retirements(context.Background(), "hello", "production")
	if err != nil {
		t.Fatal(err)
	}
	if len(rets) != 1 || rets[0].ReleaseID != old.ID || rets[0].Group != activeGroup(old) {
		t.Fatalf("retirements = %+v, want one of release %d's group %s", rets, old.ID, activeGroup(old))
	}
}
