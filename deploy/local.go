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
	"time"
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

// localHost is a target directory on the server's own machine.
type localHost struct {
	dir    string   // absolute
	base   []string // PATH, HOME, LANG of the server
	unpack func(archive, wantSHA256, dst string) error
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
	current, err := l.Current(ctx)
	if err != nil {
		return err
	}
	if current == info.Release {
		// Same run, same artifact, already live (a redeploy, or recovery of an
		// attempt cut off after the switch). Its running app keeps its files
		// (pid files, logs); replacing them would strand it.
		if _, err := os.Stat(final); err == nil {
			return writeInfo(final, info)
		}
	}
	// Unpack wants a destination that does not exist (or is empty).
	tmp := filepath.Join(releases, tmpPrefix+info.Release+"-"+randomSuffix())
	if err := l.unpack(archive, info.Artifact, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("install release %s: %w", info.Release, err)
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

func writeInfo(dir string, info releaseInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode release info: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, infoFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write release info: %w", err)
	}
	return nil
}

func (l *localHost) Info(ctx context.Context, release string) (releaseInfo, bool, error) {
	var info releaseInfo
	b, err := os.ReadFile(filepath.Join(l.releaseDir(release), infoFile))
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
	vars := slices.Clone(l.base)
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	vars = append(vars, "GREENLIGHT_RELEASE_DIR="+dir)
	return runHook(ctx, hookCmd{
		Name:    hook,
		Command: command,
		Dir:     dir,
		Env:     vars,
		Timeout: timeout,
		Output:  filepath.Join(dir, ".greenlight-"+hook+".log"),
	}, log)
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
