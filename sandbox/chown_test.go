package sandbox

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Chown hands over every entry of the tree, links as links, and nothing a
// link points at.
func TestChownFollowsNoLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing owners needs root")
	}
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "victim")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600)
	tree := filepath.Join(root, "release")
	os.MkdirAll(filepath.Join(tree, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(tree, "a", "b", "f"), []byte("y"), 0o644)
	os.Symlink(outside, filepath.Join(tree, "a", "to-dir"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(tree, "to-file"))
	id := Derived("test/chown")
	if err := Chown(tree, id); err != nil {
		t.Fatal(err)
	}
	owner := func(p string) uint32 {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Uid
	}
	for _, p := range []string{tree, filepath.Join(tree, "a"), filepath.Join(tree, "a", "b", "f"), filepath.Join(tree, "a", "to-dir"), filepath.Join(tree, "to-file")} {
		if got := owner(p); got != id.UID {
			t.Errorf("%s belongs to %d, want %d", p, got, id.UID)
		}
	}
	for _, p := range []string{outside, filepath.Join(outside, "secret")} {
		if got := owner(p); got != 0 {
			t.Errorf("%s, reached through a link, was handed over (owner %d)", p, got)
		}
	}
}
