package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

func TestSSHRedeployKeepsLiveReleaseAndPrunes(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	archive, digest := makeArchive(t, map[string]string{"VERSION": "v"})
	d := New(nil)
	deploy := func(release string) {
		t.Helper()
		if _, err := d.Deploy(context.Background(), Request{
			Release: release, Archive: archive, Digest: digest, Targets: []Target{e.target()},
			Hooks: greenlight.Hooks{Start: "true"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	deploy("1")
	// A file the running app made: a redeploy of the live release keeps it.
	marker := filepath.Join(e.h.Dir, "releases", "1", "app.state")
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	deploy("1")
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("redeploying the live release replaced its directory: %v", err)
	}
	// A leftover of an install cut off mid-way is removed by the next prune.
	leftover := filepath.Join(e.h.Dir, "releases", ".tmp-9-abcdef")
	if err := os.MkdirAll(leftover, 0o755); err != nil {
		t.Fatal(err)
	}
	// Names that do not sort like their install order: prune goes by
	// installed_at, so 10 and 11 (newest) stay and 1..4 go.
	for _, r := range []string{"2", "3", "4", "5", "6", "7", "10", "11"} {
		deploy(r)
	}
	entries, err := os.ReadDir(filepath.Join(e.h.Dir, "releases"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		got = append(got, en.Name())
	}
	slices.SortFunc(got, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	if want := []string{"5", "6", "7", "10", "11"}; !slices.Equal(got, want) {
		t.Errorf("releases after 10 deploys = %v, want the newest five %v and no leftover", got, want)
	}
	mustCurrent(t, e.h.Dir, "11")
}

func TestSSHUnreachableHost(t *testing.T) {
	t.Parallel()
	e := newSSHEnv(t)
	e.h.Stop()
	archive, digest := makeArchive(t, map[string]string{"VERSION": "v"})
	res, err := New(nil).Deploy(context.Background(), Request{
		Release: "1", Archive: archive, Digest: digest, Targets: []Target{e.target()},
		Hooks: greenlight.Hooks{Start: "true"},
	})
	want := e.h.User + "@127.0.0.1:" + strconv.Itoa(e.h.Port) + ": connect: "
	if err == nil || !strings.Contains(err.Error(), want) || res.Targets[0].Status != StatusFailed {
		t.Fatalf("deploy = %+v, %v; want a failure containing %q", res, err, want)
	}
}
