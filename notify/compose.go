package notify

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
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

// changeView is one commit of what ships.
type changeView struct {
	Short, Title, Author string
}

// decisionView is one decision so far, as mail shows it.
type decisionView struct {
	Verdict  string // "approved" or "rejected"
	Approver string
	At       string
	Comment  string // may be several lines
	Indented string // Comment with its later lines indented, for the text part
}

func viewDecisions(ds []greenlight.Decision) []decisionView {
	out := make([]decisionView, 0, len(ds))
	for _, d := range ds {
		v := decisionView{Verdict: "approved", Approver: oneLine(d.Approver),
			At: d.At.UTC().Format("2006-01-02 15:04 MST"), Comment: comment(d.Comment)}
		v.Indented = strings.ReplaceAll(v.Comment, "\n", "\n    ")
		if d.Verdict == greenlight.Reject {
			v.Verdict = "rejected"
		}
		out = append(out, v)
	}
	return out
}

// comment is an approver's comment fit for mail: without the characters
// oneLine drops, but with its line breaks.
func comment(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = oneLine(l)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// startedBy says who started a run and how: "Dana Dev, by a push (webhook)".
func startedBy(run *greenlight.Run) string {
	how := string(run.Trigger)
	if by := oneLine(run.TriggeredBy); by != "" {
		return by + " (" + how + ")"
	}
	return how
}

// testsView is a run's test summary in one line, or "".
func testsLine(t *greenlight.TestSummary) string {
	if t == nil {
		return ""
	}
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", t.Passed, t.Failed, t.Skipped)
	return s
}

type approvalView struct {
	Pipeline    string
	Run         int64
	Commit      commitView
	Environment string // the environment the gate guards, "production" if unknown
	SameAsLive  bool   // the commit is the one already live there
	Changes     []changeView
	CompareURL  string // the forge's page comparing the live commit with this one, or ""
	ReviewURL   string
	Deadline    string // in UTC, spelled out
	DeadlineIn  string // "in 3 days"
	Needed      string // approval.Needed: what the gate needs, "" for one approver
	Note        string // a reminder's or an escalation's first words; "" for the first mail
	StartedBy   string
	Artifact    string // short digest, or ""
	Tests       string // "12 passed, 0 failed, 1 skipped", or ""
	Failures    []string
	Decisions   []decisionView
	ApproveURL  string
	RejectURL   string
}

// approvalMail is an approver's decision mail, with TokenPlaceholder where
// the token goes; the Dispatcher fills it in when it sends the mail.
//
// kind says whether it is the first mail, a reminder or an escalation; now
// is when it goes out (the links go out at a.OpensAt at the earliest).
func (n *Notifier) approvalMail(ctx context.Context, a *greenlight.Approval, run *greenlight.Run, approver string, now time.Time, kind int) (*greenlight.Mail, error) {
	v := approvalView{
		Pipeline:    a.Pipeline,
		Run:         run.ID,
		Commit:      viewCommit(run.Commit),
		Environment: environment(run, a.Stage),
		ReviewURL:   a.ReviewURL,
		Deadline:    a.Deadline.UTC().Format("Monday 2 January 2006, 15:04 MST"),
		DeadlineIn:  greenlight.DueIn(a.Deadline.Sub(now)),
		Needed:      approval.Needed(a),
		StartedBy:   startedBy(run),
		Tests:       testsLine(run.Tests),
		Decisions:   viewDecisions(a.Decisions),
		ApproveURL:  n.decisionURL(greenlight.TokenPlaceholder, greenlight.Approve),
		RejectURL:   n.decisionURL(greenlight.TokenPlaceholder, greenlight.Reject),
	}
	if run.Artifact != nil && len(run.Artifact.SHA256) >= 12 {
		v.Artifact = "sha256:" + run.Artifact.SHA256[:12]
	}
	if run.Tests != nil {
		for _, f := range run.Tests.Failures {
			v.Failures = append(v.Failures, oneLine(f.Name+": "+f.Message))
		}
	}
	if env := greenlight.GuardedEnvironment(run, a.Stage); env != "" {
		live, err := n.cfg.Store.LiveRelease(ctx, run.Pipeline, env)
		switch {
		case err == nil:
			v.SameAsLive = live.Commit == run.Commit.SHA
			if n.cfg.Compare != nil && !v.SameAsLive {
				v.CompareURL = oneLine(n.cfg.Compare(run.Pipeline, live.Commit, run.Commit.SHA))
			}
		case greenlight.ErrorCode(err) != greenlight.ENOTFOUND:
			return nil, fmt.Errorf("load release live in %s: %w", env, err)
		}
	}
	for _, c := range a.Changes {
		v.Changes = append(v.Changes, changeView{Short: c.Short(), Title: oneLine(c.Title), Author: oneLine(c.Author)})
	}
	subject := fmt.Sprintf("Approve %s #%d: %s", a.Pipeline, run.ID, subjectTitle(v.Commit.Title))
	key := "approval:" + id(a.ID) + ":" + approver
	switch kind {
	case followRemind:
		v.Note = "Reminder: this release still waits for your decision."
		subject = "Reminder: " + subject
		key = "remind:" + id(a.ID) + ":" + now.UTC().Format(time.RFC3339) + ":" + approver
	case followEscalate:
		v.Note = "You are asked too: nobody has decided on this release yet and its deadline is getting close."
		subject = "Escalated: " + subject
		key = "escalate:" + id(a.ID) + ":" + approver
	}
	if kind != followNone {
		// Composed when the gate opened, sent later: counts and decisions
		// would be stale.
		v.Needed, v.Decisions = "", nil
	}
	m, err := n.newMail(key, []string{approver}, subject, "approval", v)
	if err != nil {
		return nil, err
	}
	m.ApprovalID, m.Approver = a.ID, approver
	m.NextAttempt = later(m.NextAttempt, now)
	return m, nil
}

// environment names the environment an approval stage guards, in words.
func environment(run *greenlight.Run, stage string) string {
	if env := greenlight.GuardedEnvironment(run, stage); env != "" {
		return oneLine(env)
	}
	return "production"
}

// What kind of decision mail: the first, a reminder, an escalation.
const (
	followNone = iota
	followRemind
	followEscalate
)

type excludedView struct {
	Pipeline string
	Run      int64
	Commit   commitView
	Why      string // "the commit's author"
	RunURL   string
}

// excludedMail tells a listed approver who may not decide this run why:
// it carries no decision links.
func (n *Notifier) excludedMail(a *greenlight.Approval, run *greenlight.Run, e greenlight.Exclusion) (*greenlight.Mail, error) {
	v := excludedView{Pipeline: a.Pipeline, Run: run.ID, Commit: viewCommit(run.Commit), Why: oneLine(e.Why), RunURL: n.runURL(run.ID)}
	subject := fmt.Sprintf("For your information: %s #%d waits for approval by others", a.Pipeline, run.ID)
	m, err := n.newMail("excluded:"+id(a.ID)+":"+e.Approver, []string{e.Approver}, subject, "excluded", v)
	if err != nil {
		return nil, err
	}
	m.NextAttempt = later(m.NextAttempt, a.OpensAt)
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
	Rejections []decisionView
	RunURL     string
}

func (n *Notifier) failureMail(run *greenlight.Run, status greenlight.RunStatus, reason string, rejections []greenlight.Decision, to []string, key string) (*greenlight.Mail, error) {
	v := failureView{
		Pipeline: run.Pipeline, Run: run.ID, Commit: viewCommit(run.Commit), Status: status,
		Reason: oneLine(reason), Rejections: viewDecisions(rejections), RunURL: n.runURL(run.ID),
	}
	if status == greenlight.RunRejected && len(rejections) > 0 {
		// The reason is "rejected by X: comment"; the rejections below say
		// exactly that, with the time and the whole comment.
		v.Reason = ""
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

func id(n int64) string { return strconv.FormatInt(n, 10) }

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
