package greenlight

import "time"

// Notification types: where a server-level notification posts (greenlight.yml
// `notifications[].type`).
const (
	NotifySlack   = "slack"   // a Slack incoming webhook
	NotifyTeams   = "teams"   // a Microsoft Teams incoming webhook (Workflows)
	NotifyWebhook = "webhook" // a signed JSON POST to any receiver
)

// Notification event names: what a notification's `events:` lists and what
// the X-Greenlight-Event header and a webhook body's "event" say. They are
// the public names of the event log's changes; package notify maps the log
// onto them.
const (
	NoticeRunStarted        = "run.started"    // a run was created (queued or started at once)
	NoticeRunSucceeded      = "run.succeeded"  // the run finished with every stage passed
	NoticeRunFailed         = "run.failed"     // a build or deploy failed
	NoticeRunRejected       = "run.rejected"   // an approver rejected it
	NoticeRunExpired        = "run.expired"    // nobody decided before the deadline
	NoticeRunCancelled      = "run.cancelled"  // cancelled by a person or token
	NoticeRunSuperseded     = "run.superseded" // a newer run took its place
	NoticeStageStarted      = "stage.started"
	NoticeStageFinished     = "stage.finished"
	NoticeApprovalRequested = "approval.requested" // an approval stage opened: approvers were asked
	NoticeApprovalDecided   = "approval.decided"   // an approver decided (the gate may still be open)
	NoticeApprovalRevoked   = "approval.revoked"   // the run was superseded or cancelled while waiting
	NoticeReleaseLive       = "release.live"
	NoticeReleaseRolledBack = "release.rolled-back"
	NoticeReleaseFailed     = "release.failed"
)

// NotificationEvents lists every notification event name, in the order the
// README documents them.
var NotificationEvents = []string{
	NoticeRunStarted, NoticeRunSucceeded, NoticeRunFailed, NoticeRunRejected, NoticeRunExpired,
	NoticeRunCancelled, NoticeRunSuperseded, NoticeStageStarted, NoticeStageFinished,
	NoticeApprovalRequested, NoticeApprovalDecided, NoticeApprovalRevoked,
	NoticeReleaseLive, NoticeReleaseRolledBack, NoticeReleaseFailed,
}

// IsNotificationEvent reports whether name is one of NotificationEvents.
func IsNotificationEvent(name string) bool {
	for _, e := range NotificationEvents {
		if e == name {
			return true
		}
	}
	return false
}

// NoticeStatus says where a notification delivery is.
type NoticeStatus string

const (
	NoticePending   NoticeStatus = "pending"   // not delivered yet; NextAttempt says when it is tried
	NoticeDelivered NoticeStatus = "delivered" // the receiver answered 2xx
	NoticeDropped   NoticeStatus = "dropped"   // given up on; LastError says why
)

// Notice is one event on its way to one configured notification: a row of
// the notification outbox. Body is made once, when the event is handled, so
// every attempt posts the same bytes under the same DeliveryID (and, for a
// webhook, the same signature).
type Notice struct {
	ID           int64        `json:"id"` // the outbox's order: event order within a pipeline
	Notification string       `json:"notification"`
	Type         string       `json:"type"` // slack, teams or webhook
	Pipeline     string       `json:"pipeline"`
	RunID        int64        `json:"run"`
	Seq          int64        `json:"seq"` // the event log entry it came from
	Event        string       `json:"event"`
	DeliveryID   string       `json:"delivery"` // unique, the same on every attempt
	Body         string       `json:"-"`
	Status       NoticeStatus `json:"status"`
	Attempts     int          `json:"attempts"`
	NextAttempt  time.Time    `json:"next_attempt"`
	LastError    string       `json:"last_error"`
	CreatedAt    time.Time    `json:"created_at"`
	DoneAt       *time.Time   `json:"done_at"`
}
