package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// templates holds the parsed mail bodies: each kind of mail has a text and an
// HTML template of the same name. html/template escapes every value, so a
// commit title or author name cannot add markup or links to the HTML part.
type templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// parseTemplates parses the constant templates of templates.go; they are part
// of the program, so a parse error is a bug the tests catch, not bad input.
func parseTemplates() *templates {
	return &templates{
		text: texttemplate.Must(texttemplate.New("text").Parse(textTemplates)),
		html: htmltemplate.Must(htmltemplate.New("html").Parse(htmlLayout + htmlTemplates)),
	}
}

// render fills the text and HTML templates called name with data.
func (t *templates) render(name string, data any) (text, html string, err error) {
	var tb, hb bytes.Buffer
	if err := t.text.ExecuteTemplate(&tb, name, data); err != nil {
		return "", "", fmt.Errorf("render %s text: %w", name, err)
	}
	if err := t.html.ExecuteTemplate(&hb, name, data); err != nil {
		return "", "", fmt.Errorf("render %s html: %w", name, err)
	}
	return tb.String(), hb.String(), nil
}

// commitView is a commit as mail shows it; every field is one line.
type commitView struct {
	Short, Title, Author, Branch string
}

func viewCommit(c greenlight.Commit) commitView {
	author := oneLine(c.AuthorName)
	if c.AuthorEmail != "" {
		if author == "" {
			author = oneLine(c.AuthorEmail)
		} else {
			author += " <" + oneLine(c.AuthorEmail) + ">"
		}
	}
	return commitView{Short: c.Short(), Title: oneLine(c.Title), Author: author, Branch: oneLine(c.Branch)}
}

type approvalView struct {
	Pipeline   string
	Run        int64
	Commit     commitView
	Changes    []string
	ReviewURL  string
	Deadline   string // in UTC, spelled out
	DeadlineIn string // "in 3 days"
	Required   int
	Approvers  int
	ApproveURL string
	RejectURL  string
}

// approvalMail is an approver's decision mail, with TokenPlaceholder where
// the token goes; the Dispatcher fills it in when it sends the mail.
func (n *Notifier) approvalMail(a *greenlight.Approval, run *greenlight.Run, approver string, now time.Time) (*greenlight.Mail, error) {
	v := approvalView{
		Pipeline:   a.Pipeline,
		Run:        run.ID,
		Commit:     viewCommit(run.Commit),
		ReviewURL:  a.ReviewURL,
		Deadline:   a.Deadline.UTC().Format("Monday 2 January 2006, 15:04 MST"),
		DeadlineIn: until(a.Deadline.Sub(now)),
		Required:   max(a.Required, 1),
		Approvers:  len(a.Approvers),
		ApproveURL: n.decisionURL(greenlight.TokenPlaceholder, greenlight.Approve),
		RejectURL:  n.decisionURL(greenlight.TokenPlaceholder, greenlight.Reject),
	}
	for _, c := range a.Changes {
		v.Changes = append(v.Changes, oneLine(c))
	}
	subject := fmt.Sprintf("Approve %s #%d: %s?", a.Pipeline, run.ID, subjectTitle(v.Commit.Title))
	m, err := n.newMail("approval:"+id(a.ID)+":"+approver, []string{approver}, subject, "approval", v)
	if err != nil {
		return nil, err
	}
	m.ApprovalID, m.Approver = a.ID, approver
	return m, nil
}

type revokedView struct {
	Pipeline string
	Run      int64
	Commit   commitView
	Reason   string // "superseded", "cancelled", or the orchestrator's words
}

func (n *Notifier) revokedMail(a *greenlight.Approval, run *greenlight.Run, approver, reason string) (*greenlight.Mail, error) {
	v := revokedView{Pipeline: a.Pipeline, Run: run.ID, Commit: viewCommit(run.Commit), Reason: oneLine(reason)}
	subject := fmt.Sprintf("No longer needed: approval of %s #%d (%s)", a.Pipeline, run.ID, subjectTitle(v.Commit.Title))
	return n.newMail("revoked:"+id(a.ID)+":"+approver, []string{approver}, subject, "revoked", v)
}

