package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func newDelivery(pipeline, id string, received time.Time) *greenlight.Delivery {
	return &greenlight.Delivery{Pipeline: pipeline, DeliveryID: id, Forge: "github", Event: "push",
		Ref: "refs/heads/main", Commit: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
		Payload: `{"forge":"github","ref":"refs/heads/main"}`, Status: greenlight.DeliveryQueued, ReceivedAt: received}
}

func testInbox(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	d := newDelivery("hello", "d-1", at(0))
	ok, err := s.EnqueueDelivery(ctx, d)
	must(t, err)
	if !ok || d.ID <= 0 {
		t.Fatalf("first enqueue: got %v with id %d, want true and an id", ok, d.ID)
	}
	again := newDelivery("hello", "d-1", at(time.Second))
	ok, err = s.EnqueueDelivery(ctx, again)
	must(t, err)
	if ok || again.ID != 0 {
		t.Fatalf("same delivery again: got %v with id %d, want false", ok, again.ID)
	}
	// The same id for another pipeline is another delivery.
	other := newDelivery("other", "d-1", at(2*time.Second))
	ok, err = s.EnqueueDelivery(ctx, other)
	must(t, err)
	if !ok {
		t.Fatal("same id, other pipeline: got false, want true")
	}
	// A delivery recorded as done at once (a ping, an ignored event).
	done := newDelivery("hello", "d-2", at(3*time.Second))
	done.Status, done.Result, done.DoneAt = greenlight.DeliveryIgnored, "pull request action closed", ptr(at(3*time.Second))
	_, err = s.EnqueueDelivery(ctx, done)
	must(t, err)

	queued, err := s.QueuedDeliveries(ctx, 0)
	must(t, err)
	if len(queued) != 2 || queued[0].ID != d.ID || queued[1].ID != other.ID {
		t.Fatalf("queued: got %d deliveries, want d-1 of hello then of other in order", len(queued))
	}
	if !reflect.DeepEqual(queued[0], d) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", queued[0], d)
	}

	// Attempts recorded while queued, then the outcome, once.
	d.Attempts, d.Result = 1, "retrying: git unreachable"
	ok, err = s.UpdateDelivery(ctx, d)
	must(t, err)
	if !ok {
		t.Fatal("update a queued delivery: got false")
	}
	d.Status, d.RunID, d.Result, d.DoneAt = greenlight.DeliveryStarted, 12, "", ptr(at(time.Minute))
	ok, err = s.UpdateDelivery(ctx, d)
	must(t, err)
	if !ok {
		t.Fatal("finish a queued delivery: got false")
	}
	late := *d
	late.Status, late.RunID = greenlight.DeliveryFailed, 0
	ok, err = s.UpdateDelivery(ctx, &late)
	must(t, err)
	if ok {
		t.Fatal("update a done delivery: got true, want false")
	}
	_, err = s.UpdateDelivery(ctx, &greenlight.Delivery{ID: 999999, Status: greenlight.DeliveryFailed})
	wantCode(t, err, greenlight.ENOTFOUND)

	list, err := s.Deliveries(ctx, "hello", 0)
	must(t, err)
	if len(list) != 2 || list[0].ID != done.ID || !reflect.DeepEqual(list[1], d) {
		t.Fatalf("hello's deliveries, newest first: got %d, first %+v", len(list), list[0])
	}
	if !reflect.DeepEqual(list[0], done) {
		t.Fatalf("done at once, round trip:\n got %+v\nwant %+v", list[0], done)
	}
	all, err := s.Deliveries(ctx, "", 1)
	must(t, err)
	if len(all) != 1 || all[0].ID != done.ID {
		t.Fatalf("every pipeline, limit 1: got %d, want the newest", len(all))
	}
	queued, err = s.QueuedDeliveries(ctx, 0)
	must(t, err)
	if len(queued) != 1 || queued[0].ID != other.ID {
		t.Fatalf("queued after finishing d-1: got %d", len(queued))
	}
}

