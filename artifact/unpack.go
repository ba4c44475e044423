package artifact

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// Unpack extracts the archive into dst, which must not exist or be an empty
// directory. The archive's SHA-256 must be wantSHA256, checked before
// anything is extracted (and again over the bytes actually extracted). It
// refuses the whole archive, leaving dst untouched, if any entry is absolute,
// contains "..", is a device, fifo or hard link, would be written through a
// symlink, or is a symlink resolving outside dst. Extraction goes to a temp
// directory beside dst, renamed into place only at the end.
func Unpack(archive, wantSHA256, dst string) error {
	if !ValidSHA(wantSHA256) {
		return greenlight.Errorf(greenlight.EINVALID, "artifact %q is not a SHA-256", wantSHA256)
	}
	f, err := os.Open(archive)
	if errors.Is(err, fs.ErrNotExist) {
		return greenlight.Errorf(greenlight.ENOTFOUND, "artifact %s not found", wantSHA256)
	}
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != wantSHA256 {
		return corrupt(wantSHA256)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}

	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".unpack-*")
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	h.Reset()
	if err := extract(io.TeeReader(f, h), tmp); err != nil {
		return err
	}
	// The hash covers the whole file, also what the tar reader did not need.
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != wantSHA256 {
		return corrupt(wantSHA256) // changed between the check and the extraction
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	// os.Rename never replaces a directory; an empty one can just go.
	if fi, err := os.Lstat(dst); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("unpack into %s: exists and is not a directory", dst)
		}
		if err := os.Remove(dst); err != nil {
			return fmt.Errorf("unpack into %s (must not exist or be empty): %w", dst, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("unpack into %s (must not exist or be empty): %w", dst, err)
	}
	done = true
	return nil
}

// extract writes the archive's entries under dir through an os.Root, so no
// operation can leave dir whatever the names, and checks every rule first.
func extract(r io.Reader, dir string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return greenlight.Errorf(greenlight.EINVALID, "artifact is not a gzip archive: %v", err)
	}
	defer zr.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(zr)
	kinds := map[string]byte{} // what this extraction made, by clean name
	var links []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return greenlight.Errorf(greenlight.EINVALID, "artifact is not a valid archive: %v", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue // "./": the destination itself
		}
		if err := checkEntry(hdr, name, kinds); err != nil {
			return err
		}
		if err := mkParents(root, name, kinds); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if kinds[name] == tar.TypeDir {
				continue // also implied by an earlier entry
			}
			err = root.Mkdir(name, 0o755)
		case tar.TypeReg:
			err = writeFile(root, name, hdr, tr)
		case tar.TypeSymlink:
			err = root.Symlink(hdr.Linkname, name)
			links = append(links, name)
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", name, err)
		}
		kinds[name] = hdr.Typeflag
	}
	// Lexically inside is not enough ("a/.." where a links to "."): resolve
	// every link for real now that all are in place. Dangling inside is fine.
	for _, l := range links {
		if _, err := root.Stat(l); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return greenlight.Errorf(greenlight.EINVALID, "archive entry %q: symlink resolves outside the destination", l)
		}
	}
	return nil
}

// entryName cleans an entry's name, or refuses it. "" means the root itself.
func entryName(raw string) (string, error) {
	if strings.HasPrefix(raw, "/") {
		return "", greenlight.Errorf(greenlight.EINVALID, "archive entry %q is absolute", raw)
	}
	if strings.ContainsRune(raw, 0) || strings.Contains(raw, `\`) {
		return "", greenlight.Errorf(greenlight.EINVALID, "archive entry %q has an invalid name", raw)
	}
	var parts []string
	for _, p := range strings.Split(raw, "/") {
		switch p {
		case "..":
			return "", greenlight.Errorf(greenlight.EINVALID, "archive entry %q contains \"..\"", raw)
		case "", ".":
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/"), nil
}

// checkEntry applies the rules that depend on the type and on what was
// already extracted.
func checkEntry(hdr *tar.Header, name string, kinds map[string]byte) error {
	bad := func(why string) error {
		return greenlight.Errorf(greenlight.EINVALID, "archive entry %q %s", hdr.Name, why)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
	case tar.TypeReg:
		// Sparse files expand holes into zeros: a tiny archive could fill
		// the disk. Pack never makes them.
		for k := range hdr.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse.") {
				return bad("is a sparse file")
			}
		}
	case tar.TypeSymlink:
		t := hdr.Linkname
		if t == "" || strings.ContainsRune(t, 0) {
			return bad("is a symlink without a valid target")
		}
		if path.IsAbs(t) {
			return bad(fmt.Sprintf("is a symlink to an absolute path (%s)", t))
		}
		if !filepath.IsLocal(path.Join(path.Dir(name), t)) {
			return bad(fmt.Sprintf("is a symlink pointing outside the destination (%s)", t))
		}
	case tar.TypeLink:
		return bad("is a hard link")
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return bad("is a device or fifo")
	default:
		return bad(fmt.Sprintf("has unsupported type %q", hdr.Typeflag))
	}
	if k, ok := kinds[name]; ok && !(k == tar.TypeDir && hdr.Typeflag == tar.TypeDir) {
		return bad("appears twice")
	}
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		switch kinds[dir] {
		case tar.TypeSymlink:
			return bad(fmt.Sprintf("would be written through symlink %q", dir))
		case tar.TypeReg:
			return bad(fmt.Sprintf("is under file %q", dir))
		}
	}
	return nil
}

// mkParents makes the directories above name that no entry made yet.
func mkParents(root *os.Root, name string, kinds map[string]byte) error {
	var missing []string
	for dir := path.Dir(name); dir != "." && kinds[dir] == 0; dir = path.Dir(dir) {
		missing = append(missing, dir)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := root.Mkdir(missing[i], 0o755); err != nil {
			return fmt.Errorf("unpack %s: %w", missing[i], err)
		}
		kinds[missing[i]] = tar.TypeDir
	}
	return nil
}

// writeFile creates a new file (never one that exists, nor through a link)
// with the exec bit of the header and none of its other mode bits.
func writeFile(root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	perm := fs.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The umask may have taken bits the archive asked for.
	return root.Chmod(name, perm)
}
