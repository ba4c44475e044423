// Package sandbox is what the build runner and local deploy hooks share to
// confine repository code with bubblewrap: finding a bwrap that works, the
// arguments that hide the server's own files, and the unprivileged identity
// the code runs as.
//
// # The model
//
// Repository code (build steps, deploy hooks) is untrusted input, even on a
// protected branch. It runs inside bwrap with the host read-only and, above
// it, the server's data directory, config directory and key files replaced
// by empty mounts. It never runs with capabilities. When the server is
// root, bwrap is started by root with no capability but those to change
// uid (RootArgs), and the code then becomes an unprivileged uid (Identity:
// DropTo, or the build executor's own fork) with no_new_privs: it cannot
// undo a mount (they belong to root's namespaces), read a root-only file or
// signal the server. A user namespace would not do here: bwrap run by root
// maps the sandbox's uid to root outside, and every root-owned file would
// be the code's own. Directories above the paths the code must reach that
// its uid could not pass are covered (Cover, MountPoints). When the server
// is not root, bwrap runs as the server's uid in a new user namespace that
// cannot make more (Args), with every capability dropped.
//
// The package decides nothing about what a build or hook may do beyond
// that.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Identity is who sandboxed code runs as.
type Identity struct {
	UID, GID uint32
	Name     string // for messages: the user name, or the uid in decimal
}

// Root reports whether the server runs as root, and so must hand sandboxed
// code to another uid.
func Root() bool { return os.Geteuid() == 0 }

// Self is the server's own identity.
func Self() Identity {
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	name := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return Identity{UID: uid, GID: gid, Name: name}
}

// Lookup resolves a user name or a numeric uid. A numeric uid that has no
// passwd entry runs with the same number as its group.
func Lookup(name string) (Identity, error) {
	if name == "" {
		return Identity{}, errors.New("empty user name")
	}
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		id := Identity{UID: uint32(n), GID: uint32(n), Name: name}
		if u, err := user.LookupId(name); err == nil {
			if g, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
				id.GID = uint32(g)
			}
		}
		return id, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return Identity{}, fmt.Errorf("user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return Identity{}, fmt.Errorf("user %q: uid %q, gid %q", name, u.Uid, u.Gid)
	}
	return Identity{UID: uint32(uid), GID: uint32(gid), Name: name}, nil
}

// Derived is an unprivileged identity of its own for key (a pipeline and
// environment, say), so that code of different keys cannot signal or trace
// each other's processes. The uids lie in [DerivedBase, DerivedBase+DerivedSpan),
// far above the ranges distributions hand out to users, services and
// subordinate ids.
func Derived(key string) Identity {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	uid := DerivedBase + h%DerivedSpan
	return Identity{UID: uid, GID: uid, Name: strconv.FormatUint(uint64(uid), 10)}
}

// The range of Derived identities.
const (
	DerivedBase = 1_900_000_000
	DerivedSpan = 100_000_000
)

// Credential is what to start a process with to run it as id; nil when id is
// the server itself (no change of uid, which needs root).
func (id Identity) Credential() *syscall.Credential {
	if id.UID == uint32(os.Geteuid()) && id.GID == uint32(os.Getegid()) {
		return nil
	}
	return &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: []uint32{}}
}

// Tools are the programs a sandbox needs.
type Tools struct {
	Bwrap   string
	Setpriv string // only when the server is root: it changes uid inside
}

