package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// canary moves the release on step by step: each step deploys to a share
// of the hosts (Hosts), or to enough hosts to carry a share of the traffic
// and sets the router's weights so they do (Traffic), then bakes: health
// checks keep passing for Bake. Any failure restores the router's weights
// and rolls every changed host back, the last ones first. Hosts the steps
// did not reach are deployed at the end, as if the last step were 100%.
func canary(ctx context.Context, dep *deployment, steps []CanaryStep) error {
	n := len(dep.rs)
	done := 0
	fail := func(cause error) error {
		rerr := dep.restoreRouter(ctx)
		changed := dep.rs[:done]
		var live []*rollout
		var reasons []error
		for _, r := range changed {
			if r.outcome.Status == StatusLive {
				live = append(live, r)
				reasons = append(reasons, cause)
			}
		}
		if errors.Is(cause, errHostFailed) {
			reasons = nil // the failed host says why
			cause = nil
		}
		dep.undo(ctx, live, reasons)
		for _, r := range live {
			if cause != nil && r.outcome.Status == StatusRolledBack {
				r.failure = nil // cause says why, once
			}
		}
		return errors.Join(cause, failures(changed), rerr)
	}
	step := func(ctx context.Context, k int) error {
		if k <= done {
			return nil
		}
		next := dep.rs[done:k]
		errs := dep.install(ctx, next)
		done = k
		if err := errors.Join(errs...); err != nil {
			for i, err := range errs {
				if err != nil {
					next[i].rollback(ctx, err)
				}
			}
			return errHostFailed
		}
		return nil
	}
	for i, st := range steps {
		var err error
		if st.Traffic.N > 0 {
			k := st.Traffic.count(n)
			if st.Traffic.N < 100 && n > 1 {
				// Rounding up must not put every host on the release: the
				// weights then give all traffic to it, not pct%.
				k = min(k, n-1)
			}
			dep.log.Printf("step %d: %d%% of traffic on %d of %d hosts", i+1, st.Traffic.N, max(k, done), n)
			if err = step(ctx, k); err == nil {
				err = dep.setTraffic(ctx, st.Traffic.N)
			}
		} else {
			k := st.Hosts.count(n)
			dep.log.Printf("step %d: %d of %d hosts", i+1, max(k, done), n)
			err = step(ctx, k)
		}
		if err == nil && i < len(steps)-1 {
			err = dep.bake(ctx, dep.rs[:done], st.Bake)
		}
		if err != nil {
			return fail(err)
		}
	}
	if err := step(ctx, n); err != nil {
		return fail(err)
	}
	if dep.routed {
		// Every host runs the release: they share the traffic evenly.
		if err := dep.setTraffic(ctx, 100); err != nil {
			return fail(err)
		}
	}
	return nil
}

// errHostFailed ends a step in which a host failed; that host's own
// failure says why.
var errHostFailed = errors.New("a host failed")

// linearSteps turns a linear strategy into canary steps: Step more every
// Interval, of traffic when there is a router and Step is a share, else of
// the n hosts.
func linearSteps(s Strategy, router bool, n int) []CanaryStep {
	var steps []CanaryStep
	switch {
	case router && s.Step.Percent:
		for pct := s.Step.N; pct < 100; pct += s.Step.N {
			steps = append(steps, CanaryStep{Traffic: Amount{N: pct, Percent: true}, Bake: s.Interval})
		}
		return append(steps, CanaryStep{Traffic: Amount{N: 100, Percent: true}})
	case s.Step.Percent:
		for pct := s.Step.N; pct < 100; pct += s.Step.N {
			steps = append(steps, CanaryStep{Hosts: Amount{N: pct, Percent: true}, Bake: s.Interval})
		}
	default:
		for k := s.Step.N; k < n; k += s.Step.N {
			steps = append(steps, CanaryStep{Hosts: Amount{N: k}, Bake: s.Interval})
		}
	}
	return append(steps, CanaryStep{Hosts: Amount{N: 100, Percent: true}})
}

// setTraffic sets the router's weights so the hosts already running the
// release get pct% of the traffic and the others the rest.
func (dep *deployment) setTraffic(ctx context.Context, pct int) error {
	k := 0
	for _, r := range dep.rs {
		if r.outcome.Status == StatusLive {
			k++
		}
	}
	n := len(dep.rs)
	// Each new host weighs pct*(n-k), each old one (100-pct)*k: the k new
	// hosts together get pct% of the traffic.
	wNew, wOld := pct*(n-k), (100-pct)*k
	switch {
	case k == n || pct == 100:
		wNew, wOld = 1, 0
	case k == 0:
		wNew, wOld = 0, 1
	}
	g := gcd(wNew, wOld)
	wNew, wOld = wNew/g, wOld/g
	return dep.setWeights(ctx, dep.weights(func(r *rollout) int {
		if r.outcome.Status == StatusLive {
			return wNew
		}
		return wOld
	}))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return max(a, 1)
}

// weights gives each target's server the weight f says.
func (dep *deployment) weights(f func(*rollout) int) []weight {
	ws := make([]weight, len(dep.rs))
	for i, r := range dep.rs {
		ws[i] = weight{Server: r.server, Weight: f(r)}
	}
	return ws
}

// setWeights steers the router, unless it has these weights already; its
// failure fails the deploy.
func (dep *deployment) setWeights(ctx context.Context, ws []weight) error {
	if dep.routed && slices.Equal(ws, dep.last) {
		return nil
	}
	dep.routed = true
	if err := dep.router.Set(ctx, ws); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	dep.last = ws
	return nil
}

// restoreRouter puts back the weights of before the deploy, if they were
// changed (for a resumed deploy, the computed ones: dep.initial). It runs even when ctx is cancelled: that may be why.
func (dep *deployment) restoreRouter(ctx context.Context) error {
	if !dep.routed {
		return nil
	}
	dep.log.Printf("restoring the router's weights")
	ctx = context.WithoutCancel(ctx)
	set := dep.router.Set
	// A resumed deploy would "restore" the file as the crash left it (its
	// first Set captures it): the computed weights of before the deploy
	// are what was there before.
	if r, ok := dep.router.(restorer); ok && len(dep.req.Resume) == 0 {
		set = r.Restore
	}
	if err := set(ctx, dep.initial); err != nil {
		return fmt.Errorf("router: restoring weights: %w", err)
	}
	return nil
}
