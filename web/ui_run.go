package web

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
)

// maxPageLog is how much of each stage's log the run page shows: the end,
// where the failure usually is. The full text is one click away.
const maxPageLog = 1 << 20

// stageView is one stage on the run page, with the end of its log.
type stageView struct {
	greenlight.Stage
	Log    string
	HasLog bool
	Cut    bool      // only the end of the log is shown
	Gate   *gateCard // an approval stage's gate, once it opened
}

// gateCard is an approval stage's gate on the run page: who is asked, how
// far it is, until when, and each decision with its comment.
type gateCard struct {
	Approval *greenlight.Approval
	Progress []approval.RuleProgress // each rule's progress, counted by package approval
	Deadline string                  // when, and how long from now
}

// handleRunPage shows a run: its commit, stages, errors and logs. While the
// run is not finished the page reloads itself (static/refresh.js).
func (s *server) handleRunPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			s.renderErr(w, r, err)
			return
		}
		run, err := s.cfg.Store.Run(r.Context(), id)
		if err != nil {
			s.renderErr(w, r, err)
			return
		}
		stages := make([]stageView, 0, len(run.Stages))
		for _, st := range run.Stages {
			v := stageView{Stage: st}
			rc, err := s.cfg.Logs.Open(run.ID, st.Name)
			switch {
			case err == nil:
				b, cut, err := tail(rc, maxPageLog)
				if err != nil {
					s.renderErr(w, r, fmt.Errorf("log of run %d stage %s: %w", run.ID, st.Name, err))
					return
				}
				if cut { // start at a whole line
					if i := bytes.IndexByte(b, '\n'); i >= 0 {
						b = b[i+1:]
					}
				}
				v.Log, v.HasLog, v.Cut = string(bytes.ToValidUTF8(b, []byte("\uFFFD"))), true, cut
			case greenlight.ErrorCode(err) != greenlight.ENOTFOUND:
				s.renderErr(w, r, fmt.Errorf("open log of run %d stage %s: %w", run.ID, st.Name, err))
				return
			}
			if st.Type == greenlight.StageApproval {
				a, err := s.cfg.Store.ApprovalForStage(r.Context(), run.ID, st.Name)
				switch {
				case err == nil:
					v.Gate = &gateCard{Approval: a, Progress: approval.Progress(a), Deadline: deadline(a.Deadline, s.cfg.Now())}
				case greenlight.ErrorCode(err) != greenlight.ENOTFOUND:
					s.renderErr(w, r, fmt.Errorf("approval of run %d stage %s: %w", run.ID, st.Name, err))
					return
				}
			}
			stages = append(stages, v)
		}
		data := struct {
			Run          *greenlight.Run
			Stages       []stageView
			Compares     []compareView
			MoreFailures int
		}{run, stages, s.runCompares(r.Context(), run), moreFailures(run.Tests)}
		s.render(w, r, http.StatusOK, "run", page{Title: "Run #" + strconv.FormatInt(run.ID, 10) + " · " + run.Pipeline,
			Nav: true, Active: "pipelines", Refresh: !run.Status.Terminal(), Data: data})
	}
}

// handleCancelForm cancels a run from the run page's button.
func (s *server) handleCancelForm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			s.renderErr(w, r, err)
			return
		}
		if _, err := s.cfg.Engine.Cancel(r.Context(), id); err != nil {
			s.renderErr(w, r, err)
			return
		}
		http.Redirect(w, r, "/runs/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	}
}
