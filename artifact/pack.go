package artifact

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// entry is one member of an archive, before it is written.
type entry struct {
	kind byte   // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	exec bool   // regular files: any exec bit set
	link string // symlinks: the relative target
}

// Pack bundles paths of the workspace into a stored archive and returns its
// digest and size. Each path is relative to the workspace, a trailing "/"
// saying it must be a directory. A path that is absolute, leaves the
// workspace, does not exist, or holds a symlink resolving outside the
// workspace is refused with an EINVALID error naming it; symlinks that stay
// inside are kept as symlinks.
func (s *Store) Pack(ctx context.Context, workspace string, paths []string) (greenlight.ArtifactRef, error) {
	var ref greenlight.ArtifactRef
	ws, err := filepath.Abs(workspace)
	if err == nil {
		ws, err = filepath.EvalSymlinks(ws)
	}
	if err != nil {
		return ref, greenlight.Errorf(greenlight.EINVALID, "workspace %q: %v", workspace, err)
	}
	root, err := os.OpenRoot(ws)
	if err != nil {
		return ref, fmt.Errorf("pack: %w", err)
	}
	defer root.Close()
	c := collector{ctx: ctx, root: root, ws: ws, entries: map[string]entry{}}
	for _, p := range paths {
		if err := c.add(p); err != nil {
			return ref, err
		}
	}
	names := make([]string, 0, len(c.entries))
	for n := range c.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return s.write(ctx, root, names, c.entries)
}

