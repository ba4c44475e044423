package orchestrator

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/webhook"
)

var (
	paramRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// Trigger creates a run of the pipeline and schedules it. An empty commit
// means the head of the pipeline's branch, read from the remote now.
func (e *Engine) Trigger(ctx context.Context, name string, req greenlight.TriggerRequest) (*greenlight.Run, error) {
	run, _, err := e.trigger(ctx, name, req)
	return run, err
}

// Push handles a verified webhook push. It starts nothing, and says why, for
// another branch, a tag, a deleted branch or a delivery seen before.
func (e *Engine) Push(ctx context.Context, name string, p *webhook.Push) (*greenlight.Run, string, error) {
	pl, err := e.pipeline(name)
	if err != nil {
		return nil, "", err
	}
	switch {
	case p.Branch == "":
		return nil, fmt.Sprintf("%s is not a branch", p.Ref), nil
	case p.Branch != pl.Source.Branch:
		return nil, fmt.Sprintf("branch %s is not %s", p.Branch, pl.Source.Branch), nil
	case p.Deleted:
		return nil, fmt.Sprintf("branch %s was deleted", p.Branch), nil
	}
	run, dup, err := e.trigger(ctx, name, greenlight.TriggerRequest{Commit: p.After, Branch: p.Branch,
		Trigger: greenlight.TriggerWebhook, DeliveryID: p.DeliveryID})
	if err != nil {
		return nil, "", err
	}
	if dup {
		return nil, fmt.Sprintf("delivery %s was already handled", p.DeliveryID), nil
	}
	return run, "", nil
}

func (e *Engine) trigger(ctx context.Context, name string, req greenlight.TriggerRequest) (*greenlight.Run, bool, error) {
	p, err := e.pipeline(name)
	if err != nil {
		return nil, false, err
	}
	e.mu.Lock()
	stopping := e.stopping
	e.mu.Unlock()
	if stopping {
		return nil, false, greenlight.Errorf(greenlight.EUNAVAILABLE, "the server is shutting down")
	}
	if req.Branch == "" {
		req.Branch = p.Source.Branch
	}
	if req.Trigger == "" {
		req.Trigger = greenlight.TriggerAPI
	}
	for k := range req.Params {
		if !paramRE.MatchString(k) {
			return nil, false, greenlight.Errorf(greenlight.EINVALID, "parameter name %q must be letters, digits and _", k)
		}
	}
	sha := strings.ToLower(req.Commit)
	if sha == "" {
		if sha, err = e.cfg.Git.Head(ctx, p.Source.Repo, req.Branch); err != nil {
			if greenlight.ErrorCode(err) == greenlight.ENOTFOUND {
				return nil, false, greenlight.Errorf(greenlight.ENOTFOUND, "branch %s not found in %s", req.Branch, greenlight.RedactURL(p.Source.Repo))
			}
			return nil, false, greenlight.Errorf(greenlight.EUNAVAILABLE, "cannot read branch %s of the repository: %v", req.Branch, err)
		}
	} else if !greenlight.ValidSHA(sha) {
		return nil, false, greenlight.Errorf(greenlight.EINVALID, "commit must be a full sha: 40 (or 64) hex digits")
	}
	run := newRun(p, req, sha, e.cfg.Now())
	dup := false
	err = e.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		if req.DeliveryID != "" {
			fresh, err := tx.RecordDelivery(ctx, p.Name, req.DeliveryID, run.CreatedAt)
			if err != nil {
				return err
			}
			if !fresh {
				dup = true
				return nil
			}
		}
		if err := tx.CreateRun(ctx, run); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &greenlight.Event{Pipeline: p.Name, RunID: run.ID,
			Type: greenlight.EventRunCreated, CreatedAt: run.CreatedAt})
	})
	if err != nil {
		return nil, false, fmt.Errorf("create run of %s: %w", p.Name, err)
	}
	if dup {
		return nil, true, nil
	}
	e.cfg.Events()
	e.cfg.Log.Info("run created", "pipeline", p.Name, "run", run.ID, "commit", run.Commit.Short(), "trigger", run.Trigger)
	e.schedule(e.background(ctx), p.Name)
	return run, false, nil
}

func newRun(p *config.Pipeline, req greenlight.TriggerRequest, sha string, now time.Time) *greenlight.Run {
	run := &greenlight.Run{Pipeline: p.Name, Status: greenlight.RunQueued, Trigger: req.Trigger,
		Commit: greenlight.Commit{SHA: sha, Branch: req.Branch}, Params: req.Params, CreatedAt: now}
	for i, s := range p.Stages {
		run.Stages = append(run.Stages, greenlight.Stage{Index: i, Name: s.Name, Type: s.Type,
			Environment: s.Environment, Status: greenlight.StagePending})
	}
	return run
}

// schedule starts the queued runs of a pipeline that may start now: all of
// them, or in mode queued the oldest one once no other run is active.
func (e *Engine) schedule(ctx context.Context, name string) {
	p := e.cfg.Server.Pipeline(name)
	if p == nil {
		return
	}
	queued, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: name,
		Statuses: []greenlight.RunStatus{greenlight.RunQueued}, Limit: 1000})
	if err != nil {
		e.cfg.Log.Error("schedule: list queued runs", "pipeline", name, "err", err)
		return
	}
	sort.Slice(queued, func(i, j int) bool { return queued[i].ID < queued[j].ID })
	if p.Mode == config.ModeQueued && len(queued) > 0 {
		busy, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: name,
			Statuses: []greenlight.RunStatus{greenlight.RunRunning, greenlight.RunWaiting}, Limit: 1})
		if err != nil {
			e.cfg.Log.Error("schedule: list active runs", "pipeline", name, "err", err)
			return
		}
		if len(busy) > 0 || e.isActive(queued[0].ID) {
			return
		}
		queued = queued[:1]
	}
	for _, r := range queued {
		e.launch(r.ID)
	}
}
