package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// workspace makes a build's checkout: files, an executable, links inside it.
func workspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	files := map[string]string{
		"dist/hello":          "#!/bin/sh\necho hello\n",
		"dist/static/app.css": "body{}",
		"deploy/start.sh":     "#!/bin/sh\n./hello\n",
		"src/main.go":         "package main",
	}
	for name, body := range files {
		p := filepath.Join(ws, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []string{"dist/hello", "deploy/start.sh"} {
		if err := os.Chmod(filepath.Join(ws, x), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustSymlink(t, "static/app.css", filepath.Join(ws, "dist/style.css"))
	mustSymlink(t, "../deploy", filepath.Join(ws, "dist/deploy"))
	mustSymlink(t, filepath.Join(ws, "dist/hello"), filepath.Join(ws, "dist/abs-inside"))
	return ws
}

func mustSymlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func TestPackUnpackRoundtrip(t *testing.T) {
	ws := workspace(t)
	s := &Store{Dir: t.TempDir()}
	ref, err := s.Pack(context.Background(), ws, []string{"dist/", "deploy/start.sh"})
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	fi, err := os.Stat(s.Path(ref.SHA256))
	if err != nil || fi.Size() != ref.Size {
		t.Fatalf("stored archive: %v, size %v, want %d", err, fi, ref.Size)
	}
	if err := s.Verify(ref.SHA256); err != nil {
		t.Errorf("Verify: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "releases", "12")
	if err := Unpack(s.Path(ref.SHA256), ref.SHA256, dst); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	wantFiles := map[string]string{
		"dist/hello":          "#!/bin/sh\necho hello\n",
		"dist/static/app.css": "body{}",
		"deploy/start.sh":     "#!/bin/sh\n./hello\n",
		"dist/style.css":      "body{}", // through the kept link
	}
	for name, want := range wantFiles {
		b, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	wantLinks := map[string]string{"dist/style.css": "static/app.css", "dist/deploy": "../deploy", "dist/abs-inside": "hello"}
	for name, want := range wantLinks {
		if got, err := os.Readlink(filepath.Join(dst, name)); err != nil || got != want {
			t.Errorf("link %s -> %q, %v; want %q", name, got, err, want)
		}
	}
	wantModes := map[string]os.FileMode{"dist/hello": 0o755, "deploy/start.sh": 0o755, "dist/static/app.css": 0o644, "dist": 0o755 | os.ModeDir, ".": 0o755 | os.ModeDir}
	for name, want := range wantModes {
		if fi, err := os.Lstat(filepath.Join(dst, name)); err != nil || fi.Mode() != want {
			t.Errorf("mode of %s = %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "src")); err == nil {
		t.Error("a path that was not listed was packed")
	}
}

func TestPackIsDeterministic(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	ws1, ws2 := workspace(t), workspace(t)
	// Different mtimes and creation order must not change the digest.
	if err := os.Chtimes(filepath.Join(ws2, "dist/hello"), time0(), time0()); err != nil {
		t.Fatal(err)
	}
	a, err := s.Pack(context.Background(), ws1, []string{"dist/", "deploy/"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Pack(context.Background(), ws2, []string{"deploy", "dist/", "dist/hello"})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("same files gave %v and %v", a, b)
	}
	if err := os.WriteFile(filepath.Join(ws2, "dist/hello"), []byte("changed"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := s.Pack(context.Background(), ws2, []string{"dist/", "deploy/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SHA256 == a.SHA256 {
		t.Error("different content gave the same digest")
	}
	if err := os.Chmod(filepath.Join(ws1, "deploy/start.sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := s.Pack(context.Background(), ws1, []string{"dist/", "deploy/"})
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA256 == a.SHA256 {
		t.Error("losing the exec bit did not change the digest")
	}
}

func TestPackRefuses(t *testing.T) {
	ws := workspace(t)
	outside := t.TempDir()
	mustSymlink(t, outside, filepath.Join(ws, "dist/escape"))
	mustSymlink(t, "../../etc", filepath.Join(ws, "deploy/up"))
	mustSymlink(t, ".", filepath.Join(ws, "self"))
	mustSymlink(t, "self/..", filepath.Join(ws, "tricky"))
	mustSymlink(t, "dist", filepath.Join(ws, "linkdir"))
	if err := os.Mkdir(filepath.Join(ws, "other"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, "/etc/passwd", filepath.Join(ws, "other/passwd"))
	s := &Store{Dir: t.TempDir()}
	tests := []struct {
		path string
		want string
	}{
		{"/etc", `"/etc" is absolute`},
		{"../x", `"../x" leaves the workspace`},
		{"dist/../../x", `leaves the workspace`},
		{"missing/", `"missing/" does not exist`},
		{"dist/hello/", `"dist/hello/" is not a directory`},
		{"dist/", `symlink "dist/escape" points outside`},
		{"deploy", `symlink "deploy/up" points outside`},
		{"tricky", `symlink "tricky" points outside`},
		{"other/", `symlink "other/passwd" points outside`},
		{"linkdir/hello", `goes through symlink "linkdir"`},
		{"", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := s.Pack(context.Background(), ws, []string{"src/", tt.path})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Pack(%q) = %v, want an error containing %q", tt.path, err, tt.want)
			}
			if code := greenlight.ErrorCode(err); code != greenlight.EINVALID {
				t.Errorf("code = %s, want %s", code, greenlight.EINVALID)
			}
		})
	}
	if ents, _ := os.ReadDir(s.Dir); len(ents) != 0 {
		t.Errorf("refused packs left files in the store: %v", ents)
	}
}

func TestVerifyAndUnpackRefuseTampered(t *testing.T) {
	ws := workspace(t)
	s := &Store{Dir: t.TempDir()}
	ref, err := s.Pack(context.Background(), ws, []string{"dist/"})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Path(ref.SHA256)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	want := "artifact " + ref.SHA256 + " is corrupt"
	if err := s.Verify(ref.SHA256); err == nil || err.Error() != want || greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Errorf("Verify = %v, want %q (invalid)", err, want)
	}
	dst := filepath.Join(t.TempDir(), "release")
	if err := Unpack(p, ref.SHA256, dst); err == nil || err.Error() != want {
		t.Errorf("Unpack = %v, want %q", err, want)
	}
	assertNothingExtracted(t, dst)

	if err := s.Verify(strings.Repeat("0", 64)); greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
		t.Errorf("Verify(missing) = %v, want not found", err)
	}
	if err := s.Verify("../../etc/passwd"); greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Errorf("Verify(bad sha) = %v, want invalid", err)
	}
	if got := s.Path("../x"); got != "" {
		t.Errorf("Path(../x) = %q, want empty", got)
	}
}

// tarEntry is one header of a hand-made archive; body for regular files.
type tarEntry struct {
	hdr  tar.Header
	body string
}

// writeArchive writes a tar.gz of entries and returns its path and digest.
func writeArchive(t testing.TB, dir string, entries []tarEntry) (string, string) {
	t.Helper()
	raw := tarBytes(t, entries)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	sum := sha256.Sum256(gz.Bytes())
	p := filepath.Join(dir, "a.tar.gz")
	if err := os.WriteFile(p, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, hex.EncodeToString(sum[:])
}

func tarBytes(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func file(name, body string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg}, body: body}
}

func link(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}}
}

func dir(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

func TestUnpackRefusesMalicious(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"absolute", []tarEntry{file("ok", "x"), file("/tmp/evil", "x")}, `"/tmp/evil" is absolute`},
		{"dotdot", []tarEntry{file("ok", "x"), file("../evil", "x")}, `"../evil" contains ".."`},
		{"dotdot inside", []tarEntry{file("a/../../evil", "x")}, `contains ".."`},
		{"char device", []tarEntry{file("ok", "x"), {hdr: tar.Header{Name: "tty", Typeflag: tar.TypeChar, Devmajor: 5}}}, `"tty" is a device or fifo`},
		{"block device", []tarEntry{{hdr: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}}}, `is a device or fifo`},
		{"fifo", []tarEntry{{hdr: tar.Header{Name: "p", Typeflag: tar.TypeFifo}}}, `"p" is a device or fifo`},
		{"hard link", []tarEntry{file("ok", "x"), {hdr: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}}, `"h" is a hard link`},
		{"absolute symlink", []tarEntry{link("l", "/etc/passwd")}, `"l" is a symlink to an absolute path`},
		{"escaping symlink", []tarEntry{dir("a/"), link("a/l", "../../x")}, `"a/l" is a symlink pointing outside`},
		{"write through symlink", []tarEntry{link("l", "."), file("l/x", "x")}, `"l/x" would be written through symlink "l"`},
		{"write through escaping chain", []tarEntry{link("s", "."), link("t", "s/.."), file("ok", "x")}, `"t": symlink resolves outside`},
		{"duplicate", []tarEntry{file("x", "1"), file("x", "2")}, `"x" appears twice`},
		{"file under file", []tarEntry{file("x", "1"), file("x/y", "2")}, `is under file "x"`},
		{"unsupported type", []tarEntry{{hdr: tar.Header{Name: "c", Typeflag: tar.TypeCont}}}, `"c" has unsupported type`},
		{"not gzip", nil, "not a gzip archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			p, sum := writeArchive(t, tmp, tt.entries)
			if tt.entries == nil {
				os.WriteFile(p, []byte("plain text"), 0o644)
				b := sha256.Sum256([]byte("plain text"))
				sum = hex.EncodeToString(b[:])
			}
			dst := filepath.Join(tmp, "out", "release")
			err := Unpack(p, sum, dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Unpack = %v, want an error containing %q", err, tt.want)
			}
			if code := greenlight.ErrorCode(err); code != greenlight.EINVALID {
				t.Errorf("code = %s, want invalid", code)
			}
			assertNothingExtracted(t, dst)
		})
	}
}

// assertNothingExtracted checks that dst does not exist and that its parent
// holds no leftover temp directory.
func assertNothingExtracted(t *testing.T, dst string) {
	t.Helper()
	if _, err := os.Lstat(dst); err == nil {
		t.Errorf("%s exists after a refused unpack", dst)
	}
	ents, _ := os.ReadDir(filepath.Dir(dst))
	for _, e := range ents {
		if e.Name() != filepath.Base(dst) && e.Name() != "a.tar.gz" {
			t.Errorf("leftover %s beside the destination", e.Name())
		}
	}
}

func TestUnpackAcceptsCommonArchives(t *testing.T) {
	tmp := t.TempDir()
	p, sum := writeArchive(t, tmp, []tarEntry{
		dir("./"), dir("./bin/"), file("./bin/app", "bin"), file("lib/deep/x.so", "so"),
		link("bin/lib", "../lib"), link("current", "bin/app"), link("dangling", "nope"), dir("lib/"),
	})
	dst := filepath.Join(tmp, "release")
	if err := os.Mkdir(dst, 0o755); err != nil { // an existing empty dst is fine
		t.Fatal(err)
	}
	if err := Unpack(p, sum, dst); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "bin/lib/deep/x.so")); err != nil || string(b) != "so" {
		t.Errorf("through the link: %q, %v", b, err)
	}
	if err := Unpack(p, sum, dst); err == nil {
		t.Error("Unpack into a non-empty dst succeeded")
	}
	if err := Unpack(p, strings.Repeat("a", 64), filepath.Join(tmp, "other")); greenlight.ErrorCode(err) != greenlight.EINVALID {
		t.Errorf("Unpack with the wrong digest = %v, want invalid", err)
	}
}

func time0() time.Time { return time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) }
