package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

// Concurrent enqueues share transactions; callers that give up while waiting
// (their context ends) must not stall the others, and every delivery that was
// answered true is stored, once.
func TestEnqueueDeliveryBatchCancelled(t *testing.T) {
	t.Parallel()
	db := newSQLite(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[string]bool{}
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ctx
			if i%3 == 0 { // a third give up at once or soon
				var cancel context.CancelFunc
				c, cancel = context.WithTimeout(ctx, time.Duration(i%7)*100*time.Microsecond)
				defer cancel()
			}
			id := fmt.Sprintf("d-%d", i%150) // some ids twice
			d := &greenlight.Delivery{Pipeline: "hello", DeliveryID: id, Payload: "{}",
				Status: greenlight.DeliveryQueued, ReceivedAt: time.Now()}
			ok, err := db.EnqueueDelivery(c, d)
			if err != nil && c.Err() == nil {
				t.Errorf("enqueue %s: %v", id, err)
			}
			if ok {
				mu.Lock()
				if stored[id] {
					t.Errorf("%s enqueued twice", id)
				}
				stored[id] = true
				mu.Unlock()
				if d.ID == 0 {
					t.Errorf("%s enqueued without an id", id)
				}
			}
		}()
	}
	wg.Wait()
	// Nothing is stuck: a later caller is served.
	d := &greenlight.Delivery{Pipeline: "hello", DeliveryID: "last", Payload: "{}", Status: greenlight.DeliveryQueued, ReceivedAt: time.Now()}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if ok, err := db.EnqueueDelivery(tctx, d); !ok || err != nil {
		t.Fatalf("enqueue after the burst: %v, %v", ok, err)
	}
	list, err := db.Deliveries(ctx, "hello", 500)
	if err != nil {
		t.Fatal(err)
	}
	inDB := map[string]bool{}
	for _, d := range list {
		inDB[d.DeliveryID] = true
	}
	for id := range stored {
		if !inDB[id] {
			t.Errorf("%s answered as stored but not in the inbox", id)
		}
	}
}
