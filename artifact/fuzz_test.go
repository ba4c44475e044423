package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzUnpack feeds Unpack arbitrary tar streams (gzipped here, so the fuzzer
// mutates the tar structure rather than the compression) and checks that it
// never panics, never writes beside its destination, and never leaves a link
// that resolves outside it.
func FuzzUnpack(f *testing.F) {
	seeds := [][]tarEntry{
		{dir("a/"), file("a/b", "x"), link("a/c", "b")},
		{file("/abs", "x")},
		{file("../up", "x")},
		{link("l", "."), file("l/x", "x")},
		{link("s", "."), link("t", "s/..")},
		{link("l", "../../etc")},
		{{hdr: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "x"}}},
		{{hdr: tar.Header{Name: "p", Typeflag: tar.TypeFifo}}},
		{file("x", "1"), file("x", "2")},
	}
	for _, s := range seeds {
		f.Add(tarBytes(f, s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(raw)
		zw.Close()
		parent := t.TempDir()
		archive := filepath.Join(t.TempDir(), "a.tar.gz")
		if err := os.WriteFile(archive, gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(gz.Bytes())
		dst := filepath.Join(parent, "release")
		err := Unpack(archive, hex.EncodeToString(sum[:]), dst)

		ents, _ := os.ReadDir(parent)
		if len(ents) > 1 || (len(ents) == 1 && ents[0].Name() != "release") {
			t.Fatalf("Unpack (err %v) left %v beside the destination", err, ents)
		}
		if err != nil {
			if _, serr := os.Lstat(dst); serr == nil {
				t.Fatalf("refused unpack (%v) left the destination behind", err)
			}
			return
		}
		root, rerr := os.OpenRoot(dst)
		if rerr != nil {
			t.Fatal(rerr)
		}
		defer root.Close()
		walkErr := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return err
			}
			rel, _ := filepath.Rel(dst, p)
			if _, err := root.Stat(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("link %s resolves outside the destination: %v", rel, err)
			}
			return nil
		})
		if walkErr != nil {
			t.Fatal(walkErr)
		}
	})
}
