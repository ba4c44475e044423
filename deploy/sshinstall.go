package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/pkg/sftp"
)

// How the artifact reaches the host. Both go over the deploy's connection.
const (
	// viaStdin feeds the archive to the install script's stdin, which
	// hashes it (tee | sha256sum) while it arrives.
	viaStdin = "stdin"
	// viaSFTP (the default) writes it with SFTP, many writes in flight,
	// then the script hashes the file. Without the host's sftp subsystem
	// Install falls back to viaStdin.
	viaSFTP = "sftp"
)

// installScript puts the archive into releases/.tmp-<release>-XXXXXX.tar.gz
// (%[6]s: from stdin, or renamed from its SFTP upload), checks its SHA-256
// on the host, unpacks it beside, stores the info and renames the directory
// into place. Any failure removes both.
//
// tar has no path checks of its own beyond GNU tar's defaults (it drops a
// leading "/" and refuses ".." members): what makes unpacking safe is that
// the digest was just proved to be our archive's, and our archives are
// checked for escaping paths and links when they are packed (artifact.Pack).
// --no-same-owner keeps a deploy user that happens to be root from making
// files owned by whoever the archive names.
const installScript = `set -e
umask 022
mkdir -p %[1]s/releases
cd %[1]s
tmp=$(mktemp -d releases/%[2]s)
trap 'rm -rf "$tmp" "$tmp.tar.gz"' EXIT
chmod 755 "$tmp"
%[6]s
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
	script := func(receive string) string {
		return fmt.Sprintf(installScript, shellQuote(s.t.Dir),
			shellQuote(tmpPrefix+info.Release+"-XXXXXX"), shellQuote(info.Artifact),
			shellQuote(string(infoJSON)), shellQuote(info.Release), receive)
	}
	viaPipe := func() error {
		return s.run(ctx, what, script(`sum=$(tee "$tmp.tar.gz" | sha256sum)`), f, nil)
	}
	if s.transfer == viaStdin {
		return viaPipe()
	}
	// SFTP by default: BenchmarkSSHTransfer measured it faster than the
	// stdin stream (and on par with scp), the remote side writing the file
	// itself instead of through a pipe and a `cat`.
	// A dot name: Prune removes it if this install is cut off.
	upload := path.Join(s.t.Dir, "releases", ".upload-"+info.Release+"-"+randomSuffix()+".tar.gz")
	err = s.sftpUpload(ctx, f, upload)
	if errors.Is(err, errNoSFTP) {
		// A host without the sftp subsystem still takes the stream.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return viaPipe()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return s.run(ctx, what, script(`mv -- `+shellQuote(upload)+` "$tmp.tar.gz"
sum=$(sha256sum < "$tmp.tar.gz")`), nil, nil)
}

// errNoSFTP is sftpUpload's error when the host offers no sftp subsystem.
var errNoSFTP = errors.New("no sftp subsystem")

// sftpUpload writes f to dst on the host over SFTP, with concurrent writes.
func (s *sshHost) sftpUpload(ctx context.Context, f *os.File, dst string) error {
	client, err := s.pool.client(ctx, s.t)
	if err != nil {
		return err
	}
	sc, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		return fmt.Errorf("%s: %w: %v", sshName(s.t), errNoSFTP, err)
	}
	defer sc.Close()
	stop := context.AfterFunc(ctx, func() { sc.Close() })
	defer stop()
	if err := sc.MkdirAll(path.Dir(dst)); err != nil {
		return fmt.Errorf("%s: sftp: create %s: %w", sshName(s.t), path.Dir(dst), err)
	}
	w, err := sc.Create(dst)
	if err != nil {
		return fmt.Errorf("%s: sftp: create %s: %w", sshName(s.t), dst, err)
	}
	_, err = w.ReadFrom(f)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		sc.Remove(dst)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: sftp: write %s: %w", sshName(s.t), dst, err)
	}
	return nil
}
