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
// mail each approver their own links (and each excluded person why they
// are not asked). A gate that cannot pass without the people it excludes
// fails the stage at once, naming the rule.
func (e *Engine) openGate(ctx context.Context, run *greenlight.Run, p *config.Pipeline, sc *config.Stage) error {
	changes := e.changesSinceProduction(ctx, run, p, sc)
	now := e.cfg.Now()
	var closed *greenlight.Approval
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
			a = approval.Open(r, sc.Name, gateOf(sc), changes, now)
			if err := tx.CreateApproval(ctx, a); err != nil {
				return err
			}
			if a.Status == greenlight.ApprovalFailed {
				return e.finish(r, em, greenlight.RunFailed, s.Name, greenlight.StageFailed, approval.Problem(a))
			}
			em.add(greenlight.ApprovalOpened{ApprovalID: a.ID})
		}
		if a.Status != greenlight.ApprovalPending {
			closed = a // decided already (a crash came between): resolveGate moves the run
		}
		reason := approval.Reason(a, now)
		if reason == "" { // decided already: resolveGate says what happens
			reason = "waiting for approval"
		}
		return em.apply(r.WaitStage(sc.Name, reason, now))
	})
	if err == nil && closed != nil {
		e.resolveGate(ctx, closed)
	}
	e.wakeGates()
	return err
}

// gateOf is the approval stage's configuration as package approval takes it.
func gateOf(sc *config.Stage) approval.Gate {
	g := approval.Gate{Rules: sc.Rules, SelfApproval: sc.SelfApproval, Comment: sc.Comment,
		OnTimeout: sc.OnTimeout, Timeout: sc.Timeout, Wait: sc.Wait, Remind: sc.Remind, ReviewURL: sc.ReviewURL}
	if len(g.Rules) == 0 { // a Stage built in code with approvers and required only
		g.Rules = []greenlight.ApprovalRule{{Name: approval.DefaultRule, Approvers: sc.Approvers, Required: max(sc.Required, 1)}}
	}
	if sc.Escalate != nil {
		g.EscalateAfter, g.EscalateTo = sc.Escalate.After, sc.Escalate.To
	}
	return g
}

// wakeGates makes the gate loop look at the next due time again.
func (e *Engine) wakeGates() {
	select {
	case e.gates <- struct{}{}:
	default:
	}
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

// Decide records a decision and, when it closes the gate, moves the run on;
// while the gate stays open, the stage's and the run's reason say what it
// still waits for.
func (e *Engine) Decide(ctx context.Context, token string, in approval.Input) (*approval.Outcome, error) {
	out, err := e.cfg.Approvals.Decide(ctx, token, in)
	if err != nil {
		return nil, err
	}
	e.cfg.Events()
	if out.Approval.Status != greenlight.ApprovalPending {
		e.resolveGate(context.WithoutCancel(ctx), out.Approval)
	} else {
		e.refreshReason(context.WithoutCancel(ctx), out.Approval)
	}
	return out, nil
}

// refreshReason writes what a pending gate waits for now into its stage's
// and run's reason.
func (e *Engine) refreshReason(ctx context.Context, a *greenlight.Approval) {
	_, err := e.change(ctx, a.RunID, func(tx greenlight.Tx, run *greenlight.Run, em *emitter) error {
		s := run.Stage(a.Stage)
		if run.Status != greenlight.RunWaiting || s == nil || s.Status != greenlight.StageWaiting {
			return errNoChange
		}
		cur, err := tx.Approval(ctx, a.ID)
		if err != nil {
			return err
		}
		reason := approval.Reason(cur, e.cfg.Now())
		if cur.Status != greenlight.ApprovalPending || reason == "" || (s.Reason == reason && run.Reason == reason) {
			return errNoChange
		}
		return em.apply(run.WaitStage(s.Name, reason, e.cfg.Now()))
	})
	if err != nil {
		e.cfg.Log.Error("update approval reason", "run", a.RunID, "err", err)
	}
}

// resolveGate moves a waiting run on after its approval closed: approved runs
// continue; rejected, expired and failed ones end. Safe to call more than once.
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
		case greenlight.ApprovalFailed:
			return e.finish(run, em, greenlight.RunFailed, s.Name, greenlight.StageFailed, approval.Problem(a))
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
		if d.Verdict == greenlight.Reject && approval.Excluded(a, d.Approver) == "" {
			if d.Comment != "" {
				return fmt.Sprintf("rejected by %s: %s", d.Approver, strings.TrimSpace(d.Comment))
			}
			return "rejected by " + d.Approver
		}
	}
	return approval.NoDecision
}

// sweepEvery is how often gateLoop also sweeps for runs nothing is moving.
const sweepEvery = 10 * time.Second

// expireLoop closes approvals at their deadline (expired, or rejected with
// on_timeout: reject) and refreshes the reason of gates whose links just
// went out (wait). It sleeps until the next such time, or until a gate
// opens (wakeGates), and every sweepEvery sweeps for runs that nothing is
// moving (see sweep).
func (e *Engine) expireLoop(ctx context.Context) {
	nextSweep := e.cfg.Now().Add(sweepEvery)
	var last time.Time // gates that opened after this get their reason refreshed
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-e.gates:
		}
		now := e.cfg.Now()
		if !now.Before(nextSweep) && !e.isStopping() {
			nextSweep = now.Add(sweepEvery)
			runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Statuses: []greenlight.RunStatus{
				greenlight.RunQueued, greenlight.RunRunning, greenlight.RunWaiting}, Limit: 10000})
			if err == nil {
				err = e.sweep(ctx, runs)
			}
			if err != nil && ctx.Err() == nil {
				e.cfg.Log.Error("sweep unfinished runs", "err", err)
			}
		}
		next := e.closeDue(ctx, now, last)
		last = now
		if next.IsZero() || next.After(nextSweep) {
			next = nextSweep
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(next.Sub(e.cfg.Now()), 10*time.Millisecond))
	}
}

// closeDue closes the pending approvals whose deadline has passed, refreshes
// the reason of those whose links went out since last, and returns the next
// time one of them is due (zero if none).
func (e *Engine) closeDue(ctx context.Context, now, last time.Time) time.Time {
	pending, err := e.cfg.Store.Approvals(ctx, greenlight.ApprovalPending)
	if err != nil {
		if ctx.Err() == nil {
			e.cfg.Log.Error("list pending approvals", "err", err)
		}
		return now.Add(time.Second)
	}
	var next time.Time
	due := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, a := range pending {
		if now.Before(a.Deadline) {
			if !a.OpensAt.After(now) && a.OpensAt.After(last) {
				e.refreshReason(ctx, a)
			}
			due(a.OpensAt)
			due(a.Deadline)
			continue
		}
		status := greenlight.ApprovalExpired
		if a.OnTimeout == greenlight.TimeoutReject {
			status = greenlight.ApprovalRejected
		}
		ok, err := e.cfg.Store.SetApprovalStatus(ctx, a.ID, status, now)
		if err != nil {
			e.cfg.Log.Error("close approval at its deadline", "approval", a.ID, "err", err)
			continue
		}
		if ok {
			a.Status = status
			e.resolveGate(ctx, a)
		}
	}
	return next
}
