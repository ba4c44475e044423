package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// A strategy drives the rollouts of one deploy: which hosts install when,
// how long to bake, when the router's weights move, and when failures roll
// everything back. It returns once every rollout it touched has an outcome
// (live, failed or rolled-back), with the deploy's error, nil if it
// succeeded. Strategies only order the same install and rollback steps
// differently.
type strategy func(ctx context.Context, dep *deployment) error

var (
	_ strategy = allAtOnce
	_ strategy = rolling
	_ strategy = blueGreen
)

// errOtherTarget is why a healthy target is rolled back: the environment
// runs one release, so when the deploy fails, every target it changed
// returns to the previous one.
var errOtherTarget = errors.New("rolled back because another target failed")

// check fills the strategy's defaults and refuses what cannot work; the
// config package reports the same problems with positions first.
func (s Strategy) check(req *Request) (Strategy, error) {
	bad := func(format string, args ...any) (Strategy, error) {
		return s, greenlight.Errorf(greenlight.EINVALID, "deploy strategy "+format, args...)
	}
	if s.Type == "" {
		s.Type = AllAtOnce
	}
	if s.Batch.N <= 0 {
		s.Batch = Amount{N: 1}
	}
	switch s.Type {
	case AllAtOnce, Rolling:
	case Canary:
		if len(s.Steps) == 0 {
			return bad("canary: no steps")
		}
		for i, st := range s.Steps {
			if (st.Hosts.N > 0) == (st.Traffic.N > 0) {
				return bad("canary: step %d needs hosts or traffic (one of them)", i+1)
			}
			if st.Traffic.N > 0 && req.Router == nil {
				return bad("canary: step %d moves traffic, which needs a router", i+1)
			}
			if st.Traffic.N > 0 && (!st.Traffic.Percent || st.Traffic.N > 100) {
				return bad("canary: step %d: traffic is a share between 1%% and 100%%", i+1)
			}
		}
	case Linear:
		if s.Step.N <= 0 || (s.Step.Percent && s.Step.N > 100) {
			return bad("linear: step must be a count of at least 1 or a share between 1%% and 100%%")
		}
	case BlueGreen:
		if req.Router == nil {
			return bad("blue-green needs a router")
		}
		groups := groupsOf(req.Targets)
		if len(groups) < 2 || slices.Contains(groups, "") {
			return bad("blue-green needs every target in a group, and at least two groups")
		}
		if req.Active != "" && !slices.Contains(groups, req.Active) {
			return bad("blue-green: active group %q has no targets", req.Active)
		}
	default:
		return bad("%q is unknown", s.Type)
	}
	return s, nil
}

// count is how many of n hosts an amount means: at least 1, at most n.
func (a Amount) count(n int) int {
	k := a.N
	if a.Percent {
		k = (a.N*n + 99) / 100
	}
	return max(1, min(k, n))
}

// deployment is one deploy in progress: its rollouts, in the order of
// Request.Targets, and the router it steers.
type deployment struct {
	req     *Request
	rs      []*rollout
	conns   *connPool
	track   *tracker
	router  router   // nil without one
	initial []weight // the router's weights before the deploy
	routed  bool     // the router's weights were changed
	last    []weight // the weights set last
	sem     chan struct{}
	active  string      // blue-green: the group serving traffic
	touched []*rollout  // the rollouts the strategy started, for Result
	log     *lineWriter // the deploy's own lines; used by the strategy's goroutine only
}

// newDeployment makes the rollouts and the router. Nothing is touched yet.
func (d *Deployer) newDeployment(req *Request) (*deployment, error) {
	stage := newStageLog(req.Log)
	dep := &deployment{req: req, conns: newConnPool(), track: &tracker{fn: req.Progress},
		sem: make(chan struct{}, req.Parallel), active: req.Active, log: stage.target("deploy")}
	stored := map[string]*TargetState{}
	for _, s := range req.Resume {
		if s.Phase != PhasePending {
			stored[s.Target] = &s
		}
	}
	for _, t := range req.Targets {
		h, err := d.hostFor(t, req.Pipeline, req.Environment, dep.conns)
		if err != nil {
			dep.close()
			return nil, err
		}
		r, err := d.newRollout(req, h, t, stage.target(h.Name()), dep.track)
		if err != nil {
			dep.close()
			return nil, err
		}
		r.stored = stored[h.Name()]
		dep.rs = append(dep.rs, r)
	}
	if req.Router != nil {
		for _, r := range dep.rs {
			if r.server == "" {
				dep.close()
				return nil, greenlight.Errorf(greenlight.EINVALID, "deploy: target %s has no env.PORT: a router needs host:port for each target", r.h.Name())
			}
		}
		dep.router = newRouter(*req.Router, req, d.base, stage.target("router"))
		dep.initial = dep.weights(func(r *rollout) int {
			if req.Strategy.Type == BlueGreen && r.group != req.Active {
				return 0
			}
			return 1
		})
	}
	return dep, nil
}

func (dep *deployment) close() { dep.conns.Close() }

func (dep *deployment) run(ctx context.Context) error {
	s := dep.req.Strategy
	switch s.Type {
	case Rolling:
		return rolling(ctx, dep)
	case Canary:
		return canary(ctx, dep, s.Steps)
	case Linear:
		return canary(ctx, dep, linearSteps(s, dep.router != nil, len(dep.rs)))
	case BlueGreen:
		return blueGreen(ctx, dep)
	}
	return allAtOnce(ctx, dep)
}

