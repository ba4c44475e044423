package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"syscall"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/sandbox"
)

// Who the hooks of a local target run as, and inside what.
//
// Hooks are the repository's code: a commit on the deployed branch chooses
// them, so a local target's hooks must not reach what the server guards (its
// environment and memory, the data directory with the database and approval
// tokens, its configuration and keys) nor another environment's release or
// app. Three cases:
//
//   - `user: NAME` on the target: the hooks, and so the app they start, run
//     as that account (its uid, primary gid and supplementary groups), not
//     sandboxed: the OS account is the boundary the admin chose. Only a root
//     server can switch to it (or a server that already is that user).
//   - otherwise, with bwrap: inside bwrap with the host read-only, the
//     server's hidden paths empty, and only the release's own directory
//     writable; the network is shared (apps serve ports) and there is no PID
//     namespace and no --die-with-parent, so the app a start hook launches
//     outlives the hook and the server. A root server starts bwrap as root
//     (sandbox.RootArgs) and the hook drops, inside, to
//     sandbox.Derived(pipeline/environment), an unprivileged uid of that
//     environment's own (sandbox.DropTo); an unprivileged server runs bwrap
//     as itself in a new user namespace without capabilities (sandbox.Args;
//     its environments then share a uid).
//   - otherwise, without bwrap: unconfined, but a root server still drops to
//     the derived uid. An ERROR is logged once.
//
// A health check's `command` is written in the server's configuration, but
// it usually runs a file of the release (./bin/selfcheck), which the
// release's uid may even have rewritten: it runs exactly as the hooks do.
// Router commands (nginx -s reload) are the server's own and run as the
// server.
type hookUser struct {
	id      sandbox.Identity
	groups  []uint32 // supplementary groups; `user:` only
	home    string   // HOME of the hooks; "" = the release directory
	confine bool     // in bwrap (no `user:`, bwrap works here)
	drop    bool     // run as id, not as the server (the zero hookUser is the server itself, unconfined)
}

// credential is what a hook's process (bwrap, or the shell) starts with; nil
// keeps the server's uid.
func (u hookUser) credential() *syscall.Credential {
	if !u.drop {
		return nil
	}
	groups := u.groups
	if groups == nil {
		groups = []uint32{}
	}
	return &syscall.Credential{Uid: u.id.UID, Gid: u.id.GID, Groups: groups}
}

// hookUserFor decides who t's hooks run as in the deploys of pipeline to
// environment. An EINVALID error when t's `user:` cannot be used here.
func (d *Deployer) hookUserFor(t Target, pipeline, environment string) (hookUser, error) {
	euid := uint32(os.Geteuid())
	if t.User != "" {
		id, err := sandbox.Lookup(t.User)
		if err != nil {
			return hookUser{}, greenlight.Errorf(greenlight.EINVALID, "deploy: target %s: user %s: %v", t.Local, t.User, err)
		}
		if id.UID == euid {
			// Hooks of the server's own account would run unconfined with
			// the server's rights: its data directory, its database.
			return hookUser{}, greenlight.Errorf(greenlight.EINVALID,
				"deploy: target %s: user %s is the account the server runs as: its hooks would reach the server's database and keys; leave user out to run them confined", t.Local, t.User)
		}
		if euid != 0 && id.UID != euid {
			return hookUser{}, greenlight.Errorf(greenlight.EINVALID,
				"deploy: target %s: user %s: the server runs as %s, and only a server running as root can run hooks as another user",
				t.Local, t.User, sandbox.Self().Name)
		}
		u := hookUser{id: id, drop: id.UID != euid || id.GID != uint32(os.Getegid())}
		if pw, err := user.LookupId(strconv.FormatUint(uint64(id.UID), 10)); err == nil {
			u.home = pw.HomeDir
			gids, _ := pw.GroupIds()
			for _, g := range gids {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil {
					u.groups = append(u.groups, uint32(n))
				}
			}
		}
		return u, nil
	}
	u := hookUser{id: sandbox.Self()}
	if euid == 0 {
		u = hookUser{id: d.derived(pipeline, environment), drop: true}
	}
	u.confine = d.bwrapPath() != ""
	return u, nil
}

