package source

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/greenlight-cd/greenlight/source/gittest"
)

// workload runs n rounds of mixed operations on repo with g, each on one of
// shas (read under mu, which a pusher may extend), and returns the first
// error. Checkouts are verified: file "n" holds the commit's number.
func workload(ctx context.Context, g *Git, repo string, mu *sync.Mutex, shas *[]string, dir string, seed uint64, n int) error {
	rnd := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < n; i++ {
		mu.Lock()
		k := rnd.IntN(len(*shas))
		sha := (*shas)[k]
		mu.Unlock()
		var err error
		switch op := rnd.IntN(6); op {
		case 0:
			err = g.Fetch(ctx, repo)
		case 1:
			err = g.Ensure(ctx, repo, sha)
		case 2, 3:
			ws := filepath.Join(dir, fmt.Sprintf("ws-%d-%d", seed, i))
			if err = g.Checkout(ctx, repo, sha, ws); err == nil {
				got, rerr := os.ReadFile(filepath.Join(ws, "n"))
				if rerr != nil || string(got) != fmt.Sprint(k) {
					err = fmt.Errorf("checkout of commit %d: n = %q, %v", k, got, rerr)
				}
			}
			os.RemoveAll(ws)
		case 4:
			c, cerr := g.Commit(ctx, repo, sha)
			if err = cerr; err == nil && c.Title != fmt.Sprintf("c%d", k) {
				err = fmt.Errorf("commit %d: title %q", k, c.Title)
			}
		case 5:
			mu.Lock()
			first := (*shas)[0]
			mu.Unlock()
			_, err = g.Changes(ctx, repo, first, sha, 20)
		}
		if err != nil {
			return fmt.Errorf("round %d: %w", i, err)
		}
	}
	return nil
}

// Twenty goroutines, over two Git values sharing one directory, while the
// remote moves on, plus another process on the same directory: no error,
// and a sound mirror at the end.
func TestConcurrentMirrorUse(t *testing.T) {
	srv := gittest.NewServer(t, "")
	r := srv.NewRepo("app")
	var mu sync.Mutex
	shas := []string{}
	for i := 0; i < 3; i++ {
		shas = append(shas, r.Commit(map[string]string{"n": fmt.Sprint(i)}, fmt.Sprintf("c%d", i)))
	}
	url := srv.RepoURL("app")
	dir := t.TempDir()
	gits := []*Git{New(dir, nil), New(dir, nil)}
	work := t.TempDir()

	// Another process works on the same cache directory at the same time.
	other := exec.Command(os.Args[0], "-test.run=^TestMirrorWorkerProcess$")
	other.Env = append(os.Environ(), "SOURCE_WORKER_DIR="+dir, "SOURCE_WORKER_REPO="+url,
		"SOURCE_WORKER_SHAS="+strings.Join(shas, ","), "SOURCE_WORKER_WORK="+t.TempDir())
	var otherOut strings.Builder
	other.Stdout, other.Stderr = &otherOut, &otherOut
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 21)
	wg.Add(1)
	go func() { // the remote moves on meanwhile
		defer wg.Done()
		for i := 3; i < 8; i++ {
			sha := r.Commit(map[string]string{"n": fmt.Sprint(i)}, fmt.Sprintf("c%d", i))
			mu.Lock()
			shas = append(shas, sha)
			mu.Unlock()
		}
	}()
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := workload(ctx, gits[w%2], url, &mu, &shas, work, uint64(w), 6); err != nil {
				errs <- fmt.Errorf("worker %d: %w", w, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := other.Wait(); err != nil {
		t.Errorf("the other process: %v\n%s", err, otherOut.String())
	}
	m := gits[0].mirror(url)
	if err := gits[0].check(ctx, m); err != nil {
		t.Errorf("mirror unsound after concurrent use: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Errorf("%d clones left in tmp", len(entries))
	}
}

// TestMirrorWorkerProcess is the other process of TestConcurrentMirrorUse;
// run on its own it does nothing.
func TestMirrorWorkerProcess(t *testing.T) {
	dir := os.Getenv("SOURCE_WORKER_DIR")
	if dir == "" {
		t.Skip("helper process for TestConcurrentMirrorUse")
	}
	var mu sync.Mutex
	shas := strings.Split(os.Getenv("SOURCE_WORKER_SHAS"), ",")
	g := New(dir, nil)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := workload(ctx, g, os.Getenv("SOURCE_WORKER_REPO"), &mu, &shas, os.Getenv("SOURCE_WORKER_WORK"), uint64(100+w), 6); err != nil {
				t.Errorf("worker %d: %v", w, err)
			}
		}()
	}
	wg.Wait()
}

// New removes clones a crash left in tmp, but not one whose mirror is
// locked: another process may be making it.
func TestRemoveStaleClones(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "tmp", strings.Repeat("a", 64)+"-123")
	busy := filepath.Join(dir, "tmp", strings.Repeat("b", 64)+"-456")
	for _, d := range []string{stale, busy} {
		if err := os.MkdirAll(filepath.Join(d, "mirror.git"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := flock(ctx, filepath.Join(dir, strings.Repeat("b", 64)+".lock"), syscall.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	New(dir, nil)
	if !isNotExist(stale) {
		t.Error("an abandoned clone was kept")
	}
	if isNotExist(busy) {
		t.Error("a clone in progress (its mirror locked) was removed")
	}
}
