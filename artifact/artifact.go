// Package artifact keeps the bundles builds produce (SPEC §2): gzip-compressed
// tar archives named by the SHA-256 of their bytes, so the artifact that went
// to staging is provably the one that goes to production.
//
// Pack is deterministic (sorted entries, fixed times and owners, only the
// exec bit kept) so the same files give the same digest. Unpack checks the
// digest before extracting and refuses a whole archive that could write
// outside its destination, or leave a link pointing outside it.
package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/greenlight-cd/greenlight"
)

// Store keeps archives at Dir/<sha256>.tar.gz. Its methods are safe for
// concurrent use: archives are written to a temp file and renamed into place.
type Store struct{ Dir string }

// Path is where the archive of sha is, or would be. It is "" for anything
// that is not a SHA-256 in lowercase hex, so a path can never be steered
// out of Dir.
func (s *Store) Path(sha string) string {
	if !ValidSHA(sha) {
		return ""
	}
	return filepath.Join(s.Dir, sha+".tar.gz")
}

// Verify recomputes the digest of a stored archive: ENOTFOUND when it is
// missing, EINVALID when it no longer matches its name.
func (s *Store) Verify(sha string) error {
	if !ValidSHA(sha) {
		return greenlight.Errorf(greenlight.EINVALID, "artifact %q is not a SHA-256", sha)
	}
	got, _, err := fileDigest(s.Path(sha))
	if errors.Is(err, fs.ErrNotExist) {
		return greenlight.Errorf(greenlight.ENOTFOUND, "artifact %s not found", sha)
	}
	if err != nil {
		return fmt.Errorf("verify artifact %s: %w", sha, err)
	}
	if got != sha {
		return corrupt(sha)
	}
	return nil
}

func corrupt(sha string) error {
	return greenlight.Errorf(greenlight.EINVALID, "artifact %s is corrupt", sha)
}

// fileDigest is the SHA-256 (hex) and size of a file.
func fileDigest(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ValidSHA reports whether s names an archive: a SHA-256 in lowercase hex.
func ValidSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
