package web

import (
	"sync"
	"time"

	"github.com/greenlight-cd/greenlight"
)

const (
	sessionCookie = "greenlight_session"
	sessionTTL    = 12 * time.Hour
	maxSessions   = 10000 // bounds memory if someone logs in in a loop
)

// sessions are the admin UI's logins, kept in memory: a restart logs everyone
// out, which is cheap for a handful of admins and keeps secrets off disk.
// Safe for concurrent use.
type sessions struct {
	mu   sync.Mutex
	now  greenlight.Now
	ttl  time.Duration
	byID map[string]time.Time // session id → expiry
}

func newSessions(now greenlight.Now, ttl time.Duration) *sessions {
	return &sessions{now: now, ttl: ttl, byID: map[string]time.Time{}}
}

// create starts a session and returns its id: 32 random bytes, base64url.
func (s *sessions) create() (string, time.Time) {
	id, _ := greenlight.NewToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, exp := range s.byID {
		if !now.Before(exp) {
			delete(s.byID, k)
		}
	}
	if len(s.byID) >= maxSessions {
		s.evictOldest()
	}
	exp := now.Add(s.ttl)
	s.byID[id] = exp
	return id, exp
}

// evictOldest drops the session closest to expiry. Called with mu held.
func (s *sessions) evictOldest() {
	var oldest string
	var at time.Time
	for k, exp := range s.byID {
		if oldest == "" || exp.Before(at) {
			oldest, at = k, exp
		}
	}
	delete(s.byID, oldest)
}

// valid reports whether id is a live session.
func (s *sessions) valid(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.byID[id]
	if ok && !s.now().Before(exp) {
		delete(s.byID, id)
		return false
	}
	return ok
}

// end forgets the session.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}