// derived is the uid of an environment's hooks: of its own per pipeline
// and environment, and per installation when Config.Instance is set.
func (d *Deployer) derived(pipeline, environment string) sandbox.Identity {
	// "deploy" keeps these apart from the builds' uids ("build"), whatever
	// the pipelines and environments are named.
	return sandbox.Derived(d.instance + "\x00deploy\x00" + pipeline + "\x00" + environment)
}

// bwrapPath finds and checks bwrap once, the way hooks would run in it; ""
// when it is missing or does not work here, which is logged once.
func (d *Deployer) bwrapPath() string {
	d.bwrapOnce.Do(func() {
		if d.sandbox == SandboxNone {
			d.log.Warn("deploy hook sandbox disabled: hooks of local targets are NOT isolated from the server's files")
			return
		}
		as := sandbox.Self()
		if sandbox.Root() {
			as = sandbox.Derived("greenlight/bwrap-check")
		}
		tools, err := sandbox.Find(as)
		if err != nil {
			d.log.Error("bwrap unavailable: deploy hooks of local targets are NOT isolated from the server's files and other environments; install bubblewrap",
				"err", err)
			return
		}
		d.tools = tools
	})
	return d.tools.Bwrap
}

// dropsInside reports whether u's hooks run in a bwrap started by root that
// changes to u's uid inside (the hook process itself starts as root then).
func (d *Deployer) dropsInside(u hookUser) bool {
	return u.confine && u.drop && d.tools.Setpriv != ""
}

// hookTmpSize bounds the private /tmp and /dev/shm of a confined hook and of
// the app it starts, which keeps them for as long as it runs.
const hookTmpSize = 512 << 20

// confinedArgs is the bwrap command line that runs command in dir (a real
// path) with only dir writable and hide made unreadable.
func (d *Deployer) confinedArgs(u hookUser, dir, command string) []string {
	hide := d.hide
	var args []string
	if d.dropsInside(u) {
		// Directories above the release that u could not pass are replaced
		// by empty ones; the mount points down to it are made passable.
		args = sandbox.RootArgs(hide, sandbox.Cover([]string{dir}, u.id, "/tmp"), hookTmpSize)
	} else {
		args = sandbox.Args(hide, hookTmpSize)
	}
	args[0] = d.tools.Bwrap
	args = append(args, sandbox.MountPoints(dir)...)
	args = append(args, "--bind", dir, dir, "--chdir", dir)
	// The empty mounts over hidden directories are made read-only last (the
	// release may have been bound inside one): a write there fails instead
	// of landing in a throwaway tmpfs, and the hook is told so.
	var dirs []string
	for _, h := range hide {
		if fi, err := os.Stat(h); err == nil && fi.IsDir() {
			dirs = append(dirs, h)
		}
	}
	for _, h := range dirs {
		if !sandbox.Inside(h, dirs) { // an outer one's mount covers it
			args = append(args, "--remount-ro", h)
		}
	}
	args = append(args, "--")
	if d.dropsInside(u) {
		args = append(args, sandbox.DropTo(d.tools.Setpriv, u.id)...)
	}
	return append(args, "/bin/sh", "-e", "-c", command)
}

// adopt gives dir (a release) to u when it belongs to the server: a release
// unpacked by an earlier version, or before the target's `user:` was set. A
// release of some other uid is refused: chowning a tree that another uid may
// still be changing could be turned onto files outside it.
func adopt(dir string, u hookUser) error {
	if !u.drop {
		return nil
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("release directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() {
		return errors.New("release directory: not a directory")
	}
	switch st.Uid {
	case u.id.UID:
		return nil
	case uint32(os.Geteuid()):
		if err := sandbox.Chown(dir, u.id); err != nil {
			return fmt.Errorf("give release directory to %s: %w", u.id.Name, err)
		}
		return nil
	}
	return fmt.Errorf("release directory %s belongs to uid %d, but hooks run as %s (uid %d) now: give it to them (chown -R) or remove the release",
		dir, st.Uid, u.id.Name, u.id.UID)
}

// The hook sandbox modes of Config.Sandbox.
const (
	SandboxAuto = "auto" // bwrap when it works here, otherwise none (logged as an error)
	SandboxNone = "none" // hooks run as plain processes (still as the derived uid when the server is root)
)
