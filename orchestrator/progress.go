package orchestrator

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/greenlight-cd/greenlight"
	"github.com/greenlight-cd/greenlight/deploy"
)

// progress stores a deploy's target states as they change (deploy.Request's
// Progress), each in its own small write, so that a crash loses at most
// the change under way. The deploy reports every target pending first, so
// the release shows the whole fleet from the start.
type progress struct {
	store     greenlight.Store
	now       greenlight.Now
	releaseID int64
	targets   []deploy.Target

	// untouchedOut leaves out targets still pending: stored states are
	// then those of the targets the deploy changed.
	untouchedOut bool

	mu   sync.Mutex
	pos  map[string]int
	last map[string]greenlight.TargetState
}

func (e *Engine) newProgress(releaseID int64, targets []deploy.Target, states []greenlight.TargetState) *progress {
	p := &progress{store: e.cfg.Store, now: e.cfg.Now, releaseID: releaseID, targets: targets,
		pos: map[string]int{}, last: map[string]greenlight.TargetState{}}
	for i, t := range targets {
		p.pos[t.Name()] = i
	}
	for _, s := range states {
		p.last[s.Target] = s
	}
	return p
}

// set stores one target's state. It is written even when ctx is cancelled:
// the rollback that a cancel causes is progress too.
func (p *progress) set(ctx context.Context, s deploy.TargetState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, ok := p.pos[s.Target]
	if !ok {
		return fmt.Errorf("progress of unknown target %s", s.Target)
	}
	if _, seen := p.last[s.Target]; !seen && p.untouchedOut && s.Phase == deploy.PhasePending {
		return nil
	}
	st := greenlight.TargetState{ReleaseID: p.releaseID, Target: s.Target, Position: i, Group: p.targets[i].Group,
		Phase: s.Phase, Previous: s.Previous, Error: s.Error, UpdatedAt: p.now()}
	if prev, ok := p.last[s.Target]; ok && st.Previous == "" {
		st.Previous = prev.Previous // a state that does not know it keeps what was learnt
	}
	if err := p.store.SetTargetState(context.WithoutCancel(ctx), &st); err != nil {
		return fmt.Errorf("store the state of target %s: %w", s.Target, err)
	}
	p.last[s.Target] = st
	return nil
}

// outcomes stores the final outcome of each target, for a deploy that did
// not report (or not fully) through Progress.
func (p *progress) outcomes(ctx context.Context, outs []greenlight.TargetOutcome) error {
	for _, o := range outs {
		p.mu.Lock()
		prev, seen := p.last[o.Target]
		p.mu.Unlock()
		if seen && prev.Phase == o.Status && prev.Error == o.Error {
			continue
		}
		if err := p.set(ctx, deploy.TargetState{Target: o.Target, Phase: o.Status, Error: o.Error}); err != nil {
			return err
		}
	}
	return nil
}

// interrupted returns run's release in env that a crash left deploying, with
// its stored target states; nil if there is none.
func (e *Engine) interrupted(ctx context.Context, runID int64, pipeline, env string) (*greenlight.Release, []greenlight.TargetState, error) {
	rels, err := e.cfg.Store.Releases(ctx, pipeline, env, 20)
	if err != nil {
		return nil, nil, fmt.Errorf("read releases: %w", err)
	}
	for _, r := range rels {
		if r.RunID != runID {
			continue
		}
		if r.Status != greenlight.ReleaseDeploying {
			return nil, nil, nil
		}
		states, err := e.cfg.Store.TargetStates(ctx, r.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("read target states: %w", err)
		}
		return r, states, nil
	}
	return nil, nil, nil
}

// failures counts the targets of a deploy that failed: failed, or being
// (or having been) rolled back.
func failures(states []greenlight.TargetState) int {
	n := 0
	for _, s := range states {
		switch s.Phase {
		case greenlight.PhaseFailed, greenlight.PhaseRollingBack, greenlight.PhaseRolledBack:
			n++
		}
	}
	return n
}

// failing reports whether a deploy had begun to fail past what its
// strategy tolerates. Such a deploy is rolled back, not resumed, after a
// crash. A rolling deploy tolerates MaxFailed failed hosts, each rolled back
// alone, and goes on; past that every changed host is rolled back, so more
// than MaxFailed are failed or rolled back. Any other deploy fails at the
// first failure.
func failing(states []greenlight.TargetState, s deploy.Strategy) bool {
	n := failures(states)
	if s.Type == deploy.Rolling {
		return n > s.MaxFailed
	}
	return n > 0
}

// phaseSummary says how many targets are in each phase: "2 live, 1 installing".
func phaseSummary(states []greenlight.TargetState) string {
	if len(states) == 0 {
		return "no target states stored"
	}
	n := map[string]int{}
	for _, s := range states {
		n[s.Phase]++
	}
	var parts []string
	for phase, c := range n {
		parts = append(parts, fmt.Sprintf("%d %s", c, phase))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// deployStates are stored states as the deploy package takes them (Resume).
func deployStates(states []greenlight.TargetState) []deploy.TargetState {
	out := make([]deploy.TargetState, len(states))
	for i, s := range states {
		out[i] = deploy.TargetState{Target: s.Target, Phase: s.Phase, Previous: s.Previous, Error: s.Error}
	}
	return out
}

// activeGroup is the blue-green group serving the live release: the group
// of its live targets; "" when it has none.
func activeGroup(live *greenlight.Release) string {
	if live == nil {
		return ""
	}
	for _, t := range live.Targets {
		if t.Group != "" && t.Status == greenlight.PhaseLive {
			return t.Group
		}
	}
	return ""
}

// failureCause is the first stored error of a failing target, for people.
func failureCause(states []greenlight.TargetState) string {
	for _, s := range states {
		if s.Error != "" && (s.Phase == greenlight.PhaseFailed || s.Phase == greenlight.PhaseRollingBack ||
			s.Phase == greenlight.PhaseRolledBack) {
			return "target " + s.Target + ": " + s.Error
		}
	}
	return "a target was failing"
}
