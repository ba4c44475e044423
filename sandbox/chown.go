package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Chown gives the tree at dir to id without following any link in it. It
// goes down by descriptors (openat with O_NOFOLLOW, fchownat without
// following), so code of that uid that is running meanwhile and swaps a
// directory of the tree for a link cannot turn the walk onto files outside
// it; the top directory is handed over last, once nothing below is left to
// swap under the server's feet.
func Chown(dir string, id Identity) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := chownBelow(fd, dir, id, 0); err != nil {
		return err
	}
	if err := unix.Fchown(fd, int(id.UID), int(id.GID)); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	return nil
}

// chownDepth bounds the tree: each level holds a descriptor.
const chownDepth = 512

func chownBelow(fd int, name string, id Identity, depth int) error {
	if depth > chownDepth {
		return fmt.Errorf("chown %s: directories nested more than %d deep", name, chownDepth)
	}
	dup, err := unix.Dup(fd)
	if err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	f := os.NewFile(uintptr(dup), name)
	defer f.Close()
	for {
		entries, rerr := f.ReadDir(1024)
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() {
				sub, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				switch {
				case errors.Is(err, syscall.ENOENT):
					continue
				case errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR):
					// Swapped for a link or a file since it was listed:
					// hand over the entry itself, never what it points at.
				case err != nil:
					return fmt.Errorf("chown %s/%s: %w", name, n, err)
				default:
					err = chownBelow(sub, name+"/"+n, id, depth+1)
					if err == nil {
						err = unix.Fchown(sub, int(id.UID), int(id.GID))
					}
					unix.Close(sub)
					if err != nil {
						return err
					}
					continue
				}
			}
			if err := unix.Fchownat(fd, n, int(id.UID), int(id.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("chown %s/%s: %w", name, n, err)
			}
		}
		if rerr == io.EOF || len(entries) == 0 {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("chown %s: %w", name, rerr)
		}
	}
}
