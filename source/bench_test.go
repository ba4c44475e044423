package source

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight/source/gittest"
)

// BenchmarkMirror compares a fresh mirror of a 10,000-commit repository
// (300 files at its tip), served over smart HTTP, with what every later run
// pays: a fetch after one new commit plus the checkout of that commit.
// Target: the second at most 10% of the first. "clone+checkout" is what a
// first run pays, for comparison on equal terms.
//
//	go test -run '^$' -bench BenchmarkMirror -benchtime 10x ./source
func BenchmarkMirror(b *testing.B) {
	srv := gittest.NewServer(b, "")
	r := srv.NewRepo("big")
	r.Import(10_000)
	url := srv.RepoURL("big")

	b.Run("fresh-clone", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			g := New(b.TempDir(), nil)
			b.StartTimer()
			if err := g.Fetch(ctx, url); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("clone+checkout", func(b *testing.B) {
		sha := r.Git("rev-parse", "HEAD")
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			g := New(b.TempDir(), nil)
			dst := filepath.Join(b.TempDir(), "ws")
			b.StartTimer()
			if err := g.Fetch(ctx, url); err != nil {
				b.Fatal(err)
			}
			if err := g.Checkout(ctx, url, sha, dst); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("fetch+checkout", func(b *testing.B) {
		g := New(b.TempDir(), benchLog())
		if err := g.Fetch(ctx, url); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		var fetching, checkingOut time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			sha := r.Commit(map[string]string{"src/new.txt": fmt.Sprint(i)}, fmt.Sprintf("new %d", i))
			dst := filepath.Join(b.TempDir(), "ws")
			b.StartTimer()
			start := time.Now()
			if err := g.Fetch(ctx, url); err != nil {
				b.Fatal(err)
			}
			fetched := time.Now()
			if err := g.Checkout(ctx, url, sha, dst); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			fetching += fetched.Sub(start)
			checkingOut += time.Since(fetched)
			if err := os.RemoveAll(dst); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(fetching.Milliseconds())/float64(b.N), "fetch-ms/op")
		b.ReportMetric(float64(checkingOut.Milliseconds())/float64(b.N), "checkout-ms/op")
	})
}

func benchLog() *slog.Logger {
	if os.Getenv("BENCH_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
