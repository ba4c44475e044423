package deploy

import (
	"context"
	"crypto/rand"
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
	"syscall"
	"time"

	"github.com/greenlight-cd/greenlight/sandbox"
)

// Layout of a target directory:
//
//	<dir>/releases/<release>/                       one directory per release
//	<dir>/releases/<release>/.greenlight-release.json  its releaseInfo (hooks, run, commit)
//	<dir>/releases/.*                               an install in progress (no release name starts with a dot)
//	<dir>/current -> releases/<release>             the live release (relative symlink)
const (
	infoFile   = ".greenlight-release.json"
	tmpPrefix  = ".tmp-"
	currentRel = "current"
)

// localHost is a target directory on the server's own machine. The target
// directory, releases/ and `current` are the server's; each release
// directory belongs to the uid its hooks run as (hookuser.go), so a hook can
// write in its own release and nowhere else of the target.
type localHost struct {
	dir    string   // absolute
	base   []string // PATH, HOME, LANG of the server
	unpack func(archive, wantSHA256, dst string) error
	user   hookUser  // who hooks run as; the zero value is the server, unconfined
	d      *Deployer // for the sandbox (bwrap, hidden paths); nil: none
}

var _ host = (*localHost)(nil)

func (l *localHost) Name() string { return l.dir }
func (l *localHost) Addr() string { return "127.0.0.1" }

func (l *localHost) releaseDir(release string) string {
	return filepath.Join(l.dir, "releases", release)
}

func (l *localHost) Current(ctx context.Context) (string, error) { return Current(l.dir) }

// Current returns the release that dir/current points to, "" if there is none.
func Current(dir string) (string, error) {
	target, err := os.Readlink(filepath.Join(dir, currentRel))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read current release of %s: %w", dir, err)
	}
	// Accept both our relative link and an absolute one made by hand, as long
	// as it names a release of this directory.
	if !filepath.IsAbs(target) {
		target = filepath.Join(dir, target)
	}
	parent, release := filepath.Split(filepath.Clean(target))
	if filepath.Clean(parent) != filepath.Join(filepath.Clean(dir), "releases") || validRelease(release) != nil {
		return "", fmt.Errorf("current of %s points outside its releases: %s", dir, target)
	}
	return release, nil
}

func (l *localHost) Install(ctx context.Context, archive string, info releaseInfo) error {
	releases := filepath.Join(l.dir, "releases")
	if err := os.MkdirAll(releases, 0o755); err != nil {
		return fmt.Errorf("create releases directory: %w", err)
	}
	final := l.releaseDir(info.Release)
	if err := l.reachable(final); err != nil {
		return err
	}
	current, err := l.Current(ctx)
	if err != nil {
		return err
	}
	if current == info.Release {
		// Same run, same artifact, already live (a redeploy, or recovery of an
		// attempt cut off after the switch). Its running app keeps its files
		// (pid files, logs); replacing them would strand it.
		if _, err := os.Stat(final); err == nil {
			if err := adopt(final, l.user); err != nil {
				return err
			}
			return writeInfo(final, info)
		}
	}
	// Unpack wants a destination that does not exist (or is empty).
	tmp := filepath.Join(releases, tmpPrefix+info.Release+"-"+randomSuffix())
	if err := l.unpack(archive, info.Artifact, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("install release %s: %w", info.Release, err)
	}
	if l.user.drop {
		// Unpacked by the server and not yet reachable by anyone else: the
		// hooks' uid gets the tree, so the app can read and write its files.
		if err := sandbox.Chown(tmp, l.user.id); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("install release %s: give it to %s: %w", info.Release, l.user.id.Name, err)
		}
	}
	if err := writeInfo(tmp, info); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	// A directory of this name is a leftover of an interrupted attempt of the
	// same release (it is not current): the fresh copy replaces it.
	if err := os.RemoveAll(final); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("remove leftover release %s: %w", info.Release, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("move release into place: %w", err)
	}
	return syncDir(releases)
}

// writeInfo stores info in dir. The directory may belong to the hooks' uid,
// which could have put a link where the file goes: a fresh file (O_EXCL)
// renamed over the name replaces whatever is there without following it.
func writeInfo(dir string, info releaseInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode release info: %w", err)
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"info-")
	if err != nil {
		return fmt.Errorf("write release info: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		// Through the descriptor: the release directory is the hooks', and
		// its running app could have put a link where the name was.
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, infoFile))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write release info: %w", err)
	}
	return nil
}

