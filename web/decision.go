package web

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// maxDecisionForm bounds a decision form: a verdict and a comment of at most
// approval.MaxComment bytes, URL-encoded.
const maxDecisionForm = 64 << 10

// decisionData is what the decision, result and gone pages show.
type decisionData struct {
	Token     string
	Approver  string
	Run       *greenlight.Run
	Approval  *greenlight.Approval
	Approvals int    // approve decisions so far
	Preselect string // "approve", "reject" or ""
	Deadline  string // when, and how long from now
	Message   string // why the link no longer works (gone page)
	Verdict   greenlight.Verdict
}

// handleDecisionPage shows what a token approves. It only reads: mail
// scanners open every link, and must not decide anything.
func (s *server) handleDecisionPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		view, err := s.cfg.Engine.Lookup(r.Context(), token)
		if err != nil {
			s.renderErr(w, r, err)
			return
		}
		d := s.decisionData(token, view.Approver, view.Run, view.Approval)
		if view.State != approval.TokenOpen {
			d.Message = approval.Explain(view.State, view.Approval)
			s.render(w, r, http.StatusGone, "gone", page{Title: "This link can no longer be used", Data: d})
			return
		}
		switch v := r.URL.Query().Get("decision"); v {
		case string(greenlight.Approve), string(greenlight.Reject):
			d.Preselect = v
		}
		s.render(w, r, http.StatusOK, "decision", page{Title: "Approve release of " + view.Run.Pipeline, Data: d})
	}
}

// handleDecide records the decision posted through a token.
func (s *server) handleDecide() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		r.Body = http.MaxBytesReader(w, r.Body, maxDecisionForm)
		if err := r.ParseForm(); err != nil {
			s.renderErr(w, r, greenlight.Errorf(greenlight.EINVALID, "the form could not be read"))
			return
		}
		in := approval.Input{
			Verdict:   greenlight.Verdict(r.PostForm.Get("decision")),
			Comment:   r.PostForm.Get("comment"),
			IP:        clientIP(r),
			UserAgent: truncate(strings.ToValidUTF8(r.UserAgent(), ""), 512),
		}
		out, err := s.cfg.Engine.Decide(r.Context(), token, in)
		if err != nil {
			if greenlight.ErrorCode(err) == greenlight.EGONE {
				s.render(w, r, http.StatusGone, "gone", page{Title: "This link can no longer be used",
					Data: decisionData{Message: greenlight.ErrorMessage(err)}})
				return
			}
			s.renderErr(w, r, err)
			return
		}
		s.cfg.Log.InfoContext(r.Context(), "approval decided", "approval", out.Approval.ID, "run", out.Approval.RunID,
			"approver", out.Approver, "decision", out.Verdict, "status", out.Approval.Status)
		d := decisionData{Approver: out.Approver, Approval: out.Approval, Verdict: out.Verdict,
			Approvals: countApprovals(out.Approval.Decisions)}
		title := "Rejected"
		if out.Verdict == greenlight.Approve {
			title = "Approved — thank you"
		}
		s.render(w, r, http.StatusOK, "decided", page{Title: title, Data: d})
	}
}

func (s *server) decisionData(token, approver string, run *greenlight.Run, a *greenlight.Approval) decisionData {
	return decisionData{
		Token:     token,
		Approver:  approver,
		Run:       run,
		Approval:  a,
		Approvals: countApprovals(a.Decisions),
		Deadline:  deadline(a.Deadline, s.cfg.Now()),
	}
}

// countApprovals counts the distinct approvers who approved.
func countApprovals(ds []greenlight.Decision) int {
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Verdict == greenlight.Approve {
			seen[d.Approver] = true
		}
	}
	return len(seen)
}

// deadline says when a gate closes, in words a person reads at a glance.
func deadline(at, now time.Time) string {
	s := at.UTC().Format("Monday 2 January 2006, 15:04 UTC")
	left := at.Sub(now)
	switch {
	case left <= 0:
		return s + " (passed)"
	case left < time.Hour:
		return fmt.Sprintf("%s (in %s)", s, count(int(left.Minutes())+1, "minute"))
	case left < 48*time.Hour:
		return fmt.Sprintf("%s (in %s)", s, count(int(left.Hours()), "hour"))
	}
	return fmt.Sprintf("%s (in %s)", s, count(int(left.Hours()/24), "day"))
}

// count writes n and the unit, in the plural unless n is 1.
func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// clientIP is the address the request came from. X-Forwarded-For is not
// trusted: anyone can write it, and the record of who decided must hold.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
