package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
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
func (s *server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !tokenMatches(strings.TrimSpace(token), s.cfg.AdminToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="greenlight"`)
			writeJSONError(w, http.StatusUnauthorized, "a valid admin token is required (Authorization: Bearer <token>)")
			return
		}
		next.ServeHTTP(w, r)
	})
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