// A pipeline's long backlog does not hide other pipelines' queues: every
// pipeline's head comes before any pipeline's second, each pipeline's in
// inbox order, so a worker reading one batch reaches every pipeline.
func testQueuedHeads(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	var ids []int64
	for i, p := range []string{"busy", "busy", "busy", "calm", "busy", "calm"} {
		d := newDelivery(p, fmt.Sprint("d-", i), at(time.Duration(i)*time.Second))
		_, err := s.EnqueueDelivery(ctx, d)
		must(t, err)
		ids = append(ids, d.ID)
	}
	for _, tc := range []struct {
		limit int
		want  []int64
	}{
		{2, []int64{ids[0], ids[3]}},
		{3, []int64{ids[0], ids[3], ids[1]}},
		{0, []int64{ids[0], ids[3], ids[1], ids[5], ids[2], ids[4]}},
	} {
		queued, err := s.QueuedDeliveries(ctx, tc.limit)
		must(t, err)
		var got []int64
		for _, d := range queued {
			got = append(got, d.ID)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("queued, limit %d: got ids %v, want %v (of %v)", tc.limit, got, tc.want, ids)
		}
	}
}

// Pruning removes old done deliveries and old remembered ids, never a queued
// delivery.
func testPruneDeliveries(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	oldDone := newDelivery("hello", "old-done", at(0))
	oldDone.Status, oldDone.DoneAt = greenlight.DeliveryIgnored, ptr(at(time.Second))
	oldQueued := newDelivery("hello", "old-queued", at(0))
	fresh := newDelivery("hello", "fresh", at(9*24*time.Hour))
	fresh.Status, fresh.DoneAt = greenlight.DeliveryIgnored, ptr(at(9*24*time.Hour))
	for _, d := range []*greenlight.Delivery{oldDone, oldQueued, fresh} {
		_, err := s.EnqueueDelivery(ctx, d)
		must(t, err)
	}
	_, err := s.RecordDelivery(ctx, "hello", "old-id", at(0))
	must(t, err)
	_, err = s.RecordDelivery(ctx, "hello", "new-id", at(9*24*time.Hour))
	must(t, err)

	n, err := s.PruneDeliveries(ctx, at(24*time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("pruned %d deliveries, want 1 (the old done one)", n)
	}
	list, err := s.Deliveries(ctx, "hello", 0)
	must(t, err)
	if len(list) != 2 || list[0].ID != fresh.ID || list[1].ID != oldQueued.ID {
		t.Fatalf("after pruning: got %d deliveries, want fresh and the queued one", len(list))
	}
	// The old id is forgotten (it may be recorded again); the new one is not.
	ok, err := s.RecordDelivery(ctx, "hello", "old-id", at(10*24*time.Hour))
	must(t, err)
	if !ok {
		t.Error("an id older than the cut is still remembered")
	}
	ok, err = s.RecordDelivery(ctx, "hello", "new-id", at(10*24*time.Hour))
	must(t, err)
	if ok {
		t.Error("an id newer than the cut was forgotten")
	}
	// The id of a pruned delivery may come again as a new delivery.
	ok, err = s.EnqueueDelivery(ctx, newDelivery("hello", "old-done", at(10*24*time.Hour)))
	must(t, err)
	if !ok {
		t.Error("a pruned delivery's id is still taken")
	}
}

// Of many concurrent enqueues of one delivery exactly one inserts.
func testEnqueueDeliveryRace(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDelivery("hello", "same", at(time.Duration(i)*time.Millisecond))
			ok, err := s.EnqueueDelivery(ctx, d)
			if err != nil {
				errs <- fmt.Errorf("enqueue %d: %w", i, err)
				return
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := wins.Load(); got != 1 {
		t.Fatalf("%d of 20 concurrent enqueues inserted, want exactly 1", got)
	}
}
