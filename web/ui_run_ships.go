package web

import (
	"context"

	"github.com/greenlight-cd/greenlight"
)

// compareView links to the forge's comparison of the release live in an
// environment with the run's commit: what deploying the run brings there.
type compareView struct {
	Environment string
	From        string // the live release's commit
	URL         string
}

// runCompares returns a compareView for each environment the run deploys to
// whose live release is another commit, when the pipeline's forge is known
// (config.Source.CompareURL). A store error only leaves the link out: the
// run page does not depend on it.
func (s *server) runCompares(ctx context.Context, run *greenlight.Run) []compareView {
	if s.cfg.Server == nil {
		return nil
	}
	p := s.cfg.Server.Pipeline(run.Pipeline)
	if p == nil {
		return nil
	}
	var out []compareView
	seen := map[string]bool{}
	for _, st := range run.Stages {
		env := st.Environment
		if st.Type != greenlight.StageDeploy || env == "" || seen[env] {
			continue
		}
		seen[env] = true
		rel, err := s.cfg.Store.LiveRelease(ctx, run.Pipeline, env)
		if err != nil {
			continue
		}
		if u := p.Source.CompareURL(rel.Commit, run.Commit.SHA); u != "" {
			out = append(out, compareView{Environment: env, From: rel.Commit, URL: u})
		}
	}
	return out
}

// moreFailures is how many failed tests the summary counts beyond those it
// lists (greenlight.MaxTestFailures).
func moreFailures(t *greenlight.TestSummary) int {
	if t == nil || t.Failed <= len(t.Failures) {
		return 0
	}
	return t.Failed - len(t.Failures)
}
