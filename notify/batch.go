package notify

import (
	"context"
	"sync"
)

// sendDue makes one attempt at every item due now: it reads batches with
// due and delivers each item with deliver, concurrency at a time, until a
// batch comes back short. deliver's error means an outcome could not be
// recorded: such an item would come back due at once, so sendDue stops and
// lets its caller back off instead of spinning.
func sendDue[T any](ctx context.Context, due func(context.Context) ([]T, error), deliver func(context.Context, T) error) error {
	for {
		items, err := due(ctx)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, concurrency)
		errs := make(chan error, len(items))
		for _, it := range items {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				errs <- deliver(ctx, it)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		if ctx.Err() != nil || len(items) < dueBatch {
			return nil
		}
	}
}
