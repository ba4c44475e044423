package web

import (
	"fmt"
	"net/http"

	"github.com/greenlight-cd/greenlight"
)

// handleIndexPage lists the pipelines with their latest runs.
func (s *server) handleIndexPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		list, err := pipelineViews(r.Context(), s.cfg.Server, s.cfg.Store)
		if err != nil {
			s.renderErr(w, r, err)
			return
		}
		s.render(w, r, http.StatusOK, "index", page{Title: "Pipelines", Nav: true, Active: "pipelines", Data: list})
	}
}

// envView is one environment on the pipeline page.
type envView struct {
	Name    string
	Current *greenlight.Release
}

// handlePipelinePage shows a pipeline's recent runs and what is live where.
func (s *server) handlePipelinePage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := s.cfg.Server.Pipeline(r.PathValue("name"))
		if p == nil {
			s.renderError(w, r, http.StatusNotFound, "There is no pipeline with that name.")
			return
		}
		runs, err := s.cfg.Store.Runs(r.Context(), greenlight.RunFilter{Pipeline: p.Name, Limit: defaultRunLimit})
		if err != nil {
			s.renderErr(w, r, fmt.Errorf("runs of %s: %w", p.Name, err))
			return
		}
		var envs []envView
		for _, name := range environmentNames(p) {
			cur, err := s.cfg.Store.LiveRelease(r.Context(), p.Name, name)
			if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
				s.renderErr(w, r, fmt.Errorf("live release of %s/%s: %w", p.Name, name, err))
				return
			}
			envs = append(envs, envView{Name: name, Current: cur})
		}
		data := struct {
			Name   string
			Repo   string
			Branch string
			Runs   []*greenlight.Run
			Envs   []envView
		}{p.Name, greenlight.RedactURL(p.Source.Repo), p.Source.Branch, runs, envs}
		s.render(w, r, http.StatusOK, "pipeline", page{Title: p.Name, Nav: true, Active: "pipelines", Data: data})
	}
}

// handleApprovalsPage lists the gates waiting for a decision.
func (s *server) handleApprovalsPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		list, err := s.cfg.Store.Approvals(r.Context(), greenlight.ApprovalPending)
		if err != nil {
			s.renderErr(w, r, fmt.Errorf("pending approvals: %w", err))
			return
		}
		s.render(w, r, http.StatusOK, "approvals", page{Title: "Pending approvals", Nav: true, Active: "approvals", Data: list})
	}
}

// outboxLimit is how many mails the outbox page shows.
const outboxLimit = 100

// handleOutboxPage shows the mail Greenlight kept, newest first, with its
// links clickable: without SMTP this is how approvers' links are reached.
func (s *server) handleOutboxPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mails, err := s.cfg.Store.Mails(r.Context(), outboxLimit)
		if err != nil {
			s.renderErr(w, r, fmt.Errorf("outbox: %w", err))
			return
		}
		s.render(w, r, http.StatusOK, "outbox", page{Title: "Outbox", Nav: true, Active: "outbox", Data: mails})
	}
}