// result lists the outcomes of the rollouts the strategy touched, in the
// order of Request.Targets.
func (dep *deployment) result() Result {
	res := Result{Active: dep.active}
	for _, r := range dep.rs {
		if !slices.Contains(dep.touched, r) {
			continue
		}
		res.Targets = append(res.Targets, r.outcome)
		if r.outcome.Status == StatusRolledBack {
			res.RolledBack = true
		}
	}
	return res
}

// install takes rs to the new release, at most Request.Parallel at once,
// and returns each one's error. A resumed target stored live that still
// runs the release and passes health is not redone.
func (dep *deployment) install(ctx context.Context, rs []*rollout) []error {
	errs := make([]error, len(rs))
	dep.each(rs, func(i int, r *rollout) { errs[i] = r.installOrResume(ctx) })
	return errs
}

// installOrResume installs the release on r, unless r is a resumed target
// stored live that still runs the release and passes health.
func (r *rollout) installOrResume(ctx context.Context) error {
	if r.stored != nil && r.stored.Phase == PhaseLive && r.already(ctx) {
		return r.skip(ctx)
	}
	return r.install(ctx)
}

// undo rolls back the rollouts in rs, the last ones first, at most
// Request.Parallel at once: a failed one with its own error (in errs, by
// index, or nil), the others because another target failed.
func (dep *deployment) undo(ctx context.Context, rs []*rollout, errs []error) {
	for end := len(rs); end > 0; end -= dep.req.Parallel {
		start := max(0, end-dep.req.Parallel)
		dep.each(rs[start:end], func(i int, r *rollout) {
			if errs != nil && errs[start+i] != nil {
				r.rollback(ctx, errs[start+i])
				return
			}
			r.rollback(ctx, errOtherTarget)
			if r.outcome.Status == StatusRolledBack {
				r.failure = nil // not a cause; the failing target says why
			}
		})
	}
}

// each runs f for each rollout, at most Request.Parallel at once, and waits
// for all.
func (dep *deployment) each(rs []*rollout, f func(int, *rollout)) {
	for _, r := range rs {
		if !slices.Contains(dep.touched, r) {
			dep.touched = append(dep.touched, r)
		}
	}
	var wg sync.WaitGroup
	for i, r := range rs {
		dep.sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-dep.sem }()
			f(i, r)
		})
	}
	wg.Wait()
}

// failures joins why each rollout did not end live.
func failures(rs []*rollout) error {
	var errs []error
	for _, r := range rs {
		switch {
		case r.failure == nil:
		case len(rs) > 1:
			errs = append(errs, fmt.Errorf("target %s: %w", r.h.Name(), r.failure))
		default:
			errs = append(errs, r.failure)
		}
	}
	return errors.Join(errs...)
}

// allAtOnce installs on every target at the same time (Request.Parallel at
// most); if any fails, every target is rolled back.
func allAtOnce(ctx context.Context, dep *deployment) error {
	errs := dep.install(ctx, dep.rs)
	if errors.Join(errs...) == nil {
		return nil
	}
	dep.undo(ctx, dep.rs, errs)
	return failures(dep.rs)
}

// rolling installs batch after batch, each live and healthy before the
// next starts. A failed host is rolled back and counted; past MaxFailed,
// every host changed so far is rolled back too, the last batch first.
func rolling(ctx context.Context, dep *deployment) error {
	s := dep.req.Strategy
	size := s.Batch.count(len(dep.rs))
	failed := 0
	for start := 0; start < len(dep.rs); start += size {
		batch := dep.rs[start:min(start+size, len(dep.rs))]
		errs := dep.install(ctx, batch)
		for i, err := range errs {
			if err != nil {
				failed++
				batch[i].rollback(ctx, err)
			}
		}
		if failed > s.MaxFailed || (ctx.Err() != nil && failed > 0) {
			done := dep.rs[:start+len(batch)]
			var live []*rollout
			for _, r := range done {
				if r.outcome.Status == StatusLive {
					live = append(live, r)
				}
			}
			dep.undo(ctx, live, nil)
			return fmt.Errorf("%d of %d hosts failed (max_failed %d): %w", failed, len(dep.rs), s.MaxFailed, failures(done))
		}
	}
	if failed > 0 {
		dep.log.Printf("%d host(s) failed and were rolled back, within max_failed %d", failed, s.MaxFailed)
	}
	return nil
}

// bake keeps checking the health of rs for d: one attempt per host every
// Health.Interval. The first failed attempt ends it with that error.
func (dep *deployment) bake(ctx context.Context, rs []*rollout, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	for _, r := range rs {
		r.log.Printf("baking for %s", d)
	}
	bctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(dep.req.Health.Interval)
	defer tick.Stop()
	for {
		select {
		case <-bctx.Done():
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("deploy cancelled while baking: %w", err)
			}
			return nil
		case <-tick.C:
		}
		if !dep.req.Health.enabled() {
			continue
		}
		errs := make([]error, len(rs))
		dep.each(rs, func(i int, r *rollout) {
			if _, err := r.health.attempt(bctx, r.log); err != nil && bctx.Err() == nil {
				errs[i] = fmt.Errorf("target %s: health check %s failed while baking: %w", r.h.Name(), r.health.name(), err)
				r.log.Printf("%v", errs[i])
			}
		})
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
}

// tracker calls Request.Progress one call at a time.
type tracker struct {
	mu sync.Mutex
	fn func(TargetState) error
}

func (t *tracker) report(s TargetState) error {
	if t == nil || t.fn == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.fn(s); err != nil {
		return fmt.Errorf("record progress of %s: %w", s.Target, err)
	}
	return nil
}

// groupsOf lists the targets' groups in the order they first appear.
func groupsOf(ts []Target) []string {
	var groups []string
	for _, t := range ts {
		if !slices.Contains(groups, t.Group) {
			groups = append(groups, t.Group)
		}
	}
	return groups
}
