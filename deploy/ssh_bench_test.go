package deploy

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/deploy/sshtest"
)

// randomArchive writes a tar.gz holding one file of size random bytes,
// stored without compression (random data does not compress anyway), and
// returns its path and SHA-256.
func randomArchive(b *testing.B, size int64) (string, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "artifact.tar.gz")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	zw, _ := gzip.NewWriterLevel(io.MultiWriter(f, h), gzip.NoCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "blob", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(tw, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	for _, c := range []io.Closer{tw, zw, f} {
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

func benchHost(b *testing.B, h *sshtest.Host, pool *connPool) *sshHost {
	t, err := Target{SSH: &SSHTarget{User: h.User, Host: "127.0.0.1", Port: h.Port, Dir: h.Dir,
		Key: h.ClientKey, KnownHosts: h.KnownHosts}}.checked()
	if err != nil {
		b.Fatal(err)
	}
	return &sshHost{t: t.SSH, name: t.Name(), pool: pool}
}

// BenchmarkSSHTransfer sends a 200 MiB incompressible artifact to one host:
// our transfer (a remote `cat >` fed on the session's stdin), the same over
// sftp with concurrent writes, a whole Install (transfer, SHA-256 on the
// host, unpack), and OpenSSH's scp of the same file for comparison.
func BenchmarkSSHTransfer(b *testing.B) {
	const size = 200 << 20
	h := sshtest.Start(b)
	archive, digest := randomArchive(b, size)
	fi, err := os.Stat(archive)
	if err != nil {
		b.Fatal(err)
	}
	pool := newConnPool()
	defer pool.Close()
	s := benchHost(b, h, pool)
	ctx := context.Background()
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(h.Dir, "received")

	b.Run("stdin", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for b.Loop() {
			f, err := os.Open(archive)
			if err != nil {
				b.Fatal(err)
			}
			err = s.run(ctx, "upload", "cat > "+shellQuote(dst), f, nil)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
		checkSize(b, dst, fi.Size())
	})
	b.Run("sftp", func(b *testing.B) {
		client, err := pool.client(ctx, s.t)
		if err != nil {
			b.Fatal(err)
		}
		sc, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true))
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Close()
		b.SetBytes(fi.Size())
		for b.Loop() {
			f, err := os.Open(archive)
			if err != nil {
				b.Fatal(err)
			}
			w, err := sc.Create(dst)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.ReadFrom(f); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		checkSize(b, dst, fi.Size())
	})
	for _, via := range []string{viaStdin, viaSFTP} {
		b.Run("install-"+via, func(b *testing.B) {
			s.transfer = via
			b.SetBytes(fi.Size())
			i := 0
			for b.Loop() {
				i++
				if err := s.Install(ctx, archive, releaseInfo{Release: strconv.Itoa(i), Artifact: digest}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(filepath.Join(h.Dir, "releases"))
				b.StartTimer()
			}
		})
	}
	b.Run("scp", func(b *testing.B) {
		if _, err := exec.LookPath("scp"); err != nil {
			b.Skip("no scp")
		}
		b.SetBytes(fi.Size())
		for b.Loop() {
			out, err := exec.Command("scp", "-q", "-i", h.ClientKey, "-P", strconv.Itoa(h.Port),
				"-o", "UserKnownHostsFile="+h.KnownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
				archive, h.User+"@127.0.0.1:"+dst).CombinedOutput()
			if err != nil {
				b.Fatalf("scp: %v: %s", err, out)
			}
		}
		checkSize(b, dst, fi.Size())
	})
}

func checkSize(b *testing.B, path string, want int64) {
	b.Helper()
	if fi, err := os.Stat(path); err != nil || fi.Size() != want {
		b.Fatalf("received file: %v, %v; want %d bytes", fi, err, want)
	}
}

// BenchmarkSSHFleet deploys a small artifact with a trivial start hook to
// one host and to 20 hosts all at once: the fleet should take little more
// than one host, since every host works in parallel over its own
// connection.
func BenchmarkSSHFleet(b *testing.B) {
	hosts := make([]*sshtest.Host, 20)
	for i := range hosts {
		hosts[i] = sshtest.Start(b)
	}
	archive, digest := makeArchive(b, map[string]string{"VERSION": "v1", "deploy/start.sh": "#!/bin/sh\necho started\n"})
	for _, c := range []struct {
		n        int
		strategy Strategy
	}{
		{1, Strategy{}},
		{20, Strategy{}},
		{20, Strategy{Type: Rolling, Batch: Amount{N: 25, Percent: true}}},
	} {
		n := c.n
		name := fmt.Sprintf("hosts=%d", n)
		if c.strategy.Type != "" {
			name += "/rolling-25%"
		}
		b.Run(name, func(b *testing.B) {
			var targets []Target
			for _, h := range hosts[:n] {
				targets = append(targets, Target{SSH: &SSHTarget{User: h.User, Host: "127.0.0.1", Port: h.Port,
					Dir: filepath.Join(h.Dir, name), Key: h.ClientKey, KnownHosts: h.KnownHosts}})
			}
			d := New(nil)
			i := 0
			start, cpu0 := time.Now(), cpuTime()
			for b.Loop() {
				i++
				_, err := d.Deploy(context.Background(), Request{
					Release: strconv.Itoa(i), Archive: archive, Digest: digest, Targets: targets,
					Hooks: greenlight.Hooks{Start: "deploy/start.sh"}, Parallel: 20, Strategy: c.strategy,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(i), "ms/deploy")
			// Greenlight's own share: the hosts here share this machine's
			// cores, so wall time also counts every sshd's work.
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(i*n), "cpu-ms/host")
		})
	}
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
