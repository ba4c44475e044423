package orchestrator

import (
	"context"
	"fmt"
	"strings"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/source"
	"github.com/greenlight-cd/greenlight/webhook"
)

// zeroSHA is the "before" of a created ref and the "after" of a deleted one.
const zeroSHA = "0000000000000000000000000000000000000000"

// Push handles a verified webhook delivery. When it starts no run it says
// why, in words meant for the delivery's record: another branch or tag, a
// deleted ref, no new commit, [skip ci], no changed file under paths, a
// delivery seen before, or the commit its ref was last built at (polling
// saw it first).
//
// A forced push runs like any other: the changes listed for approvers are
// read from git (production's commit to this one), not from the push.
func (e *Engine) Push(ctx context.Context, name string, p *webhook.Push) (*greenlight.Run, string, error) {
	pl, err := e.pipeline(name)
	if err != nil {
		return nil, "", err
	}
	if p.Ping {
		return nil, "a ping starts nothing", nil
	}
	if p.Ignored != "" {
		return nil, p.Ignored, nil
	}
	if p.PullRequest != nil {
		return e.pullRequest(ctx, pl, p)
	}
	req := greenlight.TriggerRequest{Commit: p.After, Trigger: greenlight.TriggerWebhook, DeliveryID: p.DeliveryID, By: p.By}
	var ref string
	switch {
	case p.Branch != "":
		ref, req.Branch = "refs/heads/"+p.Branch, p.Branch
		if p.Deleted {
			return nil, fmt.Sprintf("branch %s was deleted", p.Branch), nil
		}
		if why := e.refFilter(pl, "branch", p.Branch); why != "" {
			return nil, why, nil
		}
	case p.Tag != "":
		ref, req.Tag = "refs/tags/"+p.Tag, p.Tag
		if p.Deleted {
			return nil, fmt.Sprintf("tag %s was deleted", p.Tag), nil
		}
		if why := e.refFilter(pl, "tag", p.Tag); why != "" {
			return nil, why, nil
		}
	default:
		return nil, fmt.Sprintf("%s is not a branch or a tag", p.Ref), nil
	}
	if why := ignorePush(p.Before, p.After, p.Message); why != "" {
		return nil, why, nil
	}
	if req.Branch != "" {
		if why := e.pathsFilter(ctx, pl, ref, p.Before, p.After); why != "" {
			return nil, why, nil
		}
	}
	return e.start(ctx, pl.Name, req)
}

// start creates the run, or says why not: a delivery already handled, or a
// commit already built.
func (e *Engine) start(ctx context.Context, name string, req greenlight.TriggerRequest) (*greenlight.Run, string, error) {
	return e.trigger(ctx, name, req)
}

// refFilter says why the pipeline does not build the branch or tag, or "".
func (e *Engine) refFilter(p *config.Pipeline, kind, name string) string {
	globs := p.Source.Branches
	if kind == "tag" {
		globs = p.Source.Tags
		if len(globs) == 0 {
			return fmt.Sprintf("tag %s: the pipeline builds no tags (source.tags is not set)", name)
		}
	}
	pat, err := source.ParsePatterns(globs)
	if err != nil { // config checked them; a bad one matches nothing
		return fmt.Sprintf("%s %s: %v", kind, name, err)
	}
	if pat.Match(name) {
		return ""
	}
	if lit, ok := pat.Literal(); ok {
		return fmt.Sprintf("%s %s is not %s", kind, name, lit)
	}
	return fmt.Sprintf("%s %s does not match %s", kind, name, strings.Join(globs, ", "))
}

// ignorePush says why a push of a matching ref starts nothing, or "".
func ignorePush(before, after, message string) string {
	switch {
	case before != "" && before != zeroSHA && strings.EqualFold(before, after):
		return "the push has no new commit"
	}
	if marker := skipMarker(message); marker != "" {
		return fmt.Sprintf("the head commit's message says %s", marker)
	}
	return ""
}

// skipMarker returns the [skip ci]-style marker in a commit message, or "".
func skipMarker(message string) string {
	lower := strings.ToLower(message)
	for _, m := range []string{"[skip ci]", "[ci skip]", "[no ci]", "[skip greenlight]", "[greenlight skip]"} {
		if strings.Contains(lower, m) {
			return m
		}
	}
	return ""
}

// changedFiler is what the paths filter needs of git: the files that differ
// between two commits.
type changedFiler interface {
	ChangedFiles(ctx context.Context, repo, from, to string) ([]string, error)
}

