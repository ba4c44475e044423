package source

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func benchOption(b *testing.B, steps func(g *Git, mirror, sha, dst string) error) {
	u := newUpstream(b)
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("pkg%d/file%d.go", i%5, i)] = strings.Repeat("// line\n", 40)
	}
	sha := u.commit(files, "small app")
	g := New(b.TempDir(), nil)
	if err := g.Ensure(ctx, u.dir, sha); err != nil {
		b.Fatal(err)
	}
	m := g.mirror(u.dir).dir
	root := b.TempDir()
	for i := 0; b.Loop(); i++ {
		if err := steps(g, m, sha, filepath.Join(root, fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
}

func co(g *Git, dst, sha string) error {
	_, err := g.run(ctx, "-C", dst, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha, "--")
	return err
}

func BenchmarkOptShared(b *testing.B) {
	benchOption(b, func(g *Git, m, sha, dst string) error {
		if _, err := g.run(ctx, "clone", "--shared", "--no-checkout", "--quiet", "--", m, dst); err != nil {
			return err
		}
		return co(g, dst, sha)
	})
}
func BenchmarkOptLocalHardlink(b *testing.B) {
	benchOption(b, func(g *Git, m, sha, dst string) error {
		if _, err := g.run(ctx, "clone", "--local", "--no-checkout", "--quiet", "--", m, dst); err != nil {
			return err
		}
		return co(g, dst, sha)
	})
}
func BenchmarkOptInitAlternates(b *testing.B) {
	benchOption(b, func(g *Git, m, sha, dst string) error {
		if _, err := g.run(ctx, "init", "--quiet", dst); err != nil {
			return err
		}
		os.WriteFile(filepath.Join(dst, ".git/objects/info/alternates"), []byte(m+"/objects\n"), 0o644)
		return co(g, dst, sha)
	})
}
func BenchmarkOptSharedReadTree(b *testing.B) {
	benchOption(b, func(g *Git, m, sha, dst string) error {
		if _, err := g.run(ctx, "clone", "--shared", "--no-checkout", "--quiet", "--", m, dst); err != nil {
			return err
		}
		if _, err := g.run(ctx, "-C", dst, "read-tree", "--reset", "-u", sha); err != nil {
			return err
		}
		_, err := g.run(ctx, "-C", dst, "update-ref", "--no-deref", "HEAD", sha)
		return err
	})
}
func BenchmarkOptArchive(b *testing.B) { // not a git checkout: lower bound only
	benchOption(b, func(g *Git, m, sha, dst string) error {
		os.MkdirAll(dst, 0o755)
		_, err := g.run(ctx, "--git-dir="+m, "archive", "--format=tar", "-o", dst+"/a.tar", sha)
		return err
	})
}
