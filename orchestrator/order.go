package orchestrator

import (
	"context"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
)

// liveIsNewer reports whether the release live in an environment (of run
// liveRun, commit liveCommit) is of a newer commit than run's, so that run
// must not replace it. Related commits are ordered by git ancestry, because
// webhook deliveries can arrive out of order and run ids then mislead; the
// same commit, unrelated commits (a forced push, another branch) and a git
// that cannot answer fall back to run ids.
func (e *Engine) liveIsNewer(ctx context.Context, p *config.Pipeline, run *greenlight.Run, liveRun int64, liveCommit string) bool {
	byID := liveRun > run.ID
	if liveRun == run.ID || liveCommit == "" || liveCommit == run.Commit.SHA {
		return byID
	}
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	// Commits in run's that the live one lacks: none means run's commit is
	// an ancestor of the live one.
	ahead, err := e.cfg.Git.Changes(ctx, p.Source.Repo, liveCommit, run.Commit.SHA, 1)
	if err != nil {
		e.cfg.Log.Warn("commit order unknown: using run order", "run", run.ID, "live_run", liveRun, "err", err)
		return byID
	}
	if len(ahead) == 0 {
		return true
	}
	behind, err := e.cfg.Git.Changes(ctx, p.Source.Repo, run.Commit.SHA, liveCommit, 1)
	if err != nil {
		e.cfg.Log.Warn("commit order unknown: using run order", "run", run.ID, "live_run", liveRun, "err", err)
		return byID
	}
	if len(behind) == 0 {
		return false // the live commit is an ancestor of run's
	}
	return byID
}