// pathsFilter says why a push to ref starts nothing because none of the
// files it changed since the ref's last built commit is under the
// pipeline's paths, or "". With nothing to compare with (a new branch and
// no "before"), or when git cannot tell, the push builds.
func (e *Engine) pathsFilter(ctx context.Context, p *config.Pipeline, ref, before, after string) string {
	if len(p.Source.Paths) == 0 {
		return ""
	}
	cf, ok := any(e.cfg.Git).(changedFiler)
	if !ok {
		e.cfg.Log.Warn("paths filter: this build of git support cannot list changed files; building", "pipeline", p.Name)
		return ""
	}
	from, err := e.cfg.Store.LastBuilt(ctx, p.Name, ref)
	if err != nil && greenlight.ErrorCode(err) != greenlight.ENOTFOUND {
		e.cfg.Log.Warn("paths filter: read the last built commit; building", "pipeline", p.Name, "err", err)
		return ""
	}
	if from == "" && before != zeroSHA {
		from = before
	}
	if from == "" || strings.EqualFold(from, after) {
		return ""
	}
	gctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	files, err := cf.ChangedFiles(gctx, p.Source.Repo, from, after)
	if err != nil {
		e.cfg.Log.Warn("paths filter: list changed files; building", "pipeline", p.Name, "from", from, "to", after, "err", err)
		return ""
	}
	pat, err := source.ParsePatterns(p.Source.Paths)
	if err != nil {
		return ""
	}
	if _, ok := pat.MatchAny(files); ok {
		return ""
	}
	return "no changed file matches paths"
}

// pullRequest starts the build of a pull request's head: build stages only,
// without the pipeline's secrets. Its base branch must be one the pipeline
// builds.
func (e *Engine) pullRequest(ctx context.Context, p *config.Pipeline, push *webhook.Push) (*greenlight.Run, string, error) {
	pr := *push.PullRequest
	switch {
	case push.Deleted || push.After == "" || push.After == zeroSHA:
		return nil, fmt.Sprintf("pull request #%d has no head commit to build", pr.Number), nil
	case pr.BaseBranch != "":
		if why := e.refFilter(p, "branch", pr.BaseBranch); why != "" {
			return nil, fmt.Sprintf("pull request #%d targets %s", pr.Number, why), nil
		}
	}
	if marker := skipMarker(push.Message); marker != "" {
		return nil, fmt.Sprintf("the head commit's message says %s", marker), nil
	}
	run, why, err := e.start(ctx, p.Name, greenlight.TriggerRequest{Commit: push.After, Branch: pr.HeadBranch,
		Trigger: greenlight.TriggerWebhook, DeliveryID: push.DeliveryID, PullRequest: &pr, By: push.By})
	if run != nil {
		e.supersedePullRequest(ctx, run)
	}
	return run, why, err
}

// supersedePullRequest ends the unfinished runs of an older head of the same
// pull request: only the newest head's result matters to its reviewers.
func (e *Engine) supersedePullRequest(ctx context.Context, run *greenlight.Run) {
	runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: run.Pipeline,
		Statuses: []greenlight.RunStatus{greenlight.RunQueued, greenlight.RunRunning}, Limit: 1000})
	if err != nil {
		e.cfg.Log.Warn("list runs of a pull request", "pipeline", run.Pipeline, "err", err)
		return
	}
	reason := fmt.Sprintf("superseded by run #%d, a newer head of pull request #%d", run.ID, run.PullRequest.Number)
	for _, old := range runs {
		if old.ID >= run.ID || old.PullRequest == nil || old.PullRequest.Number != run.PullRequest.Number {
			continue
		}
		if _, err := e.change(context.WithoutCancel(ctx), old.ID, func(_ greenlight.Tx, r *greenlight.Run, em *emitter) error {
			if r.Status.Terminal() {
				return errNoChange
			}
			stage := ""
			for _, s := range r.Stages {
				if s.Status == greenlight.StageRunning {
					stage = s.Name
				}
			}
			return e.finish(r, em, greenlight.RunSuperseded, stage, greenlight.StageCancelled, reason)
		}); err != nil {
			e.cfg.Log.Error("supersede a pull request's run", "run", old.ID, "err", err)
			continue
		}
		e.mu.Lock()
		if cancel, ok := e.active[old.ID]; ok {
			cancel(errCancelled) // stops its build now
		}
		e.mu.Unlock()
		e.cfg.Log.Info("run superseded", "run", old.ID, "reason", reason)
	}
}