// Find looks bwrap (and, for root, setpriv) up on PATH and checks that a
// sandbox can be made here the way the server will make it: as root, a
// RootArgs sandbox that drops to as; otherwise an Args one (user namespaces
// may be disabled).
func Find(as Identity) (Tools, error) {
	var t Tools
	var err error
	if t.Bwrap, err = exec.LookPath("bwrap"); err != nil {
		return Tools{}, fmt.Errorf("bwrap not found on PATH: %w", err)
	}
	args := Args(nil, 0)
	if Root() {
		if t.Setpriv, err = exec.LookPath("setpriv"); err != nil {
			return Tools{}, fmt.Errorf("setpriv (util-linux) not found on PATH: %w", err)
		}
		args = append(RootArgs(nil, nil, 0), DropTo(t.Setpriv, as)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.Bwrap, append(args[1:], "/bin/true")...)
	cmd.Args[0] = "bwrap"
	cmd.Env = []string{}
	if out, err := cmd.CombinedOutput(); err != nil {
		return Tools{}, fmt.Errorf("bwrap does not work here as %s: %w: %s", as.Name, err, strings.TrimSpace(string(out)))
	}
	return t, nil
}

// Args is the start of a bwrap command line run as a uid other than root:
// the host read-only with fresh /dev and /proc, what hide lists made
// unreadable, and a new user namespace that cannot make more of them (so
// nothing inside gets capabilities that could undo the mounts), with its
// own IPC, UTS and cgroup namespaces. The network and PID namespaces are the
// caller's choice. tmpSize bounds the private /tmp and /dev/shm (0: no bound).
func Args(hide []string, tmpSize int64) []string {
	return append(base(hide, tmpSize), "--unshare-user", "--disable-userns", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
}

// RootArgs is Args for a bwrap started by root, whose code then runs as
// another uid (DropTo): no user namespace (it would map the code's uid to
// root outside, and so make every root-owned file its own), and no
// capability but the three that DropTo needs to change uid, which the
// change itself clears.
//
// cover lists directories (from Cover) to replace with an empty tmpfs before
// anything is hidden or bound: directories the code's uid could not pass
// through on the host, above the paths it must reach inside.
func RootArgs(hide, cover []string, tmpSize int64) []string {
	args := base(nil, tmpSize)
	for _, c := range cover {
		args = append(args, "--tmpfs", c)
	}
	args = append(args, HideArgs(hide)...)
	return append(args, "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP")
}

// DropTo is the command prefix, inside a RootArgs sandbox, that becomes id
// for good before it executes the rest: util-linux's setpriv, with no
// supplementary groups, an empty bounding set and no_new_privs, so no
// setuid program can give any of it back.
func DropTo(setpriv string, id Identity) []string {
	u, g := strconv.FormatUint(uint64(id.UID), 10), strconv.FormatUint(uint64(id.GID), 10)
	return []string{setpriv, "--reuid=" + u, "--regid=" + g, "--clear-groups", "--inh-caps=-all",
		"--bounding-set=-all", "--no-new-privs", "--"}
}

func base(hide []string, tmpSize int64) []string {
	args := []string{"bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"}
	for _, d := range []string{"/tmp", "/dev/shm"} {
		if tmpSize > 0 {
			args = append(args, "--size", strconv.FormatInt(tmpSize, 10))
		}
		args = append(args, "--perms", "1777", "--tmpfs", d)
	}
	return append(args, HideArgs(hide)...)
}

// HideArgs mounts an empty tmpfs over each hidden directory and /dev/null
// over each hidden file (a key, a known_hosts, the server's config). The
// binds are nodev, so opening a hidden file fails outright instead of
// reading as empty: the code sees that the file is withheld. Directories come
// first; a file inside a hidden directory is hidden already. bwrap cannot
// make a mount point on the read-only host, and a missing path has nothing
// to hide anyway.
func HideArgs(hide []string) []string {
	var dirs, files []string
	for _, h := range hide {
		fi, err := os.Stat(h)
		switch {
		case err != nil:
		case fi.IsDir():
			dirs = append(dirs, h)
		default:
			files = append(files, h)
		}
	}
	var args []string
	for _, d := range dirs {
		args = append(args, "--tmpfs", d)
	}
	for _, f := range files {
		if !Inside(f, dirs) {
			args = append(args, "--ro-bind", "/dev/null", f)
		}
	}
	return args
}

// Inside reports whether path lies in one of dirs.
func Inside(path string, dirs []string) bool {
	for _, d := range dirs {
		if d == "/" || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// RealPath makes p absolute and resolves its symlinks when it exists, so bwrap
// binds and a process's cwd agree on one path.
func RealPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

// MountPoints makes the directories above each of paths searchable where
// bwrap has to create them (inside a tmpfs: /tmp, a hidden or covered
// directory), before the paths are bound: bwrap makes them 0700 and root's,
// which code running as another uid could not pass. Directories that exist
// on the host are left as they are. Put it after the hiding and covering
// mounts and before the binds.
func MountPoints(paths ...string) []string {
	var args []string
	seen := map[string]bool{}
	for _, p := range paths {
		for _, d := range ancestors(p) {
			if !seen[d] {
				seen[d] = true
				args = append(args, "--perms", "0755", "--dir", d)
			}
		}
	}
	return args
}

// Cover lists, for a sandbox whose code runs as id and must reach paths,
// the topmost directories above them that id cannot search on the host
// (a data_dir under /root, a test's private temporary directory). Inside
// the sandbox each gets an empty tmpfs: the code loses nothing it could
// have read, and the mount points bwrap then makes for the paths are
// searchable. Directories inside covered ones (/tmp, which every sandbox
// gets fresh) need nothing.
func Cover(paths []string, id Identity, covered ...string) []string {
	var out []string
	for _, p := range paths {
		if p == "" || Inside(p, covered) || Inside(p, out) {
			continue
		}
		if d, _, _ := firstBlocked(p, id); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// ancestors lists the directories above p, from the top down, without "/".
func ancestors(p string) []string {
	var chain []string
	for d := filepath.Dir(p); p != "" && d != "/" && d != "."; d = filepath.Dir(d) {
		chain = append(chain, d)
	}
	slices.Reverse(chain)
	return chain
}

// firstBlocked is the topmost directory above p that id cannot search ("" if
// none), with its mode and owner; err when an ancestor cannot be read.
func firstBlocked(p string, id Identity) (dir string, fi fs.FileInfo, err error) {
	for _, d := range ancestors(p) {
		fi, err := os.Stat(d)
		if err != nil {
			return "", nil, err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && !searchable(fi.Mode(), st, id) {
			return d, fi, nil
		}
	}
	return "", nil, nil
}

// Reachable reports why id cannot get to dir on the host's paths (code run
// without bwrap, which cannot cover what id cannot pass): every directory
// above it must be searchable by id.
func Reachable(dir string, id Identity) error {
	d, fi, err := firstBlocked(dir, id)
	if err != nil || d == "" {
		return err
	}
	return fmt.Errorf("%s (mode %04o, owner %d) is not searchable by uid %d: give it o+x (chmod o+x %s), or move what lies below it to directories others may pass through",
		d, fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid, id.UID, d)
}

func searchable(m fs.FileMode, st *syscall.Stat_t, id Identity) bool {
	switch {
	case st.Uid == id.UID:
		return m&0o100 != 0
	case st.Gid == id.GID:
		return m&0o010 != 0
	}
	return m&0o001 != 0
}

// CloseInherited marks every descriptor from 3 up close-on-exec, so that a
// descriptor the process inherited from whatever started it (a shell's
// redirection, a supervisor's socket) never reaches the code it runs.
// Descriptors the process opens itself are close-on-exec already (Go opens
// them so), and those passed on purpose are duplicated at exec.
func CloseInherited() error {
	const sysCloseRange, closeRangeCloexec = 436, 1 << 2
	if _, _, e := syscall.RawSyscall(sysCloseRange, 3, ^uintptr(0), closeRangeCloexec); e != 0 {
		return fmt.Errorf("close_range: %w", e)
	}
	return nil
}

// NoDump makes the calling process non-dumpable: processes of the same uid
// can no longer read its memory or environment through /proc or attach to
// it with ptrace. The server calls it first thing.
func NoDump() error {
	const prSetDumpable = 4
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", e)
	}
	return nil
}
