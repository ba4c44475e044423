package deploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// nginxRouter writes an nginx upstream block to a file that the nginx
// configuration includes, tests the configuration, and reloads nginx.
type nginxRouter struct {
	file, upstream string
	test, reload   string
	run            *shell
	log            *lineWriter
	// original is the file as it was before this deploy's first Set, which
	// Restore puts back; saved says it was read.
	original []byte
	saved    bool
}

// upstreamConf is the file's content: servers with weight 0 are written as
// `down` (nginx refuses weight=0, and an upstream needs at least one
// server), the others with their weight.
func upstreamConf(name string, ws []weight) string {
	var b strings.Builder
	b.WriteString("# Written by Greenlight; changed on every deploy.\n")
	b.WriteString("upstream " + name + " {\n")
	for _, w := range ws {
		if w.Weight <= 0 {
			fmt.Fprintf(&b, "    server %s down;\n", w.Server)
			continue
		}
		fmt.Fprintf(&b, "    server %s weight=%d;\n", w.Server, w.Weight)
	}
	b.WriteString("}\n")
	return b.String()
}

// Set writes the upstream file atomically, runs the test command, and
// reloads. If the test or the reload fails, the previous file is put back
// (and, after a failed reload, reloaded) so nothing is switched.
func (n *nginxRouter) Set(ctx context.Context, ws []weight) error {
	n.log.Printf("upstream %s: %s", n.upstream, describe(ws))
	return n.write(ctx, []byte(upstreamConf(n.upstream, ws)))
}

// Restore puts back the upstream file of before this deploy, exactly (the
// weights the deploy computes as "before" may differ from what an operator
// had set), or sets ws when the file did not exist.
func (n *nginxRouter) Restore(ctx context.Context, ws []weight) error {
	if !n.saved || n.original == nil {
		return n.Set(ctx, ws)
	}
	n.log.Printf("upstream %s: the file of before the deploy", n.upstream)
	return n.write(ctx, n.original)
}

// write replaces the file with conf, tests and reloads; on a failure the
// previous file is back (and, after a failed reload, reloaded).
func (n *nginxRouter) write(ctx context.Context, conf []byte) error {
	old, err := os.ReadFile(n.file)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("nginx: read %s: %w", n.file, err)
	}
	if !n.saved {
		n.original, n.saved = old, true
	}
	if err := writeAtomic(n.file, conf); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	restore := func() error {
		if !existed {
			return os.Remove(n.file)
		}
		return writeAtomic(n.file, old)
	}
	if _, err := n.run.run(ctx, n.test); err != nil {
		if rerr := restore(); rerr != nil {
			return fmt.Errorf("nginx: test failed, nothing switched: %w; restoring %s: %w", err, n.file, rerr)
		}
		n.log.Printf("test failed: %s restored, nothing switched", n.file)
		return fmt.Errorf("nginx: test failed, nothing switched: %w", err)
	}
	if _, err := n.run.run(ctx, n.reload); err != nil {
		if rerr := restore(); rerr != nil {
			return fmt.Errorf("nginx: reload failed: %w; restoring %s: %w", err, n.file, rerr)
		}
		// The failed reload may have been applied in part (or nginx reloads
		// later on its own): load the restored file again. Best effort, even
		// when ctx was cancelled, which may be why the reload failed.
		if _, rerr := n.run.run(context.WithoutCancel(ctx), n.reload); rerr != nil {
			n.log.Printf("reloading the restored %s failed: nginx may run the new weights", n.file)
			return fmt.Errorf("nginx: reload failed, %s restored: %w; reloading the restored file: %w", n.file, err, rerr)
		}
		n.log.Printf("reload failed: %s restored and reloaded", n.file)
		return fmt.Errorf("nginx: reload failed, %s restored and reloaded: %w", n.file, err)
	}
	return nil
}

// describe shows weights in the stage log: "127.0.0.1:8081=9, 127.0.0.1:8082=1".
func describe(ws []weight) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Server + "=" + strconv.Itoa(w.Weight)
	}
	return strings.Join(parts, ", ")
}

// writeAtomic replaces path with data through a temporary file in the same
// directory and a rename, so nginx never reads half a file.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
