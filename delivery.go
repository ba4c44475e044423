package greenlight

import "time"

// DeliveryStatus says where a webhook delivery is in the inbox.
type DeliveryStatus string

const (
	DeliveryQueued  DeliveryStatus = "queued"  // acknowledged, not processed yet
	DeliveryStarted DeliveryStatus = "started" // started run RunID
	DeliveryIgnored DeliveryStatus = "ignored" // started nothing; Result says why
	DeliveryFailed  DeliveryStatus = "failed"  // could not be processed; Result says why
)

// Delivery is a webhook delivery kept in the inbox: acknowledged as soon as
// it is verified and stored, then processed in order by the orchestrator.
// Deliveries are kept (and their ids remembered, for de-duplication) for
// eight days.
type Delivery struct {
	ID         int64  `json:"id"` // the inbox's order
	Pipeline   string `json:"pipeline"`
	DeliveryID string `json:"delivery"` // the forge's id, or one made up when it sent none
	Forge      string `json:"forge"`
	Event      string `json:"event"` // push, tag, pull_request, ping
	Ref        string `json:"ref"`
	Commit     string `json:"commit"`
	// Payload is the parsed event (a webhook.Push) as JSON, what the
	// orchestrator processes; the raw body is not kept.
	Payload    string         `json:"-"`
	Status     DeliveryStatus `json:"status"`
	RunID      int64          `json:"run,omitempty"`
	Result     string         `json:"result"` // why it was ignored or failed; the last error while queued
	Attempts   int            `json:"attempts"`
	ReceivedAt time.Time      `json:"received_at"`
	DoneAt     *time.Time     `json:"done_at"`
}
