package web

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// The pause after wrong admin tokens (API bearer tokens and the login form).
// A client may get the token wrong a few times (a typo, an old token in a
// script); from the freeFailures-th wrong token within failureWindow on, it
// is refused with 429 and Retry-After for a pause that doubles with each
// further wrong token, from firstPause up to maxPause. A right token is
// never slowed: it is checked at once, and it clears the client's record. A
// client in its pause is refused before its token is looked at, so that the
// pause cannot be used to test guesses.
const (
	freeFailures  = 5
	failureWindow = 15 * time.Minute
	firstPause    = time.Second
	maxPause      = 15 * time.Minute
	maxClients    = 10000 // records kept; older ones are swept first
)

// throttle counts wrong admin tokens per client address. IPv6 clients are
// counted per /64, the block one subscriber usually holds. Safe for
// concurrent use.
type throttle struct {
	now     greenlight.Now
	mu      sync.Mutex
	clients map[netip.Prefix]*failures
}

type failures struct {
	n     int       // wrong tokens within the window
	last  time.Time // the last one
	until time.Time // refused until then
}

func newThrottle(now greenlight.Now) *throttle {
	return &throttle{now: now, clients: map[netip.Prefix]*failures{}}
}

// clientKey is the address (IPv4) or /64 (IPv6) remoteAddr counts under.
func clientKey(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{} // every unreadable address shares one record
	}
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// wait returns how long the client must still wait, 0 if it may try now.
func (t *throttle) wait(remoteAddr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.clients[clientKey(remoteAddr)]
	if f == nil {
		return 0
	}
	return max(f.until.Sub(t.now()), 0)
}

// fail records a wrong token and returns the pause it starts (0: none yet).
func (t *throttle) fail(remoteAddr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	k := clientKey(remoteAddr)
	f := t.clients[k]
	if f == nil || now.Sub(f.last) > failureWindow {
		if len(t.clients) >= maxClients {
			t.sweep(now)
		}
		f = &failures{}
		t.clients[k] = f
	}
	f.n++
	f.last = now
	if f.n < freeFailures {
		return 0
	}
	pause := maxPause
	if shift := f.n - freeFailures; shift < 20 {
		pause = min(firstPause<<shift, maxPause)
	}
	f.until = now.Add(pause)
	return pause
}

// succeed forgets the client's wrong tokens.
func (t *throttle) succeed(remoteAddr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.clients, clientKey(remoteAddr))
}

// sweep drops records whose window and pause are over; if that frees
// nothing, the oldest half goes, so memory stays bounded under a flood of
// addresses.
func (t *throttle) sweep(now time.Time) {
	for k, f := range t.clients {
		if now.Sub(f.last) > failureWindow && !now.Before(f.until) {
			delete(t.clients, k)
		}
	}
	if len(t.clients) < maxClients {
		return
	}
	// Still full: drop the records that hold no pause first, then those
	// whose pause ends soonest. A flood of fresh addresses (each with its
	// few free tries) must not clear the long pause of the one that guessed
	// most.
	type rec struct {
		k     netip.Prefix
		until time.Time
	}
	recs := make([]rec, 0, len(t.clients))
	for k, f := range t.clients {
		recs = append(recs, rec{k, f.until})
	}
	slices.SortFunc(recs, func(a, b rec) int { return a.until.Compare(b.until) })
	for _, r := range recs[:len(recs)/2] {
		delete(t.clients, r.k)
	}
}

// inSeconds says a pause for people: "1 second", "32 seconds".
func inSeconds(d time.Duration) string {
	if n := retryAfter(d); n != "1" {
		return n + " seconds"
	}
	return "1 second"
}

// retryAfter is a Retry-After value: whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
