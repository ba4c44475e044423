package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight/artifact"
)

func TestCurrent(t *testing.T) {
	dir := t.TempDir()
	mustCurrent(t, dir, "")
	h := &localHost{dir: dir}
	for _, rel := range []string{"1", "2", ""} {
		if err := h.Switch(context.Background(), rel); err != nil {
			t.Fatal(err)
		}
		mustCurrent(t, dir, rel)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	if _, err := Current(dir); err == nil || !strings.Contains(err.Error(), "points outside its releases") {
		t.Errorf("Current with current -> /etc: %v, want an error", err)
	}
}

func TestSwitchLeavesNoTempLinks(t *testing.T) {
	dir := t.TempDir()
	h := &localHost{dir: dir}
	for range 3 {
		if err := h.Switch(context.Background(), "9"); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "current" {
		t.Errorf("target dir holds %v, want only current", entries)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "current")); target != "releases/9" {
		t.Errorf("current -> %q, want the relative releases/9", target)
	}
}

// Prune orders by install time, keeps the newest, never the protected ones,
// and clears installs cut off before their rename.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	h := &localHost{dir: dir}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Names that sort differently from their install order.
	order := []string{"10", "9", "b", "a", "old-live", "x"}
	for i, name := range order {
		rd := filepath.Join(dir, "releases", name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Hour)
		if name == "old-live" {
			at = base.Add(-time.Hour) // the oldest of all
		}
		if err := writeInfo(rd, releaseInfo{Release: name, InstalledAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "releases", ".tmp-11-abc"), 0o755)
	os.MkdirAll(filepath.Join(dir, "releases", ".unpack-123"), 0o755)

	if err := h.Prune(context.Background(), 3, "x", "old-live"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "releases"))
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	if want := []string{"a", "b", "old-live", "x"}; !slices.Equal(got, want) {
		t.Errorf("after prune: %v, want %v", got, want)
	}
}

// An interrupted earlier attempt of the same release is replaced, not merged.
func TestInstallReplacesLeftover(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "releases", "5")
	os.MkdirAll(stale, 0o755)
	os.WriteFile(filepath.Join(stale, "half-written"), []byte("x"), 0o644)
	archive, digest := makeArchive(t, map[string]string{"VERSION": "v5"})
	h := &localHost{dir: dir, unpack: artifact.Unpack}
	if err := h.Install(context.Background(), archive, releaseInfo{Release: "5", Artifact: digest}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(stale, "half-written")); !os.IsNotExist(err) {
		t.Errorf("leftover file survived the install (stat: %v)", err)
	}
	if b, err := os.ReadFile(filepath.Join(stale, "VERSION")); err != nil || string(b) != "v5" {
		t.Errorf("VERSION = %q, %v; want v5", b, err)
	}
	if _, ok, err := h.Info(context.Background(), "5"); !ok || err != nil {
		t.Errorf("release info not stored: %v, %v", ok, err)
	}
}
