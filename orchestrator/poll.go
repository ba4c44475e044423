package orchestrator

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/config"
	"github.com/greenlight-cd/greenlight/source"
)

// pollLoop watches a pipeline's repository with git ls-remote and starts a
// run for each new head of a branch it builds, and each new tag when it
// builds tags. The first look after a start builds what moved while the
// server was down (refs with a last built commit), and the default branch
// of a pipeline that never ran; other refs that already exist are only
// noted, so a first start does not build every old branch and tag. Errors
// back off up to ten intervals; polls of many pipelines are spread by
// jitter.
func (e *Engine) pollLoop(ctx context.Context, p *config.Pipeline) {
	branches, err := source.ParsePatterns(p.Source.Branches)
	if err != nil {
		e.cfg.Log.Error("poll: branches", "pipeline", p.Name, "err", err)
		return
	}
	var tags *source.Patterns
	if len(p.Source.Tags) > 0 {
		if tags, err = source.ParsePatterns(p.Source.Tags); err != nil {
			e.cfg.Log.Error("poll: tags", "pipeline", p.Name, "err", err)
			return
		}
	}
	seen := map[string]string{} // ref → sha already considered
	first := true
	// Spread the first polls of many pipelines, but start promptly.
	wait := time.Duration(rand.Int64N(int64(min(p.Source.Poll, 2*time.Second)) + 1))
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		hctx, cancel := context.WithTimeout(ctx, gitTimeout)
		refs, err := e.cfg.Git.Refs(hctx, p.Source.Repo, tags != nil)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			e.cfg.Log.Warn("poll", "pipeline", p.Name, "err", err, "failures", failures)
			wait = jitter(min(p.Source.Poll*time.Duration(1<<min(failures, 4)), 10*p.Source.Poll))
			continue
		}
		failures = 0
		wait = jitter(p.Source.Poll)
		names := make([]string, 0, len(refs))
		for ref := range refs {
			names = append(names, ref)
		}
		sort.Strings(names)
		for _, ref := range names {
			sha := refs[ref]
			if !pollWanted(ref, branches, tags) || seen[ref] == sha {
				continue
			}
			prev := seen[ref]
			if first {
				var known bool
				if prev, known = e.pollBaseline(ctx, p, ref); !known {
					seen[ref] = sha // existed before this start: not built
					continue
				}
				if prev == sha {
					seen[ref] = sha
					continue
				}
			}
			if e.pollRef(ctx, p, ref, prev, sha) {
				seen[ref] = sha
			}
		}
		for ref := range seen {
			if _, ok := refs[ref]; !ok {
				delete(seen, ref) // deleted: a ref made again later is new
			}
		}
		first = false
	}
}

// pollWanted reports whether the pipeline builds ref.
func pollWanted(ref string, branches, tags *source.Patterns) bool {
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return branches.Match(b)
	}
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return tags != nil && tags.Match(t)
	}
	return false
}

// pollBaseline is what the first poll after a start compares ref with: its
// last built commit (known), or for the default branch of a pipeline that
// never ran, nothing ("" and known: build it). prev "" and !known: leave
// the ref alone.
func (e *Engine) pollBaseline(ctx context.Context, p *config.Pipeline, ref string) (string, bool) {
	last, err := e.cfg.Store.LastBuilt(ctx, p.Name, ref)
	if err == nil {
		return last, true
	}
	if ref != "refs/heads/"+p.Source.Branch {
		return "", false
	}
	runs, err := e.cfg.Store.Runs(ctx, greenlight.RunFilter{Pipeline: p.Name, Limit: 1})
	if err != nil || len(runs) == 0 {
		return "", true // a fresh server builds the head once
	}
	return runs[0].Commit.SHA, true // runs from before built refs were kept
}

// pollRef starts a run for ref's new commit unless a filter says no. It
// reports whether the commit was dealt with (started or ignored for good).
func (e *Engine) pollRef(ctx context.Context, p *config.Pipeline, ref, prev, sha string) bool {
	req := greenlight.TriggerRequest{Commit: sha, Trigger: greenlight.TriggerPoll}
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		req.Branch = b
		gctx, cancel := context.WithTimeout(ctx, gitTimeout)
		c, err := e.cfg.Git.Commit(gctx, p.Source.Repo, sha)
		cancel()
		if err == nil {
			if marker := skipMarker(c.Title); marker != "" {
				e.cfg.Log.Info("poll: ignored", "pipeline", p.Name, "ref", ref, "reason", "the head commit's message says "+marker)
				return true
			}
		}
		before := prev
		if before == "" {
			before = zeroSHA
		}
		if why := e.pathsFilter(ctx, p, ref, before, sha); why != "" {
			e.cfg.Log.Info("poll: ignored", "pipeline", p.Name, "ref", ref, "reason", why)
			return true
		}
	} else {
		req.Tag = strings.TrimPrefix(ref, "refs/tags/")
	}
	run, why, err := e.trigger(ctx, p.Name, req)
	if err != nil {
		e.cfg.Log.Warn("poll: start run", "pipeline", p.Name, "ref", ref, "err", err)
		return false
	}
	if run == nil { // a webhook delivery started it first
		e.cfg.Log.Info("poll: ignored", "pipeline", p.Name, "ref", ref, "reason", why)
	}
	return true
}

// jitter spreads polls of many pipelines over ±10% of the interval.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}
