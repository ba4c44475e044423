package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshHost is a target directory on a host reached over SSH. It keeps the
// layout of a local target (see local.go) and does each step with one or
// two shell commands over the deploy's shared connection. The host needs a
// POSIX sh and GNU coreutils (sha256sum, mktemp, readlink, mv -T, tail
// --pid), tar with gzip, and setsid: any common Linux distribution.
//
// Every path and value put into a remote command is quoted by shellQuote;
// release names are validated before they get here.
type sshHost struct {
	t    *SSHTarget
	name string // Target.Name()
	pool *connPool
}

var _ host = (*sshHost)(nil)

func (s *sshHost) Name() string { return s.name }
func (s *sshHost) Addr() string { return s.t.Host }

func (s *sshHost) releaseDir(release string) string {
	return path.Join(s.t.Dir, "releases", release)
}

// maxStderr bounds what a failing remote command's stderr adds to an error.
const maxStderr = 2048

// run runs script with /bin/sh on the host (whatever the user's login shell
// is), with stdin and stdout as given. A failure's error holds what the
// script wrote to stderr. Cancelling ctx closes the session.
func (s *sshHost) run(ctx context.Context, what, script string, stdin io.Reader, stdout io.Writer) error {
	client, err := s.pool.client(ctx, s.t)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("%s: %s: open session: %w", what, sshName(s.t), err)
	}
	defer sess.Close()
	var stderr bytes.Buffer
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, &limitedBuffer{b: &stderr, n: maxStderr}
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()
	err = sess.Run("/bin/sh -c " + shellQuote(script))
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%s on %s: %s", what, sshName(s.t), msg)
		}
		return fmt.Errorf("%s on %s: exit status %d", what, sshName(s.t), exit.ExitStatus())
	}
	return fmt.Errorf("%s: %s: connection lost: %w", what, sshName(s.t), err)
}

// output runs script and returns its stdout.
func (s *sshHost) output(ctx context.Context, what, script string) (string, error) {
	var out bytes.Buffer
	err := s.run(ctx, what, script, nil, &out)
	return out.String(), err
}

func (s *sshHost) Current(ctx context.Context) (string, error) {
	out, err := s.output(ctx, "read current release",
		"cd "+shellQuote(s.t.Dir)+" 2>/dev/null || exit 0\nif [ -L current ]; then readlink current; fi")
	if err != nil {
		return "", err
	}
	target := strings.TrimSuffix(out, "\n")
	if target == "" {
		return "", nil
	}
	if !path.IsAbs(target) {
		target = path.Join(s.t.Dir, target)
	}
	parent, release := path.Split(path.Clean(target))
	if path.Clean(parent) != path.Join(s.t.Dir, "releases") || validRelease(release) != nil {
		return "", fmt.Errorf("current of %s points outside its releases: %s", s.name, target)
	}
	return release, nil
}

// installScript receives the archive on stdin into releases/.tmp-<release>-
// XXXXXX.tar.gz, checks its SHA-256 on the host, unpacks it beside, stores
// the info and renames the directory into place. Any failure removes both.
//
// tar unpacks without path checks of its own beyond GNU tar's defaults
// (it drops leading "/" and refuses ".." members): what makes that safe is
// that the digest was just proved to be the one of our archive, and our
// archives are checked for escaping paths and links when they are packed
// (artifact.Pack). --no-same-owner keeps a deploy user from being handed
// files owned by others when it happens to be root.
const installScript = `set -e
umask 022
mkdir -p %[1]s/releases
cd %[1]s
tmp=$(mktemp -d releases/%[2]s)
trap 'rm -rf "$tmp" "$tmp.tar.gz"' EXIT
chmod 755 "$tmp"
cat > "$tmp.tar.gz"
sum=$(sha256sum < "$tmp.tar.gz")
sum=${sum%%%% *}
if [ "$sum" != %[3]s ]; then
	echo "artifact received has SHA-256 $sum, want "%[3]s": refusing to unpack it" >&2
	exit 1
fi
tar -xzf "$tmp.tar.gz" -C "$tmp" --no-same-owner
rm -f "$tmp.tar.gz"
printf '%%s\n' %[4]s > "$tmp/` + infoFile + `"
rm -rf releases/%[5]s
mv "$tmp" releases/%[5]s
trap - EXIT
`

