package notify

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/greenlight-cd/greenlight"
)

// A chat message says what happened in one line (headline), then a few
// facts, then links to the run's page. It never holds a decision link (each
// is one approver's secret) and quotes every stranger's word (commit title
// and author, comments, errors) escaped for the chat's format.

// fact is one labelled line under a chat message's headline.
type fact struct{ title, value string }

// headline says what happened, in plain words, unescaped.
func headline(p *Payload) string {
	run := fmt.Sprintf("%s #%d", p.Pipeline, p.Run.ID)
	stage := ""
	if p.Stage != nil {
		stage = p.Stage.Name
	}
	switch p.Event {
	case greenlight.NoticeRunStarted:
		return run + " started"
	case greenlight.NoticeRunSucceeded:
		return run + " succeeded"
	case greenlight.NoticeRunFailed:
		return run + " failed"
	case greenlight.NoticeRunRejected:
		return run + " was rejected"
	case greenlight.NoticeRunExpired:
		return run + " expired: nobody decided before the deadline"
	case greenlight.NoticeRunCancelled:
		return run + " was cancelled"
	case greenlight.NoticeRunSuperseded:
		return run + " was superseded by a newer run"
	case greenlight.NoticeStageStarted:
		return fmt.Sprintf("%s: %s started", run, stage)
	case greenlight.NoticeStageFinished:
		status := ""
		if p.Stage != nil {
			status = string(p.Stage.Status)
		}
		return fmt.Sprintf("%s: %s %s", run, stage, status)
	case greenlight.NoticeApprovalRequested:
		return fmt.Sprintf("%s waits for approval at %s", run, stage)
	case greenlight.NoticeApprovalDecided:
		if d := p.Approval.Decision; d != nil {
			verb := "approved"
			if d.Decision == greenlight.Reject {
				verb = "rejected"
			}
			return fmt.Sprintf("%s %s %s at %s", d.Approver, verb, run, stage)
		}
		return fmt.Sprintf("%s: decision at %s", run, stage)
	case greenlight.NoticeApprovalRevoked:
		return fmt.Sprintf("%s: approval at %s no longer needed (%s)", run, stage, p.Approval.Reason)
	case greenlight.NoticeReleaseLive:
		return fmt.Sprintf("%s is live in %s", run, p.Release.Environment)
	case greenlight.NoticeReleaseRolledBack:
		return fmt.Sprintf("%s was rolled back in %s", run, p.Release.Environment)
	case greenlight.NoticeReleaseFailed:
		return fmt.Sprintf("%s failed to release to %s", run, p.Release.Environment)
	}
	return run + ": " + p.Event
}

// facts are the lines under the headline, unescaped.
func facts(p *Payload) []fact {
	c := p.Run.Commit
	commit := c.Short()
	if c.Title != "" {
		commit += " " + c.Title
	}
	if c.AuthorName != "" {
		commit += " (" + c.AuthorName + ")"
	}
	out := []fact{{"Commit", commit}}
	if a := p.Approval; a != nil {
		out = append(out, fact{"Approvals", fmt.Sprintf("%d of %d", a.Approved, a.Required)})
		if a.Status == greenlight.ApprovalPending {
			out = append(out, fact{"Deadline", a.Deadline.Format("Mon 2 Jan 15:04 MST")})
			out = append(out, fact{"Asked", "each approver by email, with their own links"})
		}
		if d := a.Decision; d != nil && d.Comment != "" {
			out = append(out, fact{"Comment", d.Comment})
		}
	}
	switch {
	case p.Stage != nil && p.Stage.Error != "" && p.Event == greenlight.NoticeStageFinished:
		out = append(out, fact{"Error", p.Stage.Error})
	case p.Run.Error != "" && strings.HasPrefix(p.Event, "run."):
		out = append(out, fact{"Reason", p.Run.Error})
	}
	for i := range out {
		out[i].value = clip(out[i].value, 500)
	}
	return out
}

// clip cuts s to at most n bytes on a character boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncate(s, n-3) + "…"
}

// Slack: an incoming-webhook message, `text` (the notification's fallback)
// plus Block Kit blocks, mrkdwn escaped as Slack documents: &, < and >
// (which also keeps a title from writing <!channel> or a link of its own).

type slackBody struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackMessage(p *Payload) slackBody {
	head := slackEscaper.Replace(headline(p))
	var fields []slackText
	for _, f := range facts(p) {
		fields = append(fields, slackText{"mrkdwn", "*" + f.title + "*\n" + slackEscaper.Replace(f.value)})
	}
	link := fmt.Sprintf("<%s|Open run #%d>", p.Run.URL, p.Run.ID)
	return slackBody{Text: head, Blocks: []slackBlock{
		{Type: "section", Text: &slackText{"mrkdwn", "*" + head + "*"}},
		{Type: "section", Fields: fields},
		{Type: "context", Elements: []slackText{{"mrkdwn", link}}},
	}}
}

// Teams: a Workflows incoming-webhook message carrying one Adaptive Card
// (version 1.4), the format Microsoft documents for Teams webhooks now
// that Office 365 connectors and their MessageCard are retired. Text blocks
// take a subset of Markdown: its characters are escaped with a backslash,
// and "{{" (a card's date function) is broken up.

type teamsBody struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string        `json:"$schema"`
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Body    []teamsBlock  `json:"body"`
	Actions []teamsAction `json:"actions"`
	MSTeams struct {
		Width string `json:"width"`
	} `json:"msteams"`
}

type teamsBlock struct {
	Type   string      `json:"type"`
	Text   string      `json:"text,omitempty"`
	Weight string      `json:"weight,omitempty"`
	Size   string      `json:"size,omitempty"`
	Wrap   bool        `json:"wrap,omitempty"`
	Facts  []teamsFact `json:"facts,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type teamsAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

var teamsEscaper = strings.NewReplacer(
	`\`, `\\`, `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, "`", "\\`",
	`~`, `\~`, `<`, `\<`, `>`, `\>`, `{{`, `{\{`, "\r", " ", "\n", " ")

// teamsList is the start of a text Markdown would make a list item.
var teamsList = regexp.MustCompile(`^(?:[-+]|\d+\.)\s`)

// teamsEscape escapes s for a card's text. Newlines become spaces, so
// only the start can open a list: that one is escaped too.
func teamsEscape(s string) string {
	s = teamsEscaper.Replace(s)
	if teamsList.MatchString(s) {
		s = `\` + s
	}
	return s
}

func teamsMessage(p *Payload) teamsBody {
	card := teamsCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4"}
	card.MSTeams.Width = "Full"
	card.Body = append(card.Body, teamsBlock{Type: "TextBlock", Text: teamsEscape(headline(p)), Weight: "Bolder", Size: "Medium", Wrap: true})
	var list []teamsFact
	for _, f := range facts(p) {
		list = append(list, teamsFact{Title: f.title, Value: teamsEscape(f.value)})
	}
	card.Body = append(card.Body, teamsBlock{Type: "FactSet", Facts: list})
	card.Actions = []teamsAction{{Type: "Action.OpenUrl", Title: fmt.Sprintf("Open run #%d", p.Run.ID), URL: p.Run.URL}}
	return teamsBody{Type: "message", Attachments: []teamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}
