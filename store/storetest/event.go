package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/greenlight-cd/greenlight"
)

func testEvents(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	got, err := s.Events(ctx, 0, 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("empty log: got %d events, want 0", len(got))
	}
	data, _ := json.Marshal(greenlight.RunFinished{Status: greenlight.RunFailed, Error: "boom"})
	var want []greenlight.Event
	for i, typ := range []greenlight.EventType{greenlight.EventRunCreated, greenlight.EventStageStarted, greenlight.EventRunFinished} {
		e := greenlight.Event{Pipeline: "hello", RunID: 7, Type: typ, CreatedAt: at(time.Duration(i) * time.Second)}
		if typ == greenlight.EventRunFinished {
			e.Data = data
		}
		must(t, s.AppendEvent(ctx, &e))
		if len(want) > 0 && e.Seq <= want[len(want)-1].Seq {
			t.Fatalf("got seq %d after %d, want increasing", e.Seq, want[len(want)-1].Seq)
		}
		want = append(want, e)
	}
	got, err = s.Events(ctx, 0, 10)
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3", len(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Pipeline != w.Pipeline || g.RunID != w.RunID || g.Type != w.Type ||
			string(g.Data) != string(w.Data) || g.CreatedAt != w.CreatedAt {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if got[0].Data != nil {
		t.Errorf("event without data: got data %q, want nil", got[0].Data)
	}

	after, err := s.Events(ctx, want[0].Seq, 1)
	must(t, err)
	if len(after) != 1 || after[0].Seq != want[1].Seq {
		t.Errorf("after %d limit 1: got %+v, want only seq %d", want[0].Seq, after, want[1].Seq)
	}
	none, err := s.Events(ctx, want[2].Seq, 10)
	must(t, err)
	if len(none) != 0 {
		t.Errorf("after the last: got %d events, want 0", len(none))
	}
}

// testEventsConcurrent appends from many goroutines, some inside slow
// transactions, while a subscriber follows the log with a cursor: it must see
// every event exactly once, in order, and the log must have no gaps. (In
// PostgreSQL, ids taken by concurrent transactions can commit out of order;
// a subscriber that read Seq > cursor could then skip one.)
func testEventsConcurrent(t *testing.T, s greenlight.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const writers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := &greenlight.Event{Pipeline: fmt.Sprintf("p%d", w), RunID: int64(i), Type: greenlight.EventStageStarted, CreatedAt: at(0)}
				var err error
				if i%2 == 0 {
					err = s.AppendEvent(ctx, e)
				} else {
					// Hold the transaction open after taking a seq, so a
					// later seq can try to commit first.
					err = s.InTx(ctx, func(tx greenlight.Tx) error {
						if err := tx.AppendEvent(ctx, e); err != nil {
							return err
						}
						time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
						return nil
					})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var seen []int64
	var cursor int64
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		evs, err := s.Events(ctx, cursor, 7)
		must(t, err)
		for _, e := range evs {
			if e.Seq <= cursor {
				t.Fatalf("got seq %d after cursor %d", e.Seq, cursor)
			}
			seen = append(seen, e.Seq)
			cursor = e.Seq
		}
		// Once the writers are done, one read that finds nothing means the
		// subscriber has caught up.
		if finished && len(evs) == 0 {
			break
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, 0, 10*writers*each)
	must(t, err)
	if len(all) != writers*each {
		t.Fatalf("got %d events, want %d", len(all), writers*each)
	}
	for i := range all {
		if i > 0 && all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("gap: seq %d follows %d", all[i].Seq, all[i-1].Seq)
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("the subscriber saw %d events of %d: it skipped some", len(seen), len(all))
	}
	for i := range all {
		if seen[i] != all[i].Seq {
			t.Fatalf("subscriber's event %d: got seq %d, want %d", i, seen[i], all[i].Seq)
		}
	}
}

func testCursor(t *testing.T, s greenlight.Store) {
	ctx := context.Background()
	got, err := s.Cursor(ctx, "mailer")
	must(t, err)
	if got != 0 {
		t.Fatalf("new subscriber: got cursor %d, want 0", got)
	}
	must(t, s.SetCursor(ctx, "mailer", 5))
	must(t, s.SetCursor(ctx, "hooks", 2))
	must(t, s.SetCursor(ctx, "mailer", 9))
	for sub, want := range map[string]int64{"mailer": 9, "hooks": 2} {
		got, err := s.Cursor(ctx, sub)
		must(t, err)
		if got != want {
			t.Errorf("cursor of %s: got %d, want %d", sub, got, want)
		}
	}
}