// write streams the archive to a temp file while hashing it, then renames
// it to its digest's name.
func (s *Store) write(ctx context.Context, root *os.Root, names []string, entries map[string]entry) (greenlight.ArtifactRef, error) {
	var ref greenlight.ArtifactRef
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return ref, fmt.Errorf("pack: %w", err)
	}
	tmp, err := os.CreateTemp(s.Dir, ".pack-*")
	if err != nil {
		return ref, fmt.Errorf("pack: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // fails harmlessly once renamed
	}()
	h := sha256.New()
	// flate emits small writes; the buffer turns them into few syscalls.
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, h), 256<<10)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	buf := make([]byte, 256<<10)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return ref, err
		}
		if err := writeEntry(tw, root, name, entries[name], buf); err != nil {
			return ref, err
		}
	}
	for _, c := range []io.Closer{tw, zw} {
		if err := c.Close(); err != nil {
			return ref, fmt.Errorf("pack: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return ref, fmt.Errorf("pack: %w", err)
	}
	// Durable before it has a name: a crash must not leave a truncated
	// archive under a valid digest.
	if err := tmp.Sync(); err != nil {
		return ref, fmt.Errorf("pack: %w", err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return ref, fmt.Errorf("pack: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return ref, fmt.Errorf("pack: %w", err)
	}
	ref = greenlight.ArtifactRef{SHA256: hex.EncodeToString(h.Sum(nil)), Size: fi.Size()}
	if err := os.Rename(tmp.Name(), s.Path(ref.SHA256)); err != nil {
		return greenlight.ArtifactRef{}, fmt.Errorf("pack: %w", err)
	}
	return ref, nil
}

func writeEntry(tw *tar.Writer, root *os.Root, name string, e entry, buf []byte) error {
	// Fixed mtime, owner and modes: the digest must depend on content alone.
	hdr := &tar.Header{Name: name, Typeflag: e.kind, ModTime: time.Unix(0, 0), Mode: 0o644}
	switch e.kind {
	case tar.TypeDir:
		hdr.Name, hdr.Mode = name+"/", 0o755
		return tw.WriteHeader(hdr)
	case tar.TypeSymlink:
		hdr.Linkname, hdr.Mode = e.link, 0o777
		return tw.WriteHeader(hdr)
	}
	f, err := root.Open(name)
	if err != nil {
		return fmt.Errorf("pack %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("pack %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return greenlight.Errorf(greenlight.EINVALID, "artifact path %q changed while packing", name)
	}
	if fi.Mode()&0o111 != 0 {
		hdr.Mode = 0o755
	}
	hdr.Size = fi.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("pack %s: %w", name, err)
	}
	n, err := io.CopyBuffer(tw, io.LimitReader(f, hdr.Size), buf)
	if err == nil && n != hdr.Size {
		err = greenlight.Errorf(greenlight.EINVALID, "artifact path %q changed while packing", name)
	}
	return err
}

// collector gathers the entries of the listed paths, checking each.
type collector struct {
	ctx     context.Context
	root    *os.Root
	ws      string // the workspace, absolute with symlinks resolved
	entries map[string]entry
}

func invalid(format string, args ...any) error {
	return greenlight.Errorf(greenlight.EINVALID, format, args...)
}

func (c *collector) add(p string) error {
	if p == "" {
		return invalid("artifact path is empty")
	}
	if path.IsAbs(p) || filepath.IsAbs(p) {
		return invalid("artifact path %q is absolute", p)
	}
	name := path.Clean(p)
	if !filepath.IsLocal(name) && name != "." {
		return invalid("artifact path %q leaves the workspace", p)
	}
	// Parents must be real directories: entries under a symlink would make
	// Unpack write through that link.
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		dir := strings.Join(parts[:i], "/")
		fi, err := c.root.Lstat(dir)
		if err != nil {
			return c.statErr(p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return invalid("artifact path %q goes through symlink %q; list the path it points to", p, dir)
		}
		c.entries[dir] = entry{kind: tar.TypeDir}
	}
	fi, err := c.root.Lstat(name)
	if err != nil {
		return c.statErr(p, err)
	}
	if strings.HasSuffix(p, "/") && !fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
		return invalid("artifact path %q is not a directory", p)
	}
	return c.walk(name, fi)
}

func (c *collector) statErr(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return invalid("artifact path %q does not exist", p)
	}
	return invalid("artifact path %q: %v", p, err)
}

func (c *collector) walk(name string, fi fs.FileInfo) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := c.linkTarget(name)
		if err != nil {
			return err
		}
		c.entries[name] = entry{kind: tar.TypeSymlink, link: target}
	case fi.Mode().IsRegular():
		c.entries[name] = entry{kind: tar.TypeReg, exec: fi.Mode()&0o111 != 0}
	case fi.IsDir():
		if name != "." {
			c.entries[name] = entry{kind: tar.TypeDir}
		}
		d, err := c.root.Open(name)
		if err != nil {
			return fmt.Errorf("pack %s: %w", name, err)
		}
		kids, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return fmt.Errorf("pack %s: %w", name, err)
		}
		for _, k := range kids {
			kfi, err := k.Info()
			if err != nil {
				return fmt.Errorf("pack %s: %w", name, err)
			}
			if err := c.walk(path.Join(name, k.Name()), kfi); err != nil {
				return err
			}
		}
	default:
		return invalid("artifact path %q is not a regular file, directory or symlink", name)
	}
	return nil
}

// linkTarget is the target to store for the symlink name: relative, and
// resolving inside the workspace. An absolute target inside the workspace is
// made relative, since the archive is unpacked elsewhere.
func (c *collector) linkTarget(name string) (string, error) {
	target, err := c.root.Readlink(name)
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", name, err)
	}
	if filepath.IsAbs(target) {
		rel, err := filepath.Rel(filepath.Join(c.ws, path.Dir(name)), target)
		if err != nil || !strings.HasPrefix(target, c.ws+"/") {
			return "", invalid("symlink %q points outside the workspace (%s)", name, target)
		}
		target = filepath.ToSlash(rel)
	}
	if !filepath.IsLocal(path.Join(path.Dir(name), target)) {
		return "", invalid("symlink %q points outside the workspace (%s)", name, target)
	}
	// Lexically inside is not enough ("a/.." where a is a link to "."):
	// the root resolves it for real and refuses any escape. A dangling link
	// that stays inside is harmless and kept.
	if _, err := c.root.Stat(path.Dir(name) + "/" + target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", invalid("symlink %q points outside the workspace (%s)", name, target)
	}
	return target, nil
}
