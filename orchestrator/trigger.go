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
)

// Manual run parameters: given to steps as GREENLIGHT_PARAM_<NAME>.
const (
	MaxParams     = 50
	MaxParamValue = 4 << 10
)

var paramRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,63}$`)

// CheckParams explains what is wrong with a manual run's parameters (an
// EINVALID error), or returns nil.
func CheckParams(params map[string]string) error {
	if len(params) > MaxParams {
		return greenlight.Errorf(greenlight.EINVALID, "at most %d params, got %d", MaxParams, len(params))
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names) // the same message for the same input
	for _, k := range names {
		v := params[k]
		switch {
		case !paramRE.MatchString(k):
			return greenlight.Errorf(greenlight.EINVALID, "param name %q must match [A-Z_][A-Z0-9_]* (at most 64 characters)", clip(k, 80))
		case len(v) > MaxParamValue:
			return greenlight.Errorf(greenlight.EINVALID, "param %s: value longer than %d bytes", k, MaxParamValue)
		case strings.IndexByte(v, 0) >= 0:
			return greenlight.Errorf(greenlight.EINVALID, "param %s: value contains a NUL byte", k)
		}
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Trigger creates a run of the pipeline and schedules it. An empty commit
// means the head of the branch (by default the pipeline's default branch),
// read from the remote now.
//
// A webhook's or a poll's request for the commit its branch or tag was last
// built at starts nothing: an ECONFLICT error says which run built it.
func (e *Engine) Trigger(ctx context.Context, name string, req greenlight.TriggerRequest) (*greenlight.Run, error) {
	run, why, err := e.trigger(ctx, name, req)
	if err == nil && run == nil {
		return nil, greenlight.Errorf(greenlight.ECONFLICT, "%s", why)
	}
	return run, err
}

// trigger creates the run, or says why it created none: the delivery was
// handled before, or the commit was already built (see builtBefore).
func (e *Engine) trigger(ctx context.Context, name string, req greenlight.TriggerRequest) (*greenlight.Run, string, error) {
	p, err := e.pipeline(name)
	if err != nil {
		return nil, "", err
	}
	e.mu.Lock()
	stopping := e.stopping
	e.mu.Unlock()
	if stopping {
		return nil, "", greenlight.Errorf(greenlight.EUNAVAILABLE, "the server is shutting down")
	}
	if req.Branch == "" && req.Tag == "" && req.PullRequest == nil {
		if p.Source.Branch == "" {
			return nil, "", greenlight.Errorf(greenlight.EINVALID, "pipeline %s has no default branch (its branches are all globs): give a branch", p.Name)
		}
		req.Branch = p.Source.Branch
	}
	if req.Trigger == "" {
		req.Trigger = greenlight.TriggerAPI
	}
	if err := CheckParams(req.Params); err != nil {
		return nil, "", err
	}
	sha := strings.ToLower(req.Commit)
	if sha == "" {
		if req.Tag != "" || req.PullRequest != nil {
			return nil, "", greenlight.Errorf(greenlight.EINVALID, "a tag's or a pull request's run needs its commit")
		}
		if sha, err = e.cfg.Git.Head(ctx, p.Source.Repo, req.Branch); err != nil {
			switch greenlight.ErrorCode(err) {
			case greenlight.ENOTFOUND:
				return nil, "", greenlight.Errorf(greenlight.ENOTFOUND, "branch %s not found in %s", req.Branch, greenlight.RedactURL(p.Source.Repo))
			case greenlight.EINVALID:
				return nil, "", err
			}
			return nil, "", greenlight.Errorf(greenlight.EUNAVAILABLE, "cannot read branch %s of the repository: %v", req.Branch, err)
		}
	} else if !greenlight.ValidSHA(sha) {
		return nil, "", greenlight.Errorf(greenlight.EINVALID, "commit must be a full sha: 40 (or 64) hex digits")
	}
	run := newRun(p, req, sha, e.cfg.Now())
	var why string
	err = e.cfg.Store.InTx(ctx, func(tx greenlight.Tx) error {
		why = "" // PostgreSQL may run this again
		if req.DeliveryID != "" {
			fresh, err := tx.RecordDelivery(ctx, p.Name, req.DeliveryID, run.CreatedAt)
			if err != nil {
				return err
			}
			if !fresh {
				why = fmt.Sprintf("delivery %s was already handled", req.DeliveryID)
				return nil
			}
		}
		// Paths filters and polling compare later pushes with this commit.
		if ref := runRef(run); ref != "" {
			if req.Trigger == greenlight.TriggerWebhook || req.Trigger == greenlight.TriggerPoll {
				var err error
				if why, err = builtBefore(ctx, tx, run, ref); err != nil || why != "" {
					return err // the delivery stays recorded
				}
			} else if err := tx.SetLastBuilt(ctx, p.Name, ref, sha, run.CreatedAt); err != nil {
				return err
			}
		}
		if err := tx.CreateRun(ctx, run); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, greenlight.NewEvent(p.Name, run.ID, greenlight.RunCreated{}, run.CreatedAt))
	})
	if err != nil {
		return nil, "", fmt.Errorf("create run of %s: %w", p.Name, err)
	}
	if why != "" {
		return nil, why, nil
	}
	e.cfg.Events()
	e.cfg.Log.Info("run created", "pipeline", p.Name, "run", run.ID, "commit", run.Commit.Short(), "trigger", run.Trigger,
		"ref", runRef(run), "pull_request", req.PullRequest != nil)
	e.schedule(e.background(ctx), p.Name)
	return run, "", nil
}

// builtBefore advances ref's last built commit to the run's and returns
// "", or says which run built that commit already. A pipeline with both a
// webhook and polling hears of each push twice; the compare-and-set makes
// exactly one of them build it, even when both arrive at once. Manual and
// scheduled runs rebuild on purpose and do not come here.
func builtBefore(ctx context.Context, tx greenlight.Tx, run *greenlight.Run, ref string) (string, error) {
	advanced, err := tx.AdvanceLastBuilt(ctx, run.Pipeline, ref, run.Commit.SHA, run.CreatedAt)
	if err != nil || advanced {
		return "", err
	}
	what := "branch " + run.Commit.Branch
	if run.Commit.Tag != "" {
		what = "tag " + run.Commit.Tag
	}
	why := fmt.Sprintf("commit %s of %s was already built", run.Commit.Short(), what)
	recent, err := tx.Runs(ctx, greenlight.RunFilter{Pipeline: run.Pipeline, Limit: 100})
	if err != nil {
		return "", err
	}
	for _, r := range recent { // newest first
		if r.Commit.SHA == run.Commit.SHA && runRef(r) == ref {
			return fmt.Sprintf("%s by run #%d", why, r.ID), nil
		}
	}
	return why, nil
}

// runRef is the git ref a run builds (refs/heads/main, refs/tags/v1), or ""
// for a pull request's run, which builds no ref of the pipeline's own.
func runRef(run *greenlight.Run) string {
	switch {
	case run.PullRequest != nil:
		return ""
	case run.Commit.Tag != "":
		return "refs/tags/" + run.Commit.Tag
	case run.Commit.Branch != "":
		return "refs/heads/" + run.Commit.Branch
	}
	return ""
}

// prSkip is the reason given on the stages a pull request's run skips.
const prSkip = "pull request: build only"

func newRun(p *config.Pipeline, req greenlight.TriggerRequest, sha string, now time.Time) *greenlight.Run {
	run := &greenlight.Run{Pipeline: p.Name, Status: greenlight.RunQueued, Trigger: req.Trigger,
		Commit: greenlight.Commit{SHA: sha, Branch: req.Branch, Tag: req.Tag}, Params: req.Params,
		PullRequest: req.PullRequest, CreatedAt: now, TriggeredBy: req.By}
	for i, s := range p.Stages {
		st := greenlight.Stage{Index: i, Name: s.Name, Type: s.Type, Environment: s.Environment, Status: greenlight.StagePending}
		// Untrusted code from a pull request is built and tested, never
		// deployed nor put before approvers.
		if req.PullRequest != nil && s.Type != greenlight.StageBuild {
			st.Status, st.Error = greenlight.StageSkipped, prSkip
		}
		run.Stages = append(run.Stages, st)
	}
	return run
}

// schedule starts the queued runs of a pipeline that may start now: all of
// them, or in mode queued the next one in commit order once no other run is
// active. Pull requests' runs never wait for branch runs nor hold them up.
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
	var branchRuns []*greenlight.Run
	for _, r := range queued {
		if r.PullRequest != nil || p.Mode != config.ModeQueued {
			e.launch(r.ID)
		} else {
			branchRuns = append(branchRuns, r)
		}
	}
	if len(branchRuns) == 0 {
		return
	}
	active, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: name,
		Statuses: []greenlight.RunStatus{greenlight.RunRunning, greenlight.RunWaiting}, Limit: 1000})
	if err != nil {
		e.cfg.Log.Error("schedule: list active runs", "pipeline", name, "err", err)
		return
	}
	for _, r := range active {
		if r.PullRequest == nil {
			return
		}
	}
	for _, r := range branchRuns {
		if e.isActive(r.ID) {
			return
		}
	}
	e.launch(e.firstInCommitOrder(ctx, p, branchRuns).ID)
}

// firstInCommitOrder picks, among queued runs in creation order, the one to
// start first: the oldest, unless another one's commit is its ancestor
// (webhook deliveries can arrive out of order). Git answers from the mirror;
// when it cannot, creation order stands.
func (e *Engine) firstInCommitOrder(ctx context.Context, p *config.Pipeline, runs []*greenlight.Run) *greenlight.Run {
	pick := runs[0]
	if len(runs) == 1 {
		return pick
	}
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	for _, o := range runs[1:min(len(runs), 20)] {
		if o.Commit.SHA == pick.Commit.SHA || o.Commit.Branch != pick.Commit.Branch {
			continue
		}
		// Nothing in o that pick lacks: o is pick's ancestor, so o goes first.
		ahead, err := e.cfg.Git.Changes(ctx, p.Source.Repo, pick.Commit.SHA, o.Commit.SHA, 1)
		if err != nil {
			e.cfg.Log.Warn("queued runs: commit order unknown, using arrival order", "pipeline", p.Name, "err", err)
			return pick
		}
		if len(ahead) == 0 {
			pick = o
		}
	}
	return pick
}
