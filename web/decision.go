package web

import (
	"context"
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
	Token       string
	Approver    string
	Run         *greenlight.Run
	Approval    *greenlight.Approval
	Environment string                  // where the gate leads: "production" unless the pipeline says otherwise
	SameAsLive  bool                    // the run's commit is the one already live there
	LiveCommit  string                  // the commit live there, "" if none
	CompareURL  string                  // the forge's page comparing LiveCommit with the run's commit, if known
	Progress    []approval.RuleProgress // each rule's progress, counted by package approval
	Summary     string                  // the same in one line: "product (1 of 1) and qa (0 of 1)"
	Error       string                  // why the decision posted was not recorded (422)
	Comment     string                  // the comment posted with it, to post again
	CommentOn   string                  // when a comment is required: none, reject, approve or both
	Deadline    string                  // when, and how long from now
	StartedBy   string                  // who started the run, and how
	Own         *greenlight.Decision    // this link's decision, once it decided
	Message     string                  // why the link no longer works (gone page)
	Verdict     greenlight.Verdict
}

// handleDecisionPage shows what a token approves. It only reads: mail
// scanners open every link, and must not decide anything. The page opens
// with nothing chosen and nothing focused (the mail's Approve and Reject
// links open the same page): the approver reads what ships before choosing.
// A link that already decided answers 410, as every link that can no longer
// decide, but thanks its own approver and shows their decision and where the
// gate stands, since that is who reloads it.
func (s *server) handleDecisionPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		view, err := s.cfg.Engine.Lookup(r.Context(), token)
		if err != nil {
			s.renderErr(w, r, err)
			return
		}
		d, err := s.decisionData(r.Context(), token, view.Approver, view.Run, view.Approval)
		if err != nil {
			s.renderErr(w, r, err)
			return
		}
		if view.State == approval.TokenUsed {
			if own := lastDecision(view.Approval.Decisions, view.Approver); own != nil {
				d.Own, d.Verdict = own, own.Verdict
				s.render(w, r, http.StatusGone, "decided", page{Title: decidedTitle(own.Verdict), Data: d})
				return
			}
		}
		if view.State != approval.TokenOpen {
			d.Message = approval.Explain(view.State, view.Approval)
			s.render(w, r, http.StatusGone, "gone", page{Title: "This link can no longer be used", Data: d})
			return
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
		if greenlight.ErrorCode(err) == greenlight.EUNPROCESSABLE {
			// Nothing was recorded: show the page again, with the comment
			// as posted and what is missing.
			if view, lerr := s.cfg.Engine.Lookup(r.Context(), token); lerr == nil && view.State == approval.TokenOpen {
				if d, derr := s.decisionData(r.Context(), token, view.Approver, view.Run, view.Approval); derr == nil {
					d.Error, d.Comment = greenlight.ErrorMessage(err), in.Comment
					s.render(w, r, http.StatusUnprocessableEntity, "decision", page{Title: "Approve release of " + view.Run.Pipeline, Data: d})
					return
				}
			}
		}
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
			Progress: approval.Progress(out.Approval), Summary: approval.Summary(out.Approval), Own: lastDecision(out.Approval.Decisions, out.Approver)}
		if run, err := s.cfg.Store.Run(r.Context(), out.Approval.RunID); err == nil {
			d.Run, d.Environment = run, environment(run, out.Approval.Stage)
		} else {
			// The decision is recorded; the page can do without the run.
			s.cfg.Log.WarnContext(r.Context(), "load run for the decided page", "run", out.Approval.RunID, "err", err)
		}
		s.render(w, r, http.StatusOK, "decided", page{Title: decidedTitle(out.Verdict), Data: d})
	}
}

func decidedTitle(v greenlight.Verdict) string {
	if v == greenlight.Approve {
		return "Approved — thank you"
	}
	return "Rejected — thank you"
}

func (s *server) decisionData(ctx context.Context, token, approver string, run *greenlight.Run, a *greenlight.Approval) (decisionData, error) {
	d := decisionData{
		Token:       token,
		Approver:    approver,
		Run:         run,
		Approval:    a,
		Environment: environment(run, a.Stage),
		Progress:    approval.Progress(a),
		Summary:     approval.Summary(a),
		CommentOn:   a.CommentRequired,
		Deadline:    deadline(a.Deadline, s.cfg.Now()),
		StartedBy:   startedBy(run),
	}
	if env := greenlight.GuardedEnvironment(run, a.Stage); env != "" {
		live, err := s.cfg.Store.LiveRelease(ctx, run.Pipeline, env)
		switch {
		case err == nil:
			d.SameAsLive, d.LiveCommit = live.Commit == run.Commit.SHA, live.Commit
		case greenlight.ErrorCode(err) != greenlight.ENOTFOUND:
			return d, fmt.Errorf("release live in %s: %w", env, err)
		}
	}
	d.CompareURL = s.compareURL(run.Pipeline, d.LiveCommit, run.Commit.SHA)
	return d, nil
}

// compareURL is the forge's page comparing two commits of a pipeline's
// repository, or "" when the forge is not known.
func (s *server) compareURL(pipeline, from, to string) string {
	if s.cfg.Server == nil {
		return ""
	}
	if p := s.cfg.Server.Pipeline(pipeline); p != nil {
		return p.Source.CompareURL(from, to)
	}
	return ""
}

// environment names where an approval stage leads.
func environment(run *greenlight.Run, stage string) string {
	if env := greenlight.GuardedEnvironment(run, stage); env != "" {
		return env
	}
	return "production"
}

// startedBy says who started a run and how: "dana@example.com (webhook)".
func startedBy(run *greenlight.Run) string {
	if run.TriggeredBy != "" {
		return run.TriggeredBy + " (" + string(run.Trigger) + ")"
	}
	return string(run.Trigger)
}

// lastDecision is approver's latest decision, or nil.
func lastDecision(ds []greenlight.Decision, approver string) *greenlight.Decision {
	for i := len(ds) - 1; i >= 0; i-- {
		if strings.EqualFold(ds[i].Approver, approver) {
			return &ds[i]
		}
	}
	return nil
}

// deadline says when a gate closes, in words a person reads at a glance.
func deadline(at, now time.Time) string {
	s := at.UTC().Format("Monday 2 January 2006, 15:04 UTC")
	return s + " (" + greenlight.DueIn(at.Sub(now)) + ")"
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
