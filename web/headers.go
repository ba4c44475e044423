package web

import (
	"net/http"
	"strings"
)

// csp allows only our own stylesheet and images and forms that post back to
// us: no scripts, no inline code, no third-party origins, no framing.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// cspWithScript is csp plus our own scripts, for the pages that refresh
// themselves (static/refresh.js). Decision pages never get it.
const cspWithScript = csp + "; script-src 'self'"

// securityHeaders sets, on every response, the headers SPEC §6 asks of the
// decision pages. They cost nothing on the API and keep a forgotten page from
// leaking a token through a Referer, a cache or a frame.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", csp)
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a POST that a browser says came from another site. The
// Origin header, when present, must be PublicURL's origin. Browsers send
// "Origin: null" for our own forms because the pages are no-referrer; then
// Sec-Fetch-Site, which a page cannot forge, must say same-origin.
func (s *server) sameOrigin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.allowedOrigin(r) {
			s.renderError(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused.")
			return
		}
		next(w, r)
	}
}

func (s *server) allowedOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	site := r.Header.Get("Sec-Fetch-Site")
	switch {
	case origin == "" && (site == "" || site == "same-origin" || site == "none"):
		return true // not a browser, or an old one: nothing to compare
	case origin == "null":
		return site == "same-origin"
	}
	return s.origin != "" && strings.EqualFold(origin, s.origin)
}
