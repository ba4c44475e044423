package orchestrator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/approval"
	"github.com/greenlight-cd/greenlight/config"
)

// openGate creates the approval of an approval stage and parks the run as
// waiting, in one transaction; the approval.opened event makes the notifier
// mail each approver their own links.
func (e *Engine) openGate(ctx context.Context, run *greenlight.Run, p *config.Pipeline, sc *config.Stage) error {
	changes := e.changesSinceProduction(ctx, run, p, sc)
	now := e.cfg.Now()
	_, err := e.change(ctx, run.ID, func(tx greenlight.Tx, r *greenlight.Run, em *emitter) error {
		s := r.Stage(sc.Name)
		if r.Status.Terminal() || s.Status.Terminal() {
			return errNoChange
		}
		// Stakeholders approve what they can see: if a newer run is already
		// live where this one deployed, this one has nothing left to show.
		if newer, env, err := e.newerLive(ctx, tx, p, r); err != nil {
			return err
		} else if newer > 0 {
			return e.finish(r, em, greenlight.RunSuperseded, s.Name, greenlight.StageCancelled,
				fmt.Sprintf("superseded by run #%d, now on %s", newer, env))
		}
		a, err := tx.ApprovalForStage(ctx, r.ID, sc.Name)
		if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
			return err
		}
		if a == nil {
			a = &greenlight.Approval{RunID: r.ID, Pipeline: r.Pipeline, Stage: sc.Name, Approvers: sc.Approvers,
				Required: sc.Required, ReviewURL: sc.ReviewURL, Deadline: now.Add(sc.Timeout), Changes: changes,
				Status: greenlight.ApprovalPending, CreatedAt: now}
			if err := tx.CreateApproval(ctx, a); err != nil {
				return err
			}
			em.add(greenlight.ApprovalOpened{ApprovalID: a.ID})
		}
		return em.apply(r.WaitStage(sc.Name, "waiting for approval", now))
	})
	return err
}

// newerLive returns a newer run live in an environment this run deployed
// to (mode superseded only), and that environment.
func (e *Engine) newerLive(ctx context.Context, tx greenlight.Tx, p *config.Pipeline, run *greenlight.Run) (int64, string, error) {
	if p.Mode == config.ModeQueued {
		return 0, "", nil
	}
	for _, s := range run.Stages {
		if s.Type != greenlight.StageDeploy || s.Status != greenlight.StageSucceeded {
			continue
		}
		live, err := tx.LiveRelease(ctx, run.Pipeline, s.Environment)
		if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
			continue
		}
		if err != nil {
			return 0, "", err
		}
		if live.RunID > run.ID {
			return live.RunID, s.Environment, nil
		}
	}
	return 0, "", nil
}

// changesSinceProduction lists the commits (id, title, author) between the
// release live in the environment the approval guards (the next deploy
// stage) and this run.
func (e *Engine) changesSinceProduction(ctx context.Context, run *greenlight.Run, p *config.Pipeline, sc *config.Stage) []greenlight.Change {
	env := ""
	after := false
	for _, s := range p.Stages {
		if s.Name == sc.Name {
			after = true
		} else if after && s.Type == greenlight.StageDeploy {
			env = s.Environment
			break
		}
	}
	from := ""
	if env != "" {
		if live, err := e.cfg.Store.LiveRelease(ctx, p.Name, env); err == nil {
			from = live.Commit
		}
	}
	if from == run.Commit.SHA {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	changes, err := e.cfg.Git.Commits(ctx, p.Source.Repo, from, run.Commit.SHA, 50)
	if err != nil {
		e.cfg.Log.Warn("list changes since production", "run", run.ID, "err", err)
		return nil
	}
	return changes
}

// Lookup shows what a token is for; it changes nothing.
func (e *Engine) Lookup(ctx context.Context, token string) (*approval.View, error) {
	return e.cfg.Approvals.Lookup(ctx, token)
}

// Decide records a decision and, when it closes the gate, moves the run on.
func (e *Engine) Decide(ctx context.Context, token string, in approval.Input) (*approval.Outcome, error) {
	out, err := e.cfg.Approvals.Decide(ctx, token, in)
	if err != nil {
		return nil, err
	}
	e.cfg.Events()
	if out.Approval.Status != greenlight.ApprovalPending {
		e.resolveGate(context.WithoutCancel(ctx), out.Approval)
	}
	return out, nil
}

// resolveGate moves a waiting run on after its approval closed: approved runs
// continue, rejected and expired ones end. Safe to call more than once.
func (e *Engine) resolveGate(ctx context.Context, a *greenlight.Approval) {
	resume := false
	_, err := e.change(ctx, a.RunID, func(tx greenlight.Tx, run *greenlight.Run, em *emitter) error {
		s := run.Stage(a.Stage)
		if run.Status != greenlight.RunWaiting || s == nil || s.Status != greenlight.StageWaiting {
			return errNoChange
		}
		switch a.Status {
		case greenlight.ApprovalApproved:
			if err := em.apply(run.FinishStage(s.Name, greenlight.StageSucceeded, "", e.cfg.Now())); err != nil {
				return err
			}
			resume = true
			return run.Resume()
		case greenlight.ApprovalRejected:
			return e.finish(run, em, greenlight.RunRejected, s.Name, greenlight.StageRejected, rejection(a))
		case greenlight.ApprovalExpired:
			return e.finish(run, em, greenlight.RunExpired, s.Name, greenlight.StageExpired,
				fmt.Sprintf("nobody approved before the deadline (%s)", a.Deadline.UTC().Format(time.RFC1123)))
		}
		return errNoChange
	})
	if err != nil {
		e.cfg.Log.Error("resolve approval", "run", a.RunID, "err", err)
		return
	}
	if resume {
		e.launch(a.RunID)
	} else {
		e.schedule(e.background(ctx), a.Pipeline)
	}
}

func rejection(a *greenlight.Approval) string {
	for _, d := range a.Decisions {
		if d.Verdict == greenlight.Reject {
			if d.Comment != "" {
				return fmt.Sprintf("rejected by %s: %s", d.Approver, strings.TrimSpace(d.Comment))
			}
			return "rejected by " + d.Approver
		}
	}
	return "rejected"
}

// expireLoop closes approvals whose deadline has passed, and every ten
// seconds sweeps for runs that nothing is moving (see sweep).
func (e *Engine) expireLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if tick%10 == 0 && !e.isStopping() {
			runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Statuses: []greenlight.RunStatus{
				greenlight.RunQueued, greenlight.RunRunning, greenlight.RunWaiting}, Limit: 10000})
			if err == nil {
				err = e.sweep(ctx, runs)
			}
			if err != nil && ctx.Err() == nil {
				e.cfg.Log.Error("sweep unfinished runs", "err", err)
			}
		}
		pending, err := e.cfg.Store.Approvals(ctx, greenlight.ApprovalPending)
		if err != nil {
			if ctx.Err() == nil {
				e.cfg.Log.Error("list pending approvals", "err", err)
			}
			continue
		}
		now := e.cfg.Now()
		for _, a := range pending {
			if now.Before(a.Deadline) {
				continue
			}
			ok, err := e.cfg.Store.SetApprovalStatus(ctx, a.ID, greenlight.ApprovalExpired, now)
			if err != nil {
				e.cfg.Log.Error("expire approval", "approval", a.ID, "err", err)
				continue
			}
			if ok {
				a.Status = greenlight.ApprovalExpired
				e.resolveGate(ctx, a)
			}
		}
	}
}