type failureView struct {
	Pipeline   string
	Run        int64
	Commit     commitView
	Status     greenlight.RunStatus
	Reason     string
	Stage      string // the stage that halted the run, if known
	Rejections []greenlight.Decision
	RunURL     string
}

func (n *Notifier) failureMail(run *greenlight.Run, status greenlight.RunStatus, reason string, rejections []greenlight.Decision, to []string, key string) (*greenlight.Mail, error) {
	v := failureView{
		Pipeline: run.Pipeline, Run: run.ID, Commit: viewCommit(run.Commit), Status: status,
		Reason: reason, Rejections: rejections, RunURL: n.runURL(run.ID),
	}
	for _, s := range run.Stages {
		if s.Status == greenlight.StageFailed || s.Status == greenlight.StageRejected || s.Status == greenlight.StageExpired {
			v.Stage = s.Name
			break
		}
	}
	subject := fmt.Sprintf("%s #%d %s: %s", run.Pipeline, run.ID, status, subjectTitle(v.Commit.Title))
	return n.newMail(key, to, subject, "failure", v)
}

func (n *Notifier) newMail(key string, to []string, subject, tmpl string, data any) (*greenlight.Mail, error) {
	text, html, err := n.tmpl.render(tmpl, data)
	if err != nil {
		return nil, err
	}
	now := n.cfg.Now()
	return &greenlight.Mail{
		Key: key, To: to, Subject: subjectLine(subject), Text: text, HTML: html,
		CreatedAt: now, NextAttempt: now,
	}, nil
}

// subjectLine makes s one line of reasonable length. The mail library encodes
// headers itself; this guards against any header it might get wrong and keeps
// subjects readable in an inbox.
func subjectLine(s string) string {
	s = oneLine(s)
	const maxRunes = 150
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes-1]) + "…"
	}
	return s
}

// maxSubjectTitle bounds the commit title in a subject, in characters: the
// title is the committer's words (a stranger's, for a pull request), and a
// subject is for the pipeline, the run and what happened.
const maxSubjectTitle = 60

// subjectTitle is a commit title fit for a subject: one line, without
// control or direction-changing characters, at most maxSubjectTitle
// characters.
func subjectTitle(s string) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > maxSubjectTitle {
		s = strings.TrimSpace(string(r[:maxSubjectTitle-1])) + "…"
	}
	return s
}

// oneLine replaces control characters (CR, LF, tab, …) with spaces, drops
// the invisible characters that reorder text (bidirectional overrides and
// isolates, which can make a subject read as something else), and trims.
// It also removes every greenlight.TokenPlaceholder: the Dispatcher puts the
// approver's token wherever the placeholder is, and a commit title must not
// be able to place it in a link of its own (http://evil.example/?t=…).
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		if r == '\u061c' || r == '\u200e' || r == '\u200f' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(withoutPlaceholder(s))
}

// withoutPlaceholder removes every token placeholder from s, including one
// that a removal would join from the pieces around it, in one pass: a
// placeholder is cut as soon as the output ends with it (repeated
// ReplaceAll would take time quadratic in a crafted commit title).
func withoutPlaceholder(s string) string {
	p := greenlight.TokenPlaceholder
	if !strings.Contains(s, p) {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if len(out) >= len(p) && string(out[len(out)-len(p):]) == p {
			out = out[:len(out)-len(p)]
		}
	}
	return string(out)
}

// until spells a duration the way a person would read it in a mail.
func until(d time.Duration) string {
	switch {
	case d <= 0:
		return "already passed"
	case d < 2*time.Minute:
		return "in a minute"
	case d < 2*time.Hour:
		return fmt.Sprintf("in %d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d hours", int(d.Hours()))
	default:
		return fmt.Sprintf("in %d days", int(d.Hours()/24))
	}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }
