package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// These measure the handlers over the real SQLite store, without the network.

func BenchmarkDecisionPage(b *testing.B) {
	e := newEnv(b)
	_, tokens := e.gate("Bench", 1, "pm@example.com")
	h := e.ts.Config.Handler
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/approvals/"+tokens[0], nil))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func BenchmarkAPIRuns(b *testing.B) {
	e := newEnv(b)
	for range 50 {
		e.run(greenlight.RunSucceeded, "Bench")
	}
	h := e.ts.Config.Handler
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/api/v1/runs?limit=50", nil)
		r.Header.Set("Authorization", "Bearer "+adminToken)
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		_, _ = io.Copy(io.Discard, w.Body)
	}
}

// BenchmarkHookBurst measures the acknowledgement latency of webhooks under a
// burst: 500 signed deliveries (distinct ids, 50 branches) sent by 50
// concurrent clients over loopback HTTP to the real handler and SQLite store,
// while the inbox's worker processes them (NOWORKER=1: without it, the
// acknowledgement path alone). It reports the latencies' p50 and p99 over
// all requests, the handler's own p99, and the CPU the process got.
//
//	go test -run XXX -bench HookBurst -benchtime 10x ./web
func BenchmarkHookBurst(b *testing.B) {
	e := newEnv(b)
	if os.Getenv("NOWORKER") != "" {
		e.stopInbox()
	}
	const total, clients = 500, 50
	// The handler's own time, without the client's share of the CPU, and
	// within it the wait for the store to make the delivery durable.
	var smu sync.Mutex
	var served []time.Duration
	ts := &timedStore{Store: e.store}
	h := NewServer(Config{Server: e.srv, Store: ts, Logs: e.logs, Engine: e.eng, Inbox: e.inbox, Now: e.clock.Now})
	e.ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		smu.Lock()
		served = append(served, time.Since(start))
		smu.Unlock()
	})
	var all []time.Duration
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	wall := time.Now()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	round := 0
	for b.Loop() {
		round++
		lat := make([]time.Duration, total)
		next := make(chan int, total)
		for i := range total {
			next <- i
		}
		close(next)
		var wg sync.WaitGroup
		var failed atomic.Int32
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					body := pushBody(fmt.Sprintf("branch-%d", i%50), sha2)
					req, _ := http.NewRequest("POST", e.ts.URL+"/hooks/hello", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-GitHub-Event", "push")
					req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("burst-%d-%d", round, i))
					req.Header.Set("X-Hub-Signature-256", sign(hookSecret, body))
					start := time.Now()
					resp, err := client.Do(req)
					lat[i] = time.Since(start)
					if err != nil {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d of %d deliveries not answered 202", n, total)
		}
		all = append(all, lat...)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	pct := func(list []time.Duration, p float64) float64 {
		slices.Sort(list)
		return float64(list[int(p*float64(len(list)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(all, 0.50), "p50-ms")
	b.ReportMetric(pct(all, 0.99), "p99-ms")
	b.ReportMetric(pct(all, 1), "max-ms")
	smu.Lock()
	b.ReportMetric(pct(served, 0.99), "handler-p99-ms")
	smu.Unlock()
	ts.mu.Lock()
	b.ReportMetric(pct(ts.enqueue, 0.99), "store-p99-ms")
	ts.mu.Unlock()
	// How much CPU the process got (client, server and worker together):
	// 200% is both cores. On a shared machine the latencies follow it.
	b.ReportMetric(100*cpu.Seconds()/time.Since(wall).Seconds(), "cpu-%")
}

// timedStore records how long each EnqueueDelivery takes.
type timedStore struct {
	greenlight.Store
	mu      sync.Mutex
	enqueue []time.Duration
}

func (s *timedStore) EnqueueDelivery(ctx context.Context, d *greenlight.Delivery) (bool, error) {
	start := time.Now()
	ok, err := s.Store.EnqueueDelivery(ctx, d)
	s.mu.Lock()
	s.enqueue = append(s.enqueue, time.Since(start))
	s.mu.Unlock()
	return ok, err
}