func (l *localHost) Info(ctx context.Context, release string) (releaseInfo, bool, error) {
	var info releaseInfo
	// Not through a link the release's hooks may have put there. What the
	// file says is only trusted as far as its hooks' uid is: its hooks.
	b, err := readNoFollow(filepath.Join(l.releaseDir(release), infoFile))
	if errors.Is(err, fs.ErrNotExist) {
		return info, false, nil
	}
	if err != nil {
		return info, false, fmt.Errorf("read release info of %s: %w", release, err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, false, fmt.Errorf("read release info of %s: %w", release, err)
	}
	return info, true, nil
}

func (l *localHost) Run(ctx context.Context, release, hook, command string, env map[string]string, timeout time.Duration, log io.Writer) error {
	dir := l.releaseDir(release)
	if err := l.reachable(dir); err != nil {
		return err
	}
	if err := adopt(dir, l.user); err != nil {
		return err
	}
	// The server's HOME is not the hook's: a confined hook's is its
	// release, a `user:` hook's that user's home.
	home := l.user.home
	if home == "" {
		home = dir
	}
	base := []string{"HOME=" + home}
	for _, kv := range l.base {
		if !strings.HasPrefix(kv, "HOME=") {
			base = append(base, kv)
		}
	}
	h := hookCmd{
		Name:       hook,
		Command:    command,
		Dir:        dir,
		Env:        hookEnv(base, env, dir),
		Timeout:    timeout,
		Output:     filepath.Join(dir, ".greenlight-"+hook+".log"),
		Credential: l.user.credential(),
		Running:    l.running(),
	}
	if l.user.confine && l.d != nil && l.d.bwrapPath() != "" {
		real, err := sandbox.RealPath(dir)
		if err != nil {
			return fmt.Errorf("hook %s: %w", hook, err)
		}
		h.Argv = l.d.confinedArgs(l.user, real, command)
		if l.d.dropsInside(l.user) {
			// bwrap starts as root; setpriv changes uid inside. The output
			// file is still the hook's, which may append to it by name.
			h.Owner, h.Credential = h.Credential, nil
		}
	}
	return runHook(ctx, h, log)
}

func hookEnv(base []string, env map[string]string, dir string) []string {
	vars := slices.Clone(base)
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	return append(vars, "GREENLIGHT_RELEASE_DIR="+dir)
}

// reachable fails with what to change when the hooks' uid could not get to
// dir (a release): every directory above it must be searchable by that uid.
func (l *localHost) reachable(dir string) error {
	if !l.user.drop || l.d != nil && l.d.bwrapPath() != "" && l.d.dropsInside(l.user) {
		return nil // the sandbox covers what the uid cannot pass (sandbox.Cover)
	}
	if err := sandbox.Reachable(dir, l.user.id); err != nil {
		return fmt.Errorf("target %s: hooks run as uid %d (%s) and cannot reach their release: %w", l.dir, l.user.id.UID, l.user.id.Name, err)
	}
	return nil
}

// readNoFollow reads a file that must not be a symlink.
func readNoFollow(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a plain file", path)
	}
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

func (l *localHost) Switch(ctx context.Context, release string) error {
	link := filepath.Join(l.dir, currentRel)
	if release == "" {
		if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove current: %w", err)
		}
		return syncDir(l.dir)
	}
	// rename(2) over the old link is atomic: a reader sees the old release or
	// the new one, never no `current`.
	tmp := filepath.Join(l.dir, ".current"+tmpPrefix+randomSuffix())
	if err := os.Symlink(filepath.Join("releases", release), tmp); err != nil {
		return fmt.Errorf("switch current to %s: %w", release, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("switch current to %s: %w", release, err)
	}
	return syncDir(l.dir)
}

func (l *localHost) Prune(ctx context.Context, keep int, protect ...string) error {
	releases := filepath.Join(l.dir, "releases")
	entries, err := os.ReadDir(releases)
	if err != nil {
		return fmt.Errorf("list releases: %w", err)
	}
	type rel struct {
		name string
		at   time.Time
	}
	var all []rel
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			// No release name starts with a dot: this is what an install
			// cut off before its rename left (ours, or the unpacker's own
			// temp directory). No other deploy runs on this target now.
			errs = append(errs, os.RemoveAll(filepath.Join(releases, e.Name())))
			continue
		}
		if !e.IsDir() || validRelease(e.Name()) != nil {
			continue
		}
		all = append(all, rel{e.Name(), l.installedAt(e.Name())})
	}
	// Newest first; the install time, not the name, orders releases: names
	// are run ids today but need not sort.
	slices.SortFunc(all, func(a, b rel) int { return b.at.Compare(a.at) })
	for i, r := range all {
		if i < keep || slices.Contains(protect, r.name) {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join(releases, r.name)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune releases: %w", err)
	}
	return nil
}

// installedAt is when a release was installed: from its info, else the
// directory's modification time.
func (l *localHost) installedAt(release string) time.Time {
	if info, ok, err := l.Info(context.Background(), release); err == nil && ok && !info.InstalledAt.IsZero() {
		return info.InstalledAt
	}
	if fi, err := os.Stat(l.releaseDir(release)); err == nil {
		return fi.ModTime()
	}
	return time.Time{}
}

// syncDir makes a rename or link in dir durable before we act on it.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// running is where Run notes the hook it runs (hookCmd.Running): in the
// target's directory, which the hooks cannot write (and if an admin made it
// writable to a `user:`, noteRunning and reapHook trust only a file of the
// server's own).
func (l *localHost) running() string { return filepath.Join(l.dir, ".greenlight-hook.pid") }

func (l *localHost) Reap(ctx context.Context, log io.Writer) error {
	pid, err := reapHook(l.running())
	if err != nil {
		return err
	}
	if pid != 0 {
		fmt.Fprintf(log, "killed process group %d: a hook cut off by the server's restart\n", pid)
	}
	return nil
}
