package greenlight

import "time"

// Mail is one message in the mail table: sent through SMTP when configured,
// otherwise kept as the outbox. Key makes enqueueing idempotent, so a
// subscriber that handles an event twice still sends one mail; an empty Key
// is never de-duplicated.
type Mail struct {
	ID          int64      `json:"-"`
	Key         string     `json:"-"`
	To          []string   `json:"to"`
	Subject     string     `json:"subject"`
	Text        string     `json:"text"`
	HTML        string     `json:"html"`
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at"`
	Attempts    int        `json:"attempts"`
	NextAttempt time.Time  `json:"-"`
	LastError   string     `json:"last_error,omitempty"`
}
