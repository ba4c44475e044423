package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/store"
)

func artifactFile(t *testing.T, dir, body string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	sha := hex.EncodeToString(sum[:])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sha+".tar.gz"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return sha
}

func archive(t *testing.T, kind string) (data []byte, src string, shas []string) {
	t.Helper()
	src = t.TempDir()
	a := artifactFile(t, filepath.Join(src, "artifacts"), "first")
	b := artifactFile(t, filepath.Join(src, "artifacts"), "second")
	artifactFile(t, filepath.Join(src, "artifacts"), "not needed")
	db := ""
	if kind == "sqlite" {
		db = filepath.Join(src, "copy.db")
		os.WriteFile(db, []byte("database bytes"), 0o600)
	}
	var buf bytes.Buffer
	err := Write(&buf, Contents{Manifest: Manifest{Version: "test", CreatedAt: time.Unix(1, 0).UTC(), Database: kind,
		Artifacts: []string{a, b}}, DatabaseFile: db, ArtifactDir: filepath.Join(src, "artifacts"), AdminToken: []byte("tok")})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), src, []string{a, b}
}

func TestRoundTrip(t *testing.T) {
	data, _, shas := archive(t, "sqlite")
	dst := t.TempDir()
	os.WriteFile(filepath.Join(dst, "greenlight.lock"), nil, 0o600)
	m, err := Restore(bytes.NewReader(data), dst, "sqlite", "greenlight.lock")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Artifacts, shas) || !m.AdminToken || m.Version != "test" {
		t.Errorf("manifest %+v", m)
	}
	for name, want := range map[string]string{"greenlight.db": "database bytes", "admin-token": "tok",
		"artifacts/" + shas[0] + ".tar.gz": "first", "artifacts/" + shas[1] + ".tar.gz": "second"} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
		if st, err := os.Stat(filepath.Join(dst, name)); err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	left, _ := filepath.Glob(filepath.Join(dst, ".restore-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestRestoreRefuses(t *testing.T) {
	data, _, shas := archive(t, "sqlite")
	// corrupt: the second artifact's bytes changed in the archive
	corrupt := rewrite(t, data, func(name string, body []byte) (string, []byte) {
		if strings.Contains(name, shas[1]) {
			return name, []byte("SECOND")
		}
		return name, body
	})
	traversal := rewrite(t, data, func(name string, body []byte) (string, []byte) {
		if name == manifestName {
			var m Manifest
			json.Unmarshal(body, &m)
			m.Artifacts = append(m.Artifacts, "../../../tmp/evil")
			body, _ = json.Marshal(m)
		}
		return name, body
	})
	extra := rewrite(t, data, func(name string, body []byte) (string, []byte) {
		if name == adminTokenName {
			return "../escape", body
		}
		return name, body
	})
	missing := rewrite(t, data, func(name string, body []byte) (string, []byte) {
		if strings.Contains(name, shas[0]) {
			return "", nil
		}
		return name, body
	})
	for _, tc := range []struct {
		name, kind string
		data       []byte
		want       string
		full       bool
	}{
		{"digest", "sqlite", corrupt, "does not match its digest", false},
		{"path in manifest", "sqlite", traversal, "is not a SHA-256", false},
		{"unlisted entry", "sqlite", extra, "which its manifest does not list", false},
		{"missing artifact", "sqlite", missing, "is missing", false},
		{"other database", "postgres", data, "backup is of a sqlite database", false},
		{"not empty", "sqlite", data, "is not empty", true},
		{"garbage", "sqlite", []byte("hello"), "not a Greenlight backup", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			if tc.full {
				os.WriteFile(filepath.Join(dst, "greenlight.db"), []byte("live"), 0o600)
			}
			_, err := Restore(bytes.NewReader(tc.data), dst, tc.kind)
			if err == nil || !strings.Contains(greenlight.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			entries, _ := os.ReadDir(dst)
			if n := len(entries); (tc.full && n != 1) || (!tc.full && n != 0) {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("a refused restore left %v", names)
			}
		})
	}
}

// rewrite rebuilds an archive with f applied to each entry ("" drops it).
func rewrite(t *testing.T, data []byte, f func(string, []byte) (string, []byte)) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	gw := gzip.NewWriter(&out)
	tw := tar.NewWriter(gw)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		var body bytes.Buffer
		body.ReadFrom(tr)
		name, b := f(h.Name, body.Bytes())
		if name == "" {
			continue
		}
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	gw.Close()
	return out.Bytes()
}

func TestWriteRefusesMissingArtifact(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, Contents{Manifest: Manifest{Database: "postgres",
		Artifacts: []string{strings.Repeat("a", 64)}}, ArtifactDir: t.TempDir()})
	if err == nil {
		t.Fatal("a backup without a listed artifact was written")
	}
}

func TestSnapshotWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 50; i++ {
		st.CreateRun(ctx, &greenlight.Run{Pipeline: "p", Status: greenlight.RunQueued, Trigger: greenlight.TriggerAPI, CreatedAt: time.Now()})
	}
	done := make(chan struct{})
	go func() { // the server goes on writing
		defer close(done)
		for i := 0; i < 200; i++ {
			st.CreateRun(ctx, &greenlight.Run{Pipeline: "p", Status: greenlight.RunQueued, Trigger: greenlight.TriggerAPI, CreatedAt: time.Now()})
		}
	}()
	copyDir := t.TempDir()
	if err := store.SnapshotSQLite(ctx, dir, filepath.Join(copyDir, "greenlight.db")); err != nil {
		t.Fatal(err)
	}
	<-done
	cp, err := store.Open(ctx, "", copyDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	runs, err := cp.Runs(ctx, greenlight.RunFilter{Limit: 1000})
	if err != nil || len(runs) < 50 || len(runs) > 250 {
		t.Fatalf("the copy holds %d runs (%v), want 50..250", len(runs), err)
	}
	if st, _ := os.Stat(filepath.Join(copyDir, "greenlight.db")); st.Mode().Perm() != 0o600 {
		t.Errorf("copy mode %v", st.Mode().Perm())
	}
}
