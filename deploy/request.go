package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

var releaseName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// validRelease refuses a release name that is not a plain directory name. A
// leading dot is refused too: it would make "..", hidden names, and names of
// our own in-progress directories (.tmp-…).
func validRelease(name string) error {
	if !releaseName.MatchString(name) || strings.HasPrefix(name, ".") || len(name) > 200 {
		return greenlight.Errorf(greenlight.EINVALID, "release name %q: want letters, digits, '.', '_' or '-', not starting with '.'", name)
	}
	return nil
}

// localDir returns a local target's directory as an absolute, clean path.
func localDir(dir string) (string, error) {
	if dir == "" {
		return "", greenlight.Errorf(greenlight.EINVALID, "deploy: a target has no directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("target %s: %w", dir, err)
	}
	return abs, nil
}

// verifyDigest checks the archive against its expected SHA-256 once, before
// any target is touched (unpacking checks again: the file could change).
func verifyDigest(archive, want string) error {
	if len(want) != sha256.Size*2 {
		return greenlight.Errorf(greenlight.EINVALID, "artifact digest %q is not a SHA-256 in hex", want)
	}
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("open artifact: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read artifact: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return greenlight.Errorf(greenlight.EINVALID, "artifact %s has SHA-256 %s, want %s: refusing to deploy it", filepath.Base(archive), got, want)
	}
	return nil
}
