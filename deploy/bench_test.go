package deploy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// BenchmarkDeploy measures Greenlight's own part of a local deploy: verify,
// unpack, store info, run trivial hooks, switch, prune. The app's start and
// health check are the application's time, not ours.
func BenchmarkDeploy(b *testing.B) {
	for _, size := range []struct {
		name  string
		files int
		bytes int
	}{{"small", 3, 100}, {"10MB", 100, 100 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			files := map[string]string{}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range size.files {
				var sb strings.Builder
				for sb.Len() < size.bytes {
					fmt.Fprintf(&sb, "%x\n", rng.Uint64())
				}
				files[fmt.Sprintf("dist/f%03d", i)] = sb.String()
			}
			archive, digest := makeArchive(b, files)
			dir := filepath.Join(b.TempDir(), "target")
			d := New(nil)
			hooks := greenlight.Hooks{Stop: "true", Start: "true"}
			b.ResetTimer()
			for i := range b.N {
				_, err := d.Deploy(context.Background(), Request{
					Release: fmt.Sprint(i), Archive: archive, Digest: digest, Hooks: hooks,
					Targets: []Target{{Local: dir}},
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
