package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Chown gives the tree at dir to id without following any link in it
// (WalkAt). The top directory is handed over last, once nothing below it is
// left for code of that uid, running meanwhile, to swap under the server's
// feet.
func Chown(dir string, id Identity) error {
	uid, gid := int(id.UID), int(id.GID)
	return WalkAt(dir, func(dirfd int, name string, fd int) error {
		var err error
		if fd >= 0 {
			err = unix.Fchown(fd, uid, gid)
		} else {
			err = unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("chown %s: %w", name, err)
		}
		return nil
	})
}

// WalkDepth bounds the trees WalkAt goes down: each level holds a
// descriptor.
const WalkDepth = 512

// WalkAt calls visit for every entry below dir and then for dir itself,
// children before their directory. It goes down by descriptors (openat with
// O_NOFOLLOW), so no path grows too long to follow and no link is followed,
// and code changing the tree meanwhile (swapping a directory for a link)
// cannot turn the walk onto files outside it. visit gets the descriptor of
// the entry's directory and its name, and, for a directory, its own open
// descriptor (-1 for anything else: a file, a link, a directory swapped for
// something else since it was listed). For dir itself dirfd is AT_FDCWD and
// name is dir. Entries that vanish meanwhile are skipped; a tree nested
// deeper than WalkDepth, or a directory that cannot be read, is an error.
func WalkAt(dir string, visit func(dirfd int, name string, fd int) error) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("walk %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := walkBelow(fd, dir, visit, 0); err != nil {
		return err
	}
	return visit(unix.AT_FDCWD, dir, fd)
}

func walkBelow(fd int, path string, visit func(dirfd int, name string, fd int) error, depth int) error {
	if depth >= WalkDepth {
		return fmt.Errorf("walk %s: directories nested more than %d deep", path, WalkDepth)
	}
	dup, err := unix.Dup(fd)
	if err != nil {
		return fmt.Errorf("walk %s: %w", path, err)
	}
	f := os.NewFile(uintptr(dup), path)
	defer f.Close()
	for {
		entries, rerr := f.ReadDir(1024)
		for _, e := range entries {
			n := e.Name()
			sub := -1
			if e.IsDir() {
				sub, err = unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				switch {
				case errors.Is(err, syscall.ENOENT):
					continue
				case errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR):
					sub = -1 // swapped since it was listed: the entry itself, never what it points at
				case err != nil:
					return fmt.Errorf("walk %s/%s: %w", path, n, err)
				}
			}
			if sub >= 0 {
				err = walkBelow(sub, path+"/"+n, visit, depth+1)
				if err == nil {
					err = visit(fd, n, sub)
				}
				unix.Close(sub)
			} else {
				err = visit(fd, n, -1)
			}
			if err != nil {
				return err
			}
		}
		if rerr == io.EOF || len(entries) == 0 {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("walk %s: %w", path, rerr)
		}
	}
}
