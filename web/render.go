package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// page is what every template gets: the layout's fields and the page's own
// data in Data.
type page struct {
	Title   string
	Nav     bool   // the admin header with navigation (logged-in pages)
	Active  string // the nav entry to highlight
	Refresh bool   // reload every 2 s (a run that has not finished)
	Data    any
}

// pages are the parsed templates, one per page, each with the shared layout.
type pages struct {
	byName map[string]*template.Template
}

// mustParsePages parses the embedded templates. They are part of the binary,
// so a failure is a bug that every test run catches.
func mustParsePages() *pages {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range []string{"login", "index", "pipeline", "run", "approvals", "outbox",
		"decision", "decided", "gone", "error"} {
		t := template.Must(template.New("layout.html").Funcs(templateFuncs()).
			ParseFS(templateFiles, "templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
		p.byName[name] = t
	}
	return p
}

// render writes a page. Rendering goes to a buffer first so that a template
// error becomes a clean 500 instead of half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.pages.byName[name].Execute(&buf, p); err != nil {
		s.cfg.Log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if p.Refresh {
		w.Header().Set("Content-Security-Policy", cspWithScript)
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows a page with a message and the status.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", page{Title: http.StatusText(status), Data: struct {
		Status int
		Text   string
		Msg    string
	}{status, http.StatusText(status), msg}})
}

// renderErr shows err as a page: its user message and mapped status;
// internal errors are logged and shown generically.
func (s *server) renderErr(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		s.cfg.Log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", loggedPath(r), "err", err)
	}
	msg := messageOf(err)
	if status == http.StatusInternalServerError {
		msg = "Something went wrong on our side. Please try again in a moment."
	}
	s.renderError(w, r, status, msg)
}

// templateFuncs are the helpers templates use. They are pure: no clock, no I/O.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"when":     when,
		"whenp":    whenPtr,
		"took":     took,
		"linkify":  linkify,
		"join":     strings.Join,
		"terminal": func(s greenlight.RunStatus) bool { return s.Terminal() },
		"sentence": sentence,
		"short":    func(sha string) string { return truncate(sha, 7) },
		"short12":  func(sha string) string { return truncate(sha, 12) },
		"bytes":    humanBytes,
		"progress": approval.Summary, // "product (1 of 1) and qa (0 of 1)"
	}
}

// sentence makes a lowercase error message read as a sentence on a page.
func sentence(msg string) string {
	if msg == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.ContainsAny(msg[len(msg)-1:], ".!?") {
		msg += "."
	}
	return msg
}

// humanBytes writes a size the way people read it.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func whenPtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return when(*t)
}

// took is how long a stage ran, "" if it has not finished.
func took(start, end *time.Time) string {
	if start == nil || end == nil {
		return ""
	}
	d := end.Sub(*start)
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// textPart is a piece of text, a link when URL is set.
type textPart struct {
	Text string
	URL  string
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify splits text into plain parts and http(s) links, so that the outbox
// shows a mail's approval links as links while html/template escapes all.
func linkify(text string) []textPart {
	var parts []textPart
	last := 0
	for _, m := range urlPattern.FindAllStringIndex(text, -1) {
		end := m[1]
		for end > m[0] && strings.ContainsRune(".,;:!?)]", rune(text[end-1])) {
			end-- // punctuation ending a sentence is not part of the link
		}
		if m[0] > last {
			parts = append(parts, textPart{Text: text[last:m[0]]})
		}
		parts = append(parts, textPart{Text: text[m[0]:end], URL: text[m[0]:end]})
		last = end
	}
	if last < len(text) {
		parts = append(parts, textPart{Text: text[last:]})
	}
	return parts
}

// loggedPath is a request's path fit for the log: an approval link's token
// is its approver's secret and is never written down.
func loggedPath(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/approvals/") {
		return "/approvals/(token)"
	}
	return r.URL.Path
}
