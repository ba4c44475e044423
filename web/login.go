package web

import (
	"net/http"
	"strings"
	"time"
)

// handleLoginPage shows the admin login form.
func (s *server) handleLoginPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "login", page{Title: "Log in"})
	}
}

// handleLogin exchanges the admin token for a session cookie.
func (s *server) handleLogin() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if wait := s.throttle.wait(r.RemoteAddr); wait > 0 {
			w.Header().Set("Retry-After", retryAfter(wait))
			s.render(w, r, http.StatusTooManyRequests, "login", page{Title: "Log in",
				Data: "Too many wrong tokens from your address. Try again in " + inSeconds(wait) + "."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			s.render(w, r, http.StatusBadRequest, "login", page{Title: "Log in", Data: "The form could not be read."})
			return
		}
		if !tokenMatches(strings.TrimSpace(r.PostForm.Get("token")), s.cfg.AdminToken) {
			s.cfg.Log.WarnContext(r.Context(), "failed admin login", "ip", clientIP(r), "pause", s.throttle.fail(r.RemoteAddr))
			select { // slows guessing; the token has plenty of entropy anyway
			case <-time.After(250 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			s.render(w, r, http.StatusUnauthorized, "login", page{Title: "Log in", Data: "That token is not right."})
			return
		}
		s.throttle.succeed(r.RemoteAddr)
		id, exp := s.sessions.create()
		http.SetCookie(w, &http.Cookie{
			Name: sessionCookie, Value: id, Path: "/", Expires: exp, MaxAge: int(sessionTTL.Seconds()),
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
		})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

// handleLogout ends the session.
func (s *server) handleLogout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			s.sessions.end(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
}
