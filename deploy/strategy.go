package deploy

import (
	"context"
	"errors"
	"sync"
)

// A strategy drives the rollouts of one deploy: which hosts install when,
// how long to bake, and when failures roll everything back. It returns once
// every rollout has an outcome (live, failed or rolled-back) and each failed
// one its failure. Rolling, canary, linear and blue-green are strategies too;
// they only order the same install and rollback steps differently.
type strategy func(ctx context.Context, rs []*rollout)

var _ strategy = allAtOnce

// errOtherTarget is why a healthy target is rolled back: the environment
// runs one release, so when any target fails, all return to the previous one
// (all-at-once tolerates no failed host).
var errOtherTarget = errors.New("rolled back because another target failed")

// allAtOnce installs on every target at the same time; if any fails, every
// target is rolled back.
func allAtOnce(ctx context.Context, rs []*rollout) {
	errs := make([]error, len(rs))
	parallel(rs, func(i int, r *rollout) { errs[i] = r.install(ctx) })
	if errors.Join(errs...) == nil {
		return
	}
	parallel(rs, func(i int, r *rollout) {
		if errs[i] != nil {
			r.rollback(ctx, errs[i])
			return
		}
		r.rollback(ctx, errOtherTarget)
		if r.outcome.Status == StatusRolledBack {
			r.failure = nil // not a cause; the failing target says why
		}
	})
}

// parallel runs f for each rollout in its own goroutine and waits for all.
func parallel(rs []*rollout, f func(int, *rollout)) {
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { f(i, r) })
	}
	wg.Wait()
}