func (s *sshHost) Install(ctx context.Context, archive string, info releaseInfo) error {
	what := "install release " + info.Release
	infoJSON, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode release info: %w", err)
	}
	current, err := s.Current(ctx)
	if err != nil {
		return err
	}
	if current == info.Release {
		// As for a local target: the live release keeps its files (its app
		// may hold pid files and logs there); only its info is refreshed.
		dir := s.releaseDir(info.Release)
		script := "[ -d " + shellQuote(dir) + " ] || { echo missing; exit 0; }\nprintf '%s\\n' " + shellQuote(string(infoJSON)) +
			" > " + shellQuote(path.Join(dir, infoFile))
		out, err := s.output(ctx, "write release info", script)
		if err != nil || out == "" {
			return err
		}
		// The directory is gone: install it afresh.
	}
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	script := fmt.Sprintf(installScript, shellQuote(s.t.Dir),
		shellQuote(tmpPrefix+info.Release+"-XXXXXX"), shellQuote(info.Artifact),
		shellQuote(string(infoJSON)), shellQuote(info.Release))
	// Streamed on the session's stdin: measured against scp by
	// BenchmarkSSHTransfer.
	return s.run(ctx, what, script, f, nil)
}

func (s *sshHost) Info(ctx context.Context, release string) (releaseInfo, bool, error) {
	var info releaseInfo
	file := path.Join(s.releaseDir(release), infoFile)
	out, err := s.output(ctx, "read release info of "+release, "[ -f "+shellQuote(file)+" ] || exit 0\ncat "+shellQuote(file))
	if err != nil {
		return info, false, err
	}
	if out == "" {
		return info, false, nil
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return info, false, fmt.Errorf("read release info of %s on %s: %w", release, s.name, err)
	}
	return info, true, nil
}

func (s *sshHost) Switch(ctx context.Context, release string) error {
	dir := shellQuote(s.t.Dir)
	if release == "" {
		return s.run(ctx, "remove current", "cd "+dir+" && rm -f current", nil, nil)
	}
	// mv -T renames the new link over the old one (rename(2)): a reader
	// sees the old release or the new one, never no `current`.
	tmp := shellQuote(".current" + tmpPrefix + randomSuffix())
	script := "cd " + dir + " || exit 1\nln -s " + shellQuote(path.Join("releases", release)) + " " + tmp +
		" && mv -T " + tmp + " current || { rm -f " + tmp + "; exit 1; }"
	return s.run(ctx, "switch current to "+release, script, nil, nil)
}

// listScript prints, per release directory: name, mtime, and its stored
// info on one line. Leftovers of interrupted installs (dot names) are
// removed on the way, as local targets do: no other deploy runs here now.
const listScript = `cd %s/releases 2>/dev/null || exit 0
for e in * .[!.]* ..?*; do
	[ -e "$e" ] || [ -L "$e" ] || continue
	case $e in .*) rm -rf -- "$e"; continue;; esac
	[ -d "$e" ] && [ ! -L "$e" ] || continue
	printf '%%s\t%%s\t' "$e" "$(stat -c %%Y -- "$e")"
	if [ -f "$e/` + infoFile + `" ]; then tr -d '\n' < "$e/` + infoFile + `"; fi
	echo
done
`

func (s *sshHost) Prune(ctx context.Context, keep int, protect ...string) error {
	out, err := s.output(ctx, "prune releases", fmt.Sprintf(listScript, shellQuote(s.t.Dir)))
	if err != nil {
		return err
	}
	type rel struct {
		name string
		at   time.Time
	}
	var all []rel
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(line, "\t")
		if !ok || validRelease(name) != nil {
			continue
		}
		mtime, infoLine, _ := strings.Cut(rest, "\t")
		r := rel{name: name}
		var info releaseInfo
		if json.Unmarshal([]byte(infoLine), &info) == nil && !info.InstalledAt.IsZero() {
			r.at = info.InstalledAt
		} else if sec, err := strconv.ParseInt(mtime, 10, 64); err == nil {
			r.at = time.Unix(sec, 0)
		}
		all = append(all, r)
	}
	// Newest first, by install time, as for local targets.
	slices.SortFunc(all, func(a, b rel) int { return b.at.Compare(a.at) })
	var remove []string
	for i, r := range all {
		if i >= keep && !slices.Contains(protect, r.name) {
			remove = append(remove, shellQuote(path.Join(s.t.Dir, "releases", r.name)))
		}
	}
	if len(remove) == 0 {
		return nil
	}
	return s.run(ctx, "prune releases", "rm -rf -- "+strings.Join(remove, " "), nil, nil)
}

// limitedBuffer keeps the first n bytes written to it and drops the rest.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
