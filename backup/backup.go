// Package backup writes and reads Greenlight's backup archives (SPEC §15): a
// gzip-compressed tar holding a manifest, a consistent copy of the SQLite
// database (none for PostgreSQL, which is dumped with its own tools), the
// artifacts a restored server needs to go on — those of live releases, of
// each environment's rollback target and of unfinished runs — and the
// generated admin token. Logs, workspaces, caches and clones are not kept:
// a restored server shows runs without their logs and clones again.
//
// Restore writes only the names an archive may hold, refuses a data
// directory that already holds anything, and checks every artifact against
// its digest, so that a damaged or foreign archive is refused, not half
// restored.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/artifact"
)

// Format is the archive layout this package writes and reads.
const Format = 1

// Names inside an archive.
const (
	manifestName   = "greenlight-backup.json"
	databaseName   = "greenlight.db"
	adminTokenName = "admin-token"
	artifactPrefix = "artifacts/"
)

// Manifest describes an archive. It comes first in the archive.
type Manifest struct {
	Format     int       `json:"format"`
	Version    string    `json:"version"` // of the Greenlight that wrote it
	CreatedAt  time.Time `json:"created_at"`
	Database   string    `json:"database"` // "sqlite" (in the archive) or "postgres" (not in it)
	Artifacts  []string  `json:"artifacts"`
	AdminToken bool      `json:"admin_token"`
}

// Contents is what Write puts in an archive.
type Contents struct {
	Manifest     Manifest // Artifacts lists what to take from ArtifactDir
	DatabaseFile string   // the SQLite copy; "" for none (PostgreSQL)
	ArtifactDir  string   // where <sha256>.tar.gz files are
	AdminToken   []byte   // nil: none
}

// Write writes the archive to w. A listed artifact missing from ArtifactDir
// is an error: a backup without it could not deploy what it promises.
func Write(w io.Writer, c Contents) error {
	m := c.Manifest
	m.Format = Format
	m.AdminToken = c.AdminToken != nil
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := addBytes(tw, manifestName, body, m.CreatedAt); err != nil {
		return err
	}
	if c.DatabaseFile != "" {
		if err := addFile(tw, databaseName, c.DatabaseFile, m.CreatedAt); err != nil {
			return fmt.Errorf("database copy: %w", err)
		}
	}
	for _, sha := range m.Artifacts {
		if !artifact.ValidSHA(sha) {
			return fmt.Errorf("artifact %q is not a SHA-256", sha)
		}
		if err := addFile(tw, artifactPrefix+sha+".tar.gz", (&artifact.Store{Dir: c.ArtifactDir}).Path(sha), m.CreatedAt); err != nil {
			return fmt.Errorf("artifact %s: %w", sha, err)
		}
	}
	if c.AdminToken != nil {
		if err := addBytes(tw, adminTokenName, c.AdminToken, m.CreatedAt); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func addBytes(tw *tar.Writer, name string, b []byte, at time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: at, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func addFile(tw *tar.Writer, name, path string, at time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: at, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, io.LimitReader(f, st.Size()))
	return err
}

// ReadManifest reads an archive's manifest without restoring anything.
func ReadManifest(r io.Reader) (*Manifest, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, invalid("not a Greenlight backup (%v)", err)
	}
	tr := tar.NewReader(gz)
	return readManifest(tr)
}

func readManifest(tr *tar.Reader) (*Manifest, error) {
	h, err := tr.Next()
	if err != nil || h.Name != manifestName {
		return nil, invalid("not a Greenlight backup: it does not start with %s", manifestName)
	}
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, 16<<20)).Decode(&m); err != nil {
		return nil, invalid("backup manifest: %v", err)
	}
	if m.Format != Format {
		return nil, invalid("backup format %d; this Greenlight reads format %d", m.Format, Format)
	}
	for _, sha := range m.Artifacts {
		if !artifact.ValidSHA(sha) { // names files: never a path
			return nil, invalid("backup manifest: artifact %q is not a SHA-256", sha)
		}
	}
	return &m, nil
}

// Restore extracts the archive r into dataDir, which must hold nothing but
// the names in ignore (the data directory's lock). database is the kind of
// database the restored server will use; an archive of the other kind is
// refused. Files are written under temporary names and renamed into place
// only when everything was read and checked; on error nothing is left.
func Restore(r io.Reader, dataDir, database string, ignore ...string) (*Manifest, error) {
	if err := emptyDir(dataDir, ignore); err != nil {
		return nil, err
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, invalid("not a Greenlight backup (%v)", err)
	}
	tr := tar.NewReader(gz)
	m, err := readManifest(tr)
	if err != nil {
		return nil, err
	}
	if m.Database != database {
		return nil, invalid("the backup is of a %s database and the configuration uses %s", m.Database, database)
	}
	tmp, err := os.MkdirTemp(dataDir, ".restore-")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(tmp)
	want := map[string]bool{}
	for _, sha := range m.Artifacts {
		want[artifactPrefix+sha+".tar.gz"] = true
	}
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid("backup damaged: %v", err)
		}
		name := h.Name
		switch {
		case h.Typeflag != tar.TypeReg:
			return nil, invalid("backup holds %q, which is not a regular file", name)
		case seen[name]:
			return nil, invalid("backup holds %q twice", name)
		case name == databaseName && database == "sqlite",
			name == adminTokenName && m.AdminToken:
			if err := extract(tr, filepath.Join(tmp, name), ""); err != nil {
				return nil, err
			}
		case want[name]:
			sha := strings.TrimSuffix(strings.TrimPrefix(name, artifactPrefix), ".tar.gz")
			if err := os.MkdirAll(filepath.Join(tmp, "artifacts"), 0o700); err != nil {
				return nil, err
			}
			if err := extract(tr, filepath.Join(tmp, name), sha); err != nil {
				return nil, err
			}
		default:
			return nil, invalid("backup holds %q, which its manifest does not list", name)
		}
		seen[name] = true
	}
	for name := range want {
		if !seen[name] {
			return nil, invalid("backup damaged: %s is missing", name)
		}
	}
	if database == "sqlite" && !seen[databaseName] {
		return nil, invalid("backup damaged: the database is missing")
	}
	if m.AdminToken && !seen[adminTokenName] {
		return nil, invalid("backup damaged: the admin token is missing")
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(dataDir, e.Name())); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	return m, nil
}

// extract writes the current entry to path (0600), checking its SHA-256
// against sha unless sha is "".
func extract(r io.Reader, path, sha string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncFile(path)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", filepath.Base(path), err)
	}
	if sha != "" && hex.EncodeToString(h.Sum(nil)) != sha {
		return invalid("backup damaged: artifact %s does not match its digest", sha)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// emptyDir refuses a data directory that holds anything but ignore.
func emptyDir(dir string, ignore []string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return greenlight.Errorf(greenlight.ENOTFOUND, "data directory %s does not exist", dir)
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range entries {
		if !slices.Contains(ignore, e.Name()) {
			return greenlight.Errorf(greenlight.ECONFLICT,
				"data directory %s is not empty (it holds %s): restore only into an empty one", dir, e.Name())
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return greenlight.Errorf(greenlight.EINVALID, format, args...)
}
