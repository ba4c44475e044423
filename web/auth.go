package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// tokenMatches compares a presented admin token in constant time. Both sides
// are hashed first so that not even the token's length leaks; an empty admin
// token matches nothing.
func tokenMatches(presented, admin string) bool {
	if admin == "" || presented == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(admin))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// requireToken admits API requests with Authorization: Bearer <admin token>.
// A client that sent wrong tokens too often is refused with 429 and
// Retry-After until its pause is over, whatever it sends (throttle.go); a
// request without an Authorization header is not a wrong token.
func (s *server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait := s.throttle.wait(r.RemoteAddr); wait > 0 {
			tooManyWrongTokens(w, wait)
			return
		}
		header := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !tokenMatches(strings.TrimSpace(token), s.cfg.AdminToken) {
			if header != "" {
				if pause := s.throttle.fail(r.RemoteAddr); pause > 0 {
					s.cfg.Log.WarnContext(r.Context(), "wrong admin tokens; pausing the client", "ip", clientIP(r), "pause", pause)
				}
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="greenlight"`)
			writeJSONError(w, http.StatusUnauthorized, "a valid admin token is required (Authorization: Bearer <token>)")
			return
		}
		s.throttle.succeed(r.RemoteAddr)
		next.ServeHTTP(w, r)
	})
}

// tooManyWrongTokens answers a client in its pause after wrong tokens.
func tooManyWrongTokens(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(wait))
	writeJSONError(w, http.StatusTooManyRequests, "too many wrong admin tokens from your address; try again in "+
		inSeconds(wait))
}

// requireSession admits UI requests with a live session cookie and sends
// everyone else to the login page.
func (s *server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil || !s.sessions.valid(c.Value) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				s.renderError(w, r, http.StatusUnauthorized, "Your session has ended. Please log in again.")
				return
			}
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}
