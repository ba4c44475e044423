package notify_test

import (
	"fmt"
	"testing"

	"github.com/greenlight-cd/greenlight"
)

// BenchmarkApprovalOpened measures handling one approval.opened event with
// two approvers on SQLite: two mails and two tokens in one transaction.
func BenchmarkApprovalOpened(b *testing.B) {
	e := newEnv(b)
	var events []greenlight.Event
	for range b.N {
		r := e.run(commit())
		a := e.approval(r, "pm@example.com", "cto@example.com")
		events = append(events, e.event(greenlight.EventApprovalOpened, r.ID, greenlight.ApprovalOpened{ApprovalID: a.ID}))
	}
	b.ResetTimer()
	for i := range b.N {
		if err := e.n.Handle(b.Context(), events[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDrainIgnoredEvents measures how fast the notifier walks past the
// events it does not mail about (most of the log).
func BenchmarkDrainIgnoredEvents(b *testing.B) {
	e := newEnv(b)
	r := e.run(commit())
	for range b.N {
		e.event(greenlight.EventStageStarted, r.ID, map[string]string{"stage": "build"})
	}
	b.ResetTimer()
	if err := e.n.Drain(b.Context()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDispatch measures queue → SMTP → marked sent through a real SMTP
// server on loopback, concurrency included.
func BenchmarkDispatch(b *testing.B) {
	e := newEnv(b)
	for i := range b.N {
		e.queue(fmt.Sprintf("bench:%d", i))
	}
	b.ResetTimer()
	e.sendDue()
	e.smtp.WaitFor(b, b.N, 60e9)
}
