package e2e

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rssMiB is the server process's resident memory (VmRSS), in MiB.
func (s *server) rssMiB() int {
	s.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		s.t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				s.t.Fatal(err)
			}
			return kb / 1024
		}
	}
	s.t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// rssDuring samples the server's RSS while f runs and returns the highest.
func (s *server) rssDuring(f func()) int {
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if m := int64(s.rssMiB()); m > peak.Load() {
				peak.Store(m)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	<-sampled
	return int(peak.Load())
}

// zeroBody is an endless body of zeros.
type zeroBody struct{}

func (zeroBody) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// One server, one minute at most: the webhook endpoint's answers, a flood of
// large unsigned bodies, and many bodies that stall.
func TestHTTPLimits(t *testing.T) {
	s := start(t, options{})

	t.Run("wrong method", func(t *testing.T) {
		for _, path := range []string{"/hooks/x", "/hooks/hello"} {
			resp, err := http.Get(s.url + path)
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]string
			err = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || err != nil || v["error"] == "" {
				t.Errorf("GET %s = %d Allow %q %v, want 405 JSON with Allow: POST", path, resp.StatusCode, resp.Header.Get("Allow"), v)
			}
		}
	})

	t.Run("unknown and unsigned alike", func(t *testing.T) {
		answer := func(path, sig string) string {
			req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(`{"ref":"refs/heads/main","after":"`+s.repo.head()+`"}`))
			req.Header.Set("Content-Type", "application/json")
			if sig != "" {
				req.Header.Set("X-Hub-Signature-256", sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		bad := "sha256=" + strings.Repeat("0", 64)
		unknown := answer("/hooks/nope", bad)
		for what, got := range map[string]string{
			"unknown, unsigned":      answer("/hooks/nope", ""),
			"known, unsigned":        answer("/hooks/hello", ""),
			"known, wrong signature": answer("/hooks/hello", bad),
			"known, malformed":       answer("/hooks/hello", "sha256=00"),
		} {
			if got != unknown {
				t.Errorf("%s: %s\nunknown pipeline: %s", what, got, unknown)
			}
		}
		if !strings.HasPrefix(unknown, "401 application/json") {
			t.Errorf("refusal: %s, want 401 JSON", unknown)
		}
	})

	t.Run("large unsigned bodies", func(t *testing.T) {
		const posts, size = 40, 25 << 20
		before := s.rssMiB()
		var wrong atomic.Int32
		peak := s.rssDuring(func() {
			var wg sync.WaitGroup
			for range posts {
				wg.Go(func() {
					req, _ := http.NewRequest("POST", s.url+"/hooks/hello", io.LimitReader(zeroBody{}, size))
					req.ContentLength = size
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						return // refused and closed while the client still wrote: fine
					}
					resp.Body.Close()
					if resp.StatusCode != 401 {
						wrong.Add(1)
					}
				})
			}
			wg.Wait()
		})
		if n := wrong.Load(); n > 0 {
			t.Errorf("%d of %d unsigned posts were not answered 401", n, posts)
		}
		if peak-before > 200 {
			t.Errorf("RSS grew from %d MiB to %d MiB with %d unsigned 25 MiB posts, want at most +200", before, peak, posts)
		}
		t.Logf("RSS %d MiB before, %d MiB at most during %d unsigned 25 MiB posts", before, peak, posts)
	})

	t.Run("large bodies, forged signature", func(t *testing.T) {
		// These are read (at most 64 MiB of them at once) and then refused
		// for their signature. The race detector's shadow memory roughly
		// doubles what the heap costs in RSS.
		limit := 200
		if os.Getenv("GREENLIGHT_E2E_RACE") != "0" {
			limit = 500
		}
		const posts, size = 40, 25 << 20
		before := s.rssMiB()
		var wrong atomic.Int32
		peak := s.rssDuring(func() {
			var wg sync.WaitGroup
			for range posts {
				wg.Go(func() {
					req, _ := http.NewRequest("POST", s.url+"/hooks/hello", io.LimitReader(zeroBody{}, size))
					req.ContentLength = size
					req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						return // refused and closed while the client still wrote: fine
					}
					resp.Body.Close()
					if resp.StatusCode != 401 && resp.StatusCode != 503 {
						wrong.Add(1)
					}
				})
			}
			wg.Wait()
		})
		if n := wrong.Load(); n > 0 {
			t.Errorf("%d of %d forged posts were not answered 401 or 503", n, posts)
		}
		if peak-before > limit {
			t.Errorf("RSS grew from %d MiB to %d MiB with %d forged 25 MiB posts, want at most +%d", before, peak, posts, limit)
		}
		t.Logf("RSS %d MiB before, %d MiB at most during %d forged 25 MiB posts", before, peak, posts)
	})

	t.Run("stalled bodies", func(t *testing.T) {
		// Bodies announced and never sent: webhooks (signed-looking, so
		// they are read), login and approval forms. Each must be answered
		// or closed by its deadline (forms 10 s, a small webhook 5 s; a
		// webhook that finds no free slot is refused after 2 s).
		mac := hmac.New(sha256.New, []byte(hookSecret))
		sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		type stall struct{ path, header string }
		var stalls []stall
		for range 150 {
			stalls = append(stalls, stall{"/hooks/hello", "X-Hub-Signature-256: " + sig})
		}
		for range 25 {
			stalls = append(stalls, stall{"/login", "Content-Type: application/x-www-form-urlencoded"})
			stalls = append(stalls, stall{"/approvals/some-token", "Content-Type: application/x-www-form-urlencoded"})
		}
		before := s.rssMiB()
		addr := strings.TrimPrefix(s.url, "http://")
		var open atomic.Int32
		var wg sync.WaitGroup
		t0 := time.Now()
		for _, st := range stalls {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n%s\r\n\r\n", st.path, addr, st.header)
			wg.Go(func() {
				conn.SetReadDeadline(t0.Add(14 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err == nil {
					resp.Body.Close()
					_, err = io.Copy(io.Discard, conn) // then closed
				}
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					open.Add(1)
				}
			})
		}
		// Meanwhile the server serves.
		time.Sleep(time.Second)
		start := time.Now()
		if code, _ := get(t, s.url+"/healthz"); code != 200 || time.Since(start) > time.Second {
			t.Errorf("/healthz with %d stalled bodies: %d after %s", len(stalls), code, time.Since(start))
		}
		wg.Wait()
		if n := open.Load(); n > 0 {
			t.Errorf("%d of %d stalled bodies still open after %s", n, len(stalls), time.Since(t0).Round(time.Second))
		}
		if after := s.rssMiB(); after-before > 100 {
			t.Errorf("RSS grew from %d MiB to %d MiB with %d stalled bodies", before, after, len(stalls))
		}
		if code, _ := s.push(s.repo.head(), "after-the-stalls"); code != 202 {
			t.Errorf("a push after the stalled bodies: %d, want 202", code)
		}
	})
}
